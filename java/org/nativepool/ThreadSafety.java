package org.nativepool;

/** How a pool synchronises concurrent callers; fixed when the pool is built. */
public enum ThreadSafety {
    /** One thread at a time. No synchronisation cost; concurrent use is undefined. */
    NONE,
    /** A mutex around each operation. Works for every pool type. */
    MUTEX,
    /** Compare-and-swap operations, no lock on the fast path. Fixed pools only. */
    LOCK_FREE;

    int code() {
        return ordinal();
    }
}
