package org.nativepool.bench;

import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.infra.Control;

/**
 * A single-producer single-consumer ring that hands blocks from one thread
 * to another: an address, and the object that owns it for allocators whose
 * blocks are objects. Both sides spin while the ring is full or empty, and
 * give up once JMH ends the iteration, so neither waits for a partner that
 * has stopped.
 */
final class Handoff {
    private final int slots;
    private final long[] addresses;
    private final Object[] owners;
    /** Next slot to fill, next to empty; each written by one side only. */
    private final AtomicLong head = new AtomicLong();
    private final AtomicLong tail = new AtomicLong();

    /** @param slots the ring's length, a power of two */
    Handoff(int slots) {
        this.slots = slots;
        this.addresses = new long[slots];
        this.owners = new Object[slots];
    }

    /** {@return false if the iteration ended before there was room} */
    boolean put(long address, Object owner, Control control) {
        long h = head.get();
        while (h - tail.get() == slots) {
            if (control.stopMeasurement) {
                return false;
            }
            Thread.onSpinWait();
        }
        int slot = (int) (h & (slots - 1));
        addresses[slot] = address;
        owners[slot] = owner;
        head.lazySet(h + 1);
        return true;
    }

    /** {@return the slot of the next block, or -1 if the iteration ended before one came} */
    int take(Control control) {
        while (isEmpty()) {
            if (control.stopMeasurement) {
                return -1;
            }
            Thread.onSpinWait();
        }
        return next();
    }

    boolean isEmpty() {
        return head.get() == tail.get();
    }

    /** The slot of the next block; the ring must not be empty. */
    int next() {
        return (int) (tail.get() & (slots - 1));
    }

    long address(int slot) {
        return addresses[slot];
    }

    Object owner(int slot) {
        Object owner = owners[slot];
        owners[slot] = null;
        return owner;
    }

    /** Marks the slot {@link #take} returned as empty again. */
    void done() {
        tail.lazySet(tail.get() + 1);
    }
}
