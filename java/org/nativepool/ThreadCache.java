package org.nativepool;

/**
 * One thread's cache of free blocks of one size class of one pool, found and
 * created by {@link ThreadCaches}: the transparent twin of {@link BlockCache}.
 * An allocation hit is an array pop and a plain store into the block's cell
 * of the pool's {@link IssuedBlocks}; a free hit a probe of the issued set,
 * one CAS on the block's cell and an array push. An empty cache refills
 * half its capacity from the class's {@link CacheDepot}, or else from the
 * pool with one batch call; a full one offers its older half to the depot,
 * or else frees it to the pool with one batch call. So a block freed on
 * another thread than the one that allocated it (a producer/consumer
 * pipeline) goes back to the allocating thread's cache through the depot,
 * 32 at a time by default, parked all along.
 *
 * <p>Only the owner thread touches a cache, except {@link ThreadCaches}, which
 * reads {@link #parked()} for stats and empties the cache once its owner has
 * ended (the end of a thread happens-before another thread sees it not
 * alive).
 *
 * <p>A free is parked only when the issued set lists the block in a user's
 * hands, and the CAS that parks it fails for a block parked already, in this
 * cache or any other: a double free is refused at once
 * ({@link DoubleFreeException}) whichever thread or path frees it. The CAS
 * names the hands it expects, raw or a {@link MemoryBlock}'s, so a raw free
 * of a handle's block fails it too ({@link InvalidFreeException}).
 */
final class ThreadCache {
    private final Thread owner;
    private final Pool pool;
    private final ThreadCaches caches;
    private final IssuedBlocks issued;
    private final CacheDepot depot;
    /** The class of the blocks, and their bytes: what the cache asks the pool for. */
    private final int cls;
    private final long blockBytes;
    private final long[] blocks;
    /** The cell of each parked block in the issued set, beside it. */
    private final int[] cells;
    /** Where drain() puts the blocks leaving, and their cells, so that draining allocates nothing. */
    private final long[] leaving;
    private final int[] leavingCells;
    private int count;

    ThreadCache(Pool pool, ThreadCaches caches, Thread owner, int cls, int capacity, CacheDepot depot) {
        this.owner = owner;
        this.pool = pool;
        this.caches = caches;
        this.issued = caches.issued;
        this.depot = depot;
        this.cls = cls;
        this.blockBytes = caches.classes.bytes(cls);
        this.blocks = new long[capacity];
        this.cells = new int[capacity];
        this.leaving = new long[capacity];
        this.leavingCells = new int[capacity];
    }

    /**
     * Hands out a parked block.
     *
     * @param owner 0 for a raw allocation, {@link IssuedBlocks#OWNED} for a {@link MemoryBlock}'s
     */
    long allocate(long owner) {
        if (count == 0 || pool.isClosed()) {
            return refillThenAllocate(owner);
        }
        long address = blocks[--count];
        issued.unpark(cells[count], address, owner);
        return address;
    }

    /**
     * Parks a block that the pool's issued set lists with this cache's class, in {@code cell}.
     *
     * @param owner the hands it must be in: 0 for a raw free, {@link IssuedBlocks#OWNED} for a
     *     handle's close
     */
    void free(long address, int cell, long owner) {
        if (count == blocks.length || pool.isClosed() || !issued.park(cell, address, owner)) {
            freeSlow(address, cell, owner);
            return;
        }
        cells[count] = cell;
        blocks[count++] = address;
    }

    /** {@return the blocks parked now} Read by other threads for stats: a plain read, maybe a little stale. */
    int parked() {
        return count;
    }

    /** Returns every parked block to the pool; by the owner, or by anyone once the owner has ended. */
    void flush() {
        if (count > 0 && !pool.isClosed()) {
            drain(count, false);
        }
    }

    private long refillThenAllocate(long owner) {
        checkOpen();
        int n = depot.take(blocks, cells) ? depot.half() : refill();
        count = n - 1;
        long address = blocks[count];
        issued.unpark(cells[count], address, owner);
        return address;
    }

    /** Takes blocks from the pool, lists them as parked, and {@return how many} */
    private int refill() {
        int n = caches.refillSize(blockBytes);
        if (n > 1) {
            try {
                pool.allocateRaw(blockBytes, 0, blocks, n);
            } catch (OutOfPoolMemoryException fragmented) {
                n = 1; // a variable pool's free bytes may lie in pieces too small for the batch
            }
        }
        if (n == 1) {
            blocks[0] = pool.allocateRaw(blockBytes, 0);
        }
        issued.addParked(blocks, n, cls, cells);
        return n;
    }

    private void freeSlow(long address, int cell, long owner) {
        checkOpen();
        if (count == blocks.length) {
            drain(depot.half(), true);
        }
        if (!issued.park(cell, address, owner)) {
            caches.refuseOrRetry(address, cell, owner);
            return;
        }
        cells[count] = cell;
        blocks[count++] = address;
    }

    /**
     * Moves the oldest {@code n} parked blocks out: when {@code toDepot} and
     * the depot has room, to it (a half; they stay parked), else to the pool.
     * The count drops first, so stats never count a block here and in the
     * depot, nor see more parked blocks than the pool has handed out. Only
     * blocks the issued set vouched for are ever parked, so the pool refuses
     * none.
     */
    private void drain(int n, boolean toDepot) {
        System.arraycopy(blocks, 0, leaving, 0, n);
        System.arraycopy(cells, 0, leavingCells, 0, n);
        System.arraycopy(blocks, n, blocks, 0, count - n);
        System.arraycopy(cells, n, cells, 0, count - n);
        count -= n;
        if (toDepot && depot.offer(leaving, leavingCells)) {
            return;
        }
        issued.removeParked(leaving, leavingCells, n);
        pool.freeToPool(leaving, n);
    }

    private void checkOpen() {
        if (pool.isClosed()) {
            throw new PoolClosedException(pool + " is closed");
        }
    }

    @Override
    public String toString() {
        return "the thread cache of " + owner.getName();
    }
}
