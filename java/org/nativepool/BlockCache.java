package org.nativepool;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.nativepool.internal.CacheNative;

/**
 * An explicit cache of free blocks of one {@link FixedPool}, owned by one
 * thread (a "magazine"). The pool's own {@link FixedPool#allocateAddress()}
 * and {@link FixedPool#free(long)} already go through a transparent cache per
 * thread; a BlockCache is for callers who want control instead: a capacity
 * of their own per call site, blocks returned at a moment they choose
 * ({@link #close()}), and no lookup of the calling thread's cache, which make it
 * faster than the transparent path. {@link #allocate()} and {@link #free(long)} are array
 * operations, and the cache refills from, or drains half of itself to, the
 * pool with one batch native call. An allocation + free pair therefore costs
 * less than a single JNI call, and a native call happens only once every
 * {@code capacity / 2} operations in the worst case.
 *
 * <p>Accounting stays exact: the cache publishes how many blocks it holds to
 * a native counter, and {@link Pool#stats()} reports them as
 * {@link PoolStats#cachedBlocks()}, not as live blocks, so closing a pool with
 * blocks parked in caches reports no leak for them.
 *
 * <p>Every method must be called on the thread that created the cache
 * (otherwise {@link IllegalStateException}). A block may be freed into any
 * cache of its pool, or with {@link Pool#free(long)}, whichever thread
 * allocated it; the pool must then be {@link ThreadSafety#MUTEX} or
 * {@link ThreadSafety#LOCK_FREE}.
 *
 * <p>Every free is checked as {@link Pool#free(long)} checks it: the blocks
 * that any cache of the pool handed out are listed with a state word, and
 * {@link #free(long)} parks only a block listed as in a user's hands, moving
 * it to parked with one CAS. A second free of a parked block, into this
 * cache, another cache or the pool, on any thread, throws
 * {@link DoubleFreeException} at once; an address no cache handed out goes
 * to the pool's checked free (a block of the pool is freed there, anything
 * else refused). So a cache never parks a bad address, never hands a block
 * out twice, and its drains cannot fail.
 *
 * <p>{@link #close()} returns every parked block to the pool. Closing the pool
 * first releases parked blocks with the rest of its memory; the cache then
 * throws {@link PoolClosedException} and its close only frees its counter.
 */
public final class BlockCache implements AutoCloseable {
    /**
     * The largest capacity: past a few hundred blocks a cache saves no measurable time, and
     * its two arrays (16 bytes per block) live on the Java heap.
     */
    public static final int MAX_CAPACITY = 1 << 16;

    private final FixedPool pool;
    private final Thread owner = Thread.currentThread();
    private final IssuedBlocks issued;
    private final long[] blocks;
    /** The cell of each parked block in the pool's issued set, beside it. */
    private final int[] cells;
    /** Where drain() puts the blocks leaving, and their cells, so that draining allocates nothing. */
    private final long[] leaving;
    private final int[] leavingCells;
    private final int batch;
    /** The native counter of parked blocks, which stats() reads. */
    private final long slot;
    private final ByteBuffer parked;
    private int count;
    private boolean closed;

    BlockCache(FixedPool pool, int capacity) {
        if (capacity < 2 || capacity > MAX_CAPACITY) {
            throw new InvalidArgumentException("a block cache's capacity must be from 2 to " + MAX_CAPACITY + ", not "
                    + capacity);
        }
        this.pool = pool;
        this.issued = pool.issued;
        this.blocks = new long[capacity];
        this.cells = new int[capacity];
        this.leaving = new long[capacity];
        this.leavingCells = new int[capacity];
        this.batch = capacity / 2;
        long handle = pool.acquire();
        try {
            this.slot = CacheNative.open(handle);
        } finally {
            pool.release();
        }
        this.parked = CacheNative.counter(slot).order(ByteOrder.nativeOrder());
    }

    /**
     * A block of the pool's block size; refills the cache with one native call
     * when it is empty.
     *
     * @return the block's address
     * @throws PoolClosedException if the cache or its pool is closed
     * @throws OutOfPoolMemoryException if the cache is empty and the pool cannot supply a batch
     */
    public long allocate() {
        checkUsable();
        if (count == 0) {
            refill();
        }
        long address = blocks[--count];
        issued.unpark(cells[count], address, 0L);
        parked.putLong(0, count);
        return address;
    }

