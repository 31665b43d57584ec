package org.nativepool;

/**
 * One thread's cache of free blocks of one {@link FixedPool}, found and
 * created by {@link ThreadCaches}: the transparent twin of {@link BlockCache}.
 * A hit is a Java array pop or push plus a probe of two hash tables read by
 * this thread alone or only read by all; the cache reaches the pool with one
 * batch call to refill half its capacity when empty or drain its older half
 * when full.
 *
 * <p>Only the owner thread touches a cache, except {@link ThreadCaches}, which
 * reads {@link #parked()} for stats and empties the cache once its owner has
 * ended (the end of a thread happens-before another thread sees it not
 * alive).
 *
 * <p>A free is parked only when it cannot be a double or foreign free this
 * cache could hand out again: the address must be listed in the pool's
 * {@link IssuedBlocks} (else the pool's checked free decides), and not be
 * parked here already ({@link DoubleFreeException}).
 */
final class ThreadCache {
    final Thread owner;
    private final FixedPool pool;
    private final ThreadCaches caches;
    private final long[] blocks;
    /** Where drain() puts the blocks leaving, so that draining allocates nothing. */
    private final long[] leaving;
    /** The parked addresses again, as an open-addressing set (0 = empty), to refuse a second free at once. */
    private final long[] parkedSet;
    private int count;

    ThreadCache(FixedPool pool, ThreadCaches caches, Thread owner, int capacity) {
        this.owner = owner;
        this.pool = pool;
        this.caches = caches;
        this.blocks = new long[capacity];
        this.leaving = new long[capacity];
        this.parkedSet = new long[Integer.highestOneBit(capacity) * 4];
    }

    long allocate() {
        if (count == 0 || pool.isClosed()) {
            return refillThenAllocate();
        }
        long address = blocks[--count];
        unpark(address);
        return address;
    }

    void free(long address) {
        if (count == blocks.length || pool.isClosed() || !caches.issued.contains(address) || !park(address)) {
            freeSlow(address);
            return;
        }
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
        int n = caches.refillSize();
        if (n == 1) {
            long address = pool.allocateRaw(pool.blockSize, 0);
            leaving[0] = address;
            caches.issued.addAll(leaving, 1);
            return address;
        }
        pool.allocateRaw(pool.blockSize, 0, blocks, n);
        caches.issued.addAll(blocks, n);
        for (int i = 0; i < n - 1; i++) {
            park(blocks[i]);
        }
        count = n - 1;
        return blocks[n - 1];
    }

    private void freeSlow(long address) {
        checkOpen();
        if (!caches.issued.contains(address)) {
            pool.freeToPool(address); // no cache took it from the pool: the pool checks it, and refuses or frees it
            return;
        }
        if (isParked(address)) {
            throw new DoubleFreeException("0x" + Long.toHexString(address) + " is already free: parked in the thread"
                    + " cache of " + owner.getName() + " for " + pool);
        }
        drain(blocks.length / 2);
        park(address);
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
        for (int i = 0; i < n; i++) {
            unpark(leaving[i]);
        }
        pool.free(leaving, n);
    }

    private void checkOpen() {
        if (pool.isClosed()) {
            throw new PoolClosedException(pool + " is closed");
        }
    }

    /** Adds the address to the parked set; false if it is there already. */
    private boolean park(long address) {
        int mask = parkedSet.length - 1;
        int i = IssuedBlocks.indexOf(address, mask);
        for (long entry; (entry = parkedSet[i]) != 0L; i = (i + 1) & mask) {
            if (entry == address) {
                return false;
            }
        }
        parkedSet[i] = address;
        return true;
    }

    private boolean isParked(long address) {
        int mask = parkedSet.length - 1;
        for (int i = IssuedBlocks.indexOf(address, mask); parkedSet[i] != 0L; i = (i + 1) & mask) {
            if (parkedSet[i] == address) {
                return true;
            }
        }
        return false;
    }

    /** Removes a parked address, shifting later entries of its run back so that no probe stops early. */
    private void unpark(long address) {
        int mask = parkedSet.length - 1;
        int hole = IssuedBlocks.indexOf(address, mask);
        while (parkedSet[hole] != address) {
            hole = (hole + 1) & mask;
        }
        for (int i = (hole + 1) & mask; parkedSet[i] != 0L; i = (i + 1) & mask) {
            int home = IssuedBlocks.indexOf(parkedSet[i], mask);
            // The entry at i may fill the hole unless its home lies cyclically in (hole, i].
            if (((i - home) & mask) >= ((i - hole) & mask)) {
                parkedSet[hole] = parkedSet[i];
                hole = i;
            }
        }
        parkedSet[hole] = 0L;
    }
}
