package org.nativepool.internal;

/**
 * Not API. The leak detector's record of one tracked handle, made by
 * {@link org.nativepool.LeakDetector#track}; it holds no reference to the
 * handle itself.
 */
public interface LeakTracker {
    /**
     * The handle was closed, or its owner was: nothing to report, and the
     * detector forgets it. Idempotent.
     */
    void close();

    /** Where the handle was allocated. */
    Throwable allocationStack();
}
