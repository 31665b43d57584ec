package org.nativepool;

/** Optional capabilities of the native library. */
public enum Feature {
    /** CUDA device and pinned-host pools: compiled in and at least one device present. */
    CUDA,
    /**
     * NUMA backends, node-local pools and placement queries through libnuma,
     * which is opened at run time: usable where {@code libnuma.so.1} loads and
     * the kernel accepts the NUMA system calls.
     */
    NUMA,
    /**
     * {@link PersistentPool}s: crash-consistent heaps in files, with cache
     * flushes on DAX file systems and msync elsewhere; no library needed.
     */
    PERSISTENT,
    /** Valgrind memcheck client requests in the pools. */
    VALGRIND,
    /** Transparent huge pages for {@link Backend#hugePages()}. */
    HUGE_PAGES
}
