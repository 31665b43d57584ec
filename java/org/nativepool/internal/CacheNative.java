package org.nativepool.internal;

/**
 * JNI entry points of the thread caches (native/jni/jni_caches.cpp). Not API:
 * {@code org.nativepool.BlockCache} opens a slot while holding its pool's
 * in-flight guard, and closes it exactly once.
 */
public final class CacheNative {
    private CacheNative() {
    }

    /**
     * Registers a cache of the given fixed pool and returns the address of its
     * 8-byte slot, where the cache stores how many blocks it holds parked.
     */
    public static native long open(long pool);

    /** Frees a slot; the pool it counted for may already be destroyed. */
    public static native void close(long slot);
}
