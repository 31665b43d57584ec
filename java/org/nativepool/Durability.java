package org.nativepool;

/** How a {@link PersistentPool} makes its stores durable (docs/persistent.md). */
public enum Durability {
    /**
     * A DAX file mapped with {@code MAP_SYNC}: user-space cache flushes (CLWB,
     * else CLFLUSHOPT, else CLFLUSH, chosen by CPUID) and a fence; no page
     * cache and no system call.
     */
    CACHE_FLUSH,
    /** Any other file: {@code msync} of the pages an operation touched. */
    MSYNC;

    static Durability fromCode(int code) {
        return values()[code];
    }
}
