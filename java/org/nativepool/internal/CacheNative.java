package org.nativepool.internal;

import java.nio.ByteBuffer;

/**
 * JNI entry points of the thread caches (native/jni/jni_caches.cpp). Not API:
 * {@code org.nativepool.BlockCache} opens a slot while holding its pool's
 * in-flight guard, and closes it exactly once.
 */
public final class CacheNative {
    private CacheNative() {
    }

    /**
     * Registers a cache of the given fixed pool and returns its handle, a token
     * of the glue's handle table (as every handle here is).
     */
    public static native long open(long pool);

    /**
     * A direct buffer over the cache's 8-byte counter, where the cache stores
     * how many blocks it holds parked; valid until {@link #close}.
     */
    public static native ByteBuffer counter(long cache);

    /** Frees a cache's counter; the pool it counted for may already be destroyed. */
    public static native void close(long cache);
}
