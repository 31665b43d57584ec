package org.nativepool;

import java.util.Arrays;

/**
 * One thread's cache of free blocks of one size class of one pool, found and
 * created by {@link ThreadCaches}: the transparent twin of {@link BlockCache}.
 * An allocation hit is an array pop and the store of a tombstone; a free hit
 * an array push and a probe of two hash tables, the pool's issued set (only
 * read) and this cache's parked set (its own). The cache reaches the pool
 * with one batch call to refill half its capacity when empty or drain its
 * older half when full.
 *
 * <p>Only the owner thread touches a cache, except {@link ThreadCaches}, which
 * reads {@link #parked()} for stats and empties the cache once its owner has
 * ended (the end of a thread happens-before another thread sees it not
 * alive).
 *
 * <p>A free is parked only when it cannot be a double or foreign free this
 * cache could hand out again: {@link ThreadCaches#free} hands it the blocks
 * the pool's {@link IssuedBlocks} lists with this cache's class (the pool's
 * checked free decides the others), and a block parked here already is
 * refused ({@link DoubleFreeException}).
 */
final class ThreadCache {
    private final Thread owner;
    private final Pool pool;
    private final ThreadCaches caches;
    /** The class of the blocks, and their bytes: what the cache asks the pool for. */
    private final int cls;
    private final long blockBytes;
    private final long[] blocks;
    /** Where drain() puts the blocks leaving, so that draining allocates nothing. */
    private final long[] leaving;
    /**
     * The parked addresses again, as an open-addressing set, to refuse a second
     * free at once; {@code slotOf[i]} is the slot of {@code blocks[i]}, so an
     * allocation unlists its block with one store of a tombstone.
     */
    private final long[] parkedSet;
    private final int[] slotOf;
    private final int parkedShift;
    private int tombstones;
    private int count;

    ThreadCache(Pool pool, ThreadCaches caches, Thread owner, int cls, int capacity) {
        this.owner = owner;
        this.pool = pool;
        this.caches = caches;
        this.cls = cls;
        this.blockBytes = caches.classes.bytes(cls);
        this.blocks = new long[capacity];
        this.leaving = new long[capacity];
        this.slotOf = new int[capacity];
        // At most a quarter full of entries and another of tombstones, so probes stay short.
        this.parkedSet = new long[Integer.highestOneBit(capacity - 1) << 3];
        this.parkedShift = IssuedBlocks.shiftFor(parkedSet.length);
    }

    long allocate() {
        if (count == 0 || pool.isClosed()) {
            return refillThenAllocate();
        }
        parkedSet[slotOf[--count]] = IssuedBlocks.REMOVED;
        if (++tombstones > blocks.length) {
            relist();
        }
        return blocks[count];
    }

    /** Parks a block that the pool's issued set lists with this cache's class. */
    void free(long address) {
        int slot;
        if (count == blocks.length || pool.isClosed() || (slot = park(address)) < 0) {
            freeSlow(address);
            return;
        }
        slotOf[count] = slot;
        blocks[count++] = address;
    }

    /** {@return the blocks parked now} Read by other threads for stats: a plain read, maybe a little stale. */
    int parked() {
        return count;
    }

    /** Returns every parked block to the pool; by the owner, or by anyone once the owner has ended. */
    void flush() {
        if (count > 0 && !pool.isClosed()) {
            drain(count);
        }
    }

    private long refillThenAllocate() {
        checkOpen();
        int n = caches.refillSize(blockBytes);
        if (n > 1) {
            try {
                pool.allocateRaw(blockBytes, 0, blocks, n);
            } catch (OutOfPoolMemoryException fragmented) {
                n = 1; // a variable pool's free bytes may lie in pieces too small for the batch
            }
        }
        if (n == 1) {
            long address = pool.allocateRaw(blockBytes, 0);
            leaving[0] = address;
            caches.issued.addAll(leaving, 1, cls);
            return address;
        }
        caches.issued.addAll(blocks, n, cls);
        count = n - 1;
        relist();
        return blocks[n - 1];
    }

    private void freeSlow(long address) {
        checkOpen();
        if (isParked(address)) {
            throw new DoubleFreeException("0x" + Long.toHexString(address) + " is already free: parked in the thread"
                    + " cache of " + owner.getName() + " for " + pool);
        }
        drain(blocks.length / 2);
        slotOf[count] = park(address);
        blocks[count++] = address;
    }

    /**
     * Frees the oldest {@code n} parked blocks. The count drops first, so stats
     * never see more parked blocks than the pool has handed out; even if the
     * pool refuses one of them, all {@code n} leave the cache.
     */
    private void drain(int n) {
        System.arraycopy(blocks, 0, leaving, 0, n);
        System.arraycopy(blocks, n, blocks, 0, count - n);
        count -= n;
        relist();
        pool.free(leaving, n);
    }

    private void checkOpen() {
        if (pool.isClosed()) {
            throw new PoolClosedException(pool + " is closed");
        }
    }

    /** Lists the address as parked and returns its slot; -1 if it is parked already. */
    private int park(long address) {
        int mask = parkedSet.length - 1;
        int reusable = -1;
        for (int i = IssuedBlocks.indexOf(address, parkedShift);; i = (i + 1) & mask) {
            long entry = parkedSet[i];
            if (entry == address) {
                return -1;
            }
            if (entry == IssuedBlocks.EMPTY) {
                if (reusable < 0) {
                    reusable = i;
                } else {
                    tombstones--;
                }
                parkedSet[reusable] = address;
                return reusable;
            }
            if (entry == IssuedBlocks.REMOVED && reusable < 0) {
                reusable = i;
            }
        }
    }

    private boolean isParked(long address) {
        int mask = parkedSet.length - 1;
        for (int i = IssuedBlocks.indexOf(address, parkedShift); parkedSet[i] != IssuedBlocks.EMPTY;
                i = (i + 1) & mask) {
            if (parkedSet[i] == address) {
                return true;
            }
        }
        return false;
    }

    /** Rebuilds the parked set from {@code blocks[0..count)}, without tombstones. */
    private void relist() {
        Arrays.fill(parkedSet, IssuedBlocks.EMPTY);
        tombstones = 0;
        for (int i = 0; i < count; i++) {
            slotOf[i] = park(blocks[i]);
        }
    }
}
