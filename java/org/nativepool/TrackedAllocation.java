package org.nativepool;

import org.nativepool.internal.LeakTracker;

/**
 * A raw allocation registered with the leak detector by
 * {@link Pool#trackAllocation(Object, long, long)}. Close it when the block is
 * freed; the detector then forgets it.
 */
public final class TrackedAllocation implements AutoCloseable {
    /** What every registration the leak detection level skips gets: nothing to allocate per call. */
    static final TrackedAllocation UNTRACKED = new TrackedAllocation(null);

    /** Null when the pool's leak detection level did not select this allocation. */
    private final LeakTracker tracker;

    TrackedAllocation(LeakTracker tracker) {
        this.tracker = tracker;
    }

    /** {@return whether the leak detector watches this allocation} False when its level skipped it. */
    public boolean isTracked() {
        return tracker != null;
    }

    /** {@return the stack that registered the allocation, or null when it is not tracked} */
    public Throwable allocationStack() {
        return tracker == null ? null : tracker.allocationStack();
    }

    /** Unregisters the allocation: it is no leak from now on. A second call does nothing. */
    @Override
    public void close() {
        if (tracker != null) {
            tracker.close();
        }
    }
}
