package org.nativepool;

/** What a pool does when it is closed while blocks are still allocated. */
public enum LeakPolicy {
    /** Free everything silently. */
    IGNORE,
    /** Free everything and log a warning with the count and bytes (the default). */
    LOG,
    /** Free everything, then throw {@link PoolLeakException}. Good for tests. */
    THROW
}
