package org.nativepool.gpu;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.nativepool.InvalidArgumentException;
import org.nativepool.MemoryKind;
import org.nativepool.internal.GpuNative;

/**
 * A block of page-locked host memory: the CPU reads and writes it through
 * {@link #asByteBuffer()}, and GPUs copy from and to it by DMA, which makes
 * it the fast path for host-device transfers.
 */
public final class PinnedBuffer extends PooledBuffer implements GpuMemory {
    PinnedBuffer(DeviceManager manager, long address, long size, CudaStream stream) {
        super(manager, GpuNative.PINNED, address, size, stream);
    }

    /**
     * {@return a new direct buffer over the whole block, native byte order} A
     * direct buffer cannot be revoked, so its memory outlives it instead: a
     * buffer closed or freed while a view of it is reachable keeps its block
     * until the view is collected, and a manager closed meanwhile keeps its
     * memory until then; the view never reaches memory handed to someone else
     * and never crashes the JVM. Do not touch it while a copy into the block is
     * in flight.
     *
     * @throws org.nativepool.PoolClosedException if the buffer or its manager is closed
     * @throws InvalidArgumentException if the block is larger than a ByteBuffer can address
     */
    public ByteBuffer asByteBuffer() {
        long address = block.liveAddress();
        if (size() > Integer.MAX_VALUE) {
            throw new InvalidArgumentException("a block of " + size() + " bytes exceeds the 2 GiB limit of ByteBuffer");
        }
        ByteBuffer view;
        long handle = manager.guard.acquire();
        try {
            view = block.bind(GpuNative.wrapPinned(handle, address, size()).order(ByteOrder.nativeOrder()),
                    manager.views);
        } finally {
            manager.guard.release();
        }
        if (view == null) {
            block.liveAddress(); // closed meanwhile: throws
        }
        return view;
    }

    /**
     * {@return the host address of the first byte}
     *
     * @throws org.nativepool.PoolClosedException if the buffer or its manager is closed
     */
    public long address() {
        return block.liveAddress();
    }

    @Override
    public MemoryKind memoryKind() {
        return MemoryKind.PINNED_HOST;
    }

    @Override
    public int device() {
        return -1;
    }
}