    private void refill() {
        pool.allocateRaw(pool.blockSize, 0, blocks, batch);
        issued.addParked(blocks, batch, 0, cells);
        count = batch;
    }

    /**
     * Parks a block of this cache's pool for reuse; drains half the cache to the
     * pool with one native call when it is full. A block that no cache of the
     * pool handed out (one of a handle or a batch) goes to the pool's checked
     * free instead.
     *
     * @param address a block of this cache's pool, from this cache, another cache of the
     *     pool or the pool itself
     * @throws PoolClosedException if the cache or its pool is closed
     * @throws DoubleFreeException if the block is already free: parked in a cache (this one,
     *     another, or a thread cache) or held free by the pool
     * @throws InvalidFreeException for 0, an address off the pool's alignment, one that is
     *     no block of the pool, or the block of an open {@link MemoryBlock} (close the handle)
     */
    public void free(long address) {
        checkUsable();
        long found = issued.find(address); // never finds 0 or an address off the alignment
        int cell;
        if (count == blocks.length || found == IssuedBlocks.NOT_LISTED
                || !issued.park(cell = IssuedBlocks.cellOf(found), address, 0L)) {
            freeSlow(address);
            return;
        }
        cells[count] = cell;
        blocks[count++] = address;
        parked.putLong(0, count);
    }

    /** A free that did not park at once: a full cache, an unlisted address, or a cell that was not in hands. */
    private void freeSlow(long address) {
        if (address == 0 || (address & (pool.alignment - 1)) != 0) {
            throw new InvalidFreeException("0x" + Long.toHexString(address) + " is not a block of " + pool
                    + " (blocks are aligned to " + pool.alignment + ")");
        }
        long found = issued.find(address);
        if (found == IssuedBlocks.NOT_LISTED) {
            pool.free(address); // a block of a handle or a batch, or a bad address: the pool decides
            return;
        }
        int cell = IssuedBlocks.cellOf(found);
        if (issued.isParked(cell, address)) {
            throw ThreadCaches.doubleFree(pool, address);
        }
        if (issued.isOwned(cell, address)) {
            throw ThreadCaches.ownedByHandle(pool, address);
        }
        if (count == blocks.length) {
            drain(batch);
        }
        free(address); // in hands, or gone from the issued set meanwhile: try again
    }

    /** {@return the number of blocks parked in this cache now} */
    public int size() {
        return count;
    }

    /**
     * {@return the most blocks this cache parks: the capacity given to
     * {@link FixedPool#newCache(int)}}
     */
    public int capacity() {
        return blocks.length;
    }

    /** {@return the pool whose blocks this cache parks} */
    public FixedPool pool() {
        return pool;
    }

    /**
     * Returns every parked block to the pool, unless the pool is already
     * closed, and frees the cache's native counter. Idempotent.
     */
    @Override
    public void close() {
        checkOwner();
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (count > 0 && !pool.isClosed()) {
                drain(count);
            }
        } finally {
            CacheNative.close(slot);
        }
    }

    /**
     * Frees the oldest {@code n} parked blocks. The counter drops first, so
     * stats never see more parked blocks than the pool has handed out. Only
     * blocks the issued set vouched for are parked, so the pool refuses none.
     */
    private void drain(int n) {
        System.arraycopy(blocks, 0, leaving, 0, n);
        System.arraycopy(cells, 0, leavingCells, 0, n);
        System.arraycopy(blocks, n, blocks, 0, count - n);
        System.arraycopy(cells, n, cells, 0, count - n);
        count -= n;
        parked.putLong(0, count);
        issued.removeParked(leaving, leavingCells, n);
        pool.freeToPool(leaving, n);
    }

    private void checkUsable() {
        checkOwner();
        if (closed || pool.isClosed()) {
            throw new PoolClosedException(this + " is closed");
        }
    }

    private void checkOwner() {
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException(this + " belongs to thread " + owner.getName()
                    + "; a block cache may only be used by the thread that created it");
        }
    }

    @Override
    public String toString() {
        return "BlockCache[" + pool.name() + ", " + count + "/" + blocks.length + " parked]";
    }
}
