package org.nativepool;

import java.nio.ByteBuffer;
import org.nativepool.internal.PoolNative;

/**
 * Raw views of pool memory, as native code would hold them: no view guard
 * keeps their block reserved. How tests plant bugs and read stamps; the glue
 * still refuses any range outside the pool's memory.
 */
final class RawViews {
    private RawViews() {
    }

    /** {@return a buffer over {@code size} bytes at {@code address}, big-endian as wrap makes it} */
    static ByteBuffer of(Pool pool, long address, long size) {
        long handle = pool.acquire();
        try {
            return PoolNative.wrap(handle, address, size);
        } finally {
            pool.release();
        }
    }
}
