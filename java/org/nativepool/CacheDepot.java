package org.nativepool;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The full halves that thread caches of one size class of one pool drained,
 * waiting for another cache's refill: the depot of the magazine allocators
 * (Bonwick and Adams), tcmalloc's transfer cache. A cache that is full
 * offers its older half here before it frees it to the pool, and a cache
 * that is empty takes a half from here before it asks the pool, so the
 * blocks of a producer/consumer pipeline go from the consumer's cache back
 * to the producer's with no native call, no lock and no write to the issued
 * set: their cells keep them parked all the way, so a free of one of them is
 * refused at once as a free of any parked block is.
 *
 * <p>{@link #SLOTS} slots of one half each, claimed with one CAS of the
 * slot's state: a cache writes or reads a slot's blocks only while it holds
 * the slot, and the release store that gives the slot up publishes them, so
 * the cache that takes a half becomes the only writer of its cells, as a
 * refill from the pool makes it. Slots are tried in turn; one held by
 * another thread is skipped, so no thread ever waits here.
 */
final class CacheDepot {
    /** Halves the depot holds at most: {@code 2 * capacity} blocks per class and pool. */
    static final int SLOTS = 4;
    private static final int EMPTY = 0;
    /** Held by one thread, which is filling or emptying the slot. */
    private static final int HELD = 1;
    private static final int FULL = 2;
    private static final VarHandle STATE = MethodHandles.arrayElementVarHandle(int[].class);

    /** The blocks of a half, and the whole depot's blocks and cells: slot {@code s} at {@code [s * half, ..)}. */
    private final int half;
    private final long[] blocks;
    private final int[] cells;
    private final int[] states = new int[SLOTS];

    /** @param half the blocks a full cache drains: half its capacity */
    CacheDepot(int half) {
        this.half = half;
        this.blocks = new long[SLOTS * half];
        this.cells = new int[SLOTS * half];
    }

    /** {@return the blocks of one half, all that {@link #offer} and {@link #take} move} */
    int half() {
        return half;
    }

    /** {@return whether a free slot took {@code from[0..half)} and their cells} The blocks stay parked. */
    boolean offer(long[] from, int[] fromCells) {
        for (int slot = 0; slot < SLOTS; slot++) {
            if ((int) STATE.getOpaque(states, slot) == EMPTY && STATE.compareAndSet(states, slot, EMPTY, HELD)) {
                System.arraycopy(from, 0, blocks, slot * half, half);
                System.arraycopy(fromCells, 0, cells, slot * half, half);
                STATE.setRelease(states, slot, FULL);
                return true;
            }
        }
        return false;
    }

    /** {@return whether a full slot gave its half to {@code to[0..half)}, with its cells} They are still parked. */
    boolean take(long[] to, int[] toCells) {
        for (int slot = 0; slot < SLOTS; slot++) {
            if ((int) STATE.getOpaque(states, slot) == FULL && STATE.compareAndSet(states, slot, FULL, HELD)) {
                System.arraycopy(blocks, slot * half, to, 0, half);
                System.arraycopy(cells, slot * half, toCells, 0, half);
                STATE.setRelease(states, slot, EMPTY);
                return true;
            }
        }
        return false;
    }

    /**
     * {@return the blocks in full slots now} A half being moved in or out counts
     * in its cache, or nowhere, never twice.
     */
    int parked() {
        int full = 0;
        for (int slot = 0; slot < SLOTS; slot++) {
            if ((int) STATE.getVolatile(states, slot) == FULL) {
                full++;
            }
        }
        return full * half;
    }

    /** Frees the blocks of the full slots to {@code pool}, unlisting them from {@code issued}; any thread. */
    void flush(Pool pool, IssuedBlocks issued) {
        if (parked() == 0) {
            return;
        }
        long[] leaving = new long[half];
        int[] leavingCells = new int[half];
        // At most one pass: halves that other threads offer meanwhile stay for their refills.
        for (int slot = 0; slot < SLOTS && take(leaving, leavingCells); slot++) {
            issued.removeParked(leaving, leavingCells, half);
            pool.freeToPool(leaving, half);
        }
    }
}
