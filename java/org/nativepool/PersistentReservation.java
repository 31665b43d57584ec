package org.nativepool;

import java.lang.ref.Reference;
import org.nativepool.internal.LeakTracker;

/**
 * A block from {@link PersistentPool#reserve(long)}, held in host memory
 * only: write it through {@link #block()}, then {@link #publishTo(int)} (or
 * {@link #publishInto}) records it and stores its offset in one atomic step,
 * after making its bytes durable. A crash before then leaves nothing behind;
 * closing an unpublished reservation gives the space back. One dropped
 * without either is, when its pool's {@link PersistentPool.Options#leakDetection
 * leak detection} selected it, cancelled and reported with the stack that
 * reserved it (see {@link LeakDetector}); a {@link #block()} handle kept past
 * that reaches free heap space.
 */
public final class PersistentReservation implements AutoCloseable {
    private final PersistentPool pool;
    private final PersistentBlock block;
    /** Null when the leak detector does not track this reservation. */
    private final LeakTracker leakTracker;
    private boolean pending = true;

    PersistentReservation(PersistentPool pool, PersistentBlock block) {
        this.pool = pool;
        this.block = block;
        this.leakTracker = pool.track(this, block);
    }

    /** {@return the reserved block, to write before publishing} */
    public PersistentBlock block() {
        return block;
    }

    /**
     * Publishes into root {@code index}, which must be empty.
     *
     * @param index the root, 0 to {@link PersistentPool#ROOTS} - 1
     * @return the published block
     */
    public PersistentBlock publishTo(int index) {
        return publish(PersistentPool.rootSlot(index));
    }

    /**
     * Publishes into the aligned 8-byte field at {@code fieldOffset} of {@code parent}, which must hold 0.
     *
     * @param parent a live block
     * @param fieldOffset offset of the field within it, a multiple of 8
     * @return the published block
     */
    public PersistentBlock publishInto(PersistentBlock parent, long fieldOffset) {
        return publish(PersistentPool.fieldSlot(parent, fieldOffset));
    }

    private PersistentBlock publish(long destination) {
        if (!pending) {
            throw new InvalidArgumentException("the reservation was already published or closed");
        }
        pool.publish(block, destination);
        pending = false;
        forget();
        return block;
    }

    /** Gives the space back unless published; later calls do nothing. */
    @Override
    public void close() {
        if (pending) {
            pending = false;
            pool.cancel(block);
            forget();
        }
    }

    /** Published or cancelled: no leak. The fence keeps this reachable until the heap has seen it settled. */
    private void forget() {
        if (leakTracker != null) {
            leakTracker.close();
        }
        Reference.reachabilityFence(this);
    }
}
