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
    /** Persistent-memory pools through libpmem. */
    PMEM,
    /** Valgrind memcheck client requests in the pools. */
    VALGRIND,
    /** Transparent huge pages for {@link Backend#hugePages()}. */
    HUGE_PAGES
}
