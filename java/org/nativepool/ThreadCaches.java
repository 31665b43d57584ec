package org.nativepool;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * The thread caches of one pool: finds the calling thread's
 * {@link ThreadCache} of a size class without a lock or a write, creates it
 * on first use, and gives back the blocks of caches whose threads have ended.
 *
 * <p>The lookup indexes a small table by the thread's id; a slot holding
 * another thread's caches (or none) sends the caller to {@link #register},
 * which keeps every thread's caches in a map by thread, places the caller's
 * in its slot (doubling the table on a collision between two live threads,
 * up to {@link #MAX_TABLE}), and sweeps: the caches of ended threads return
 * their blocks to the pool and are dropped. Sweeps run when the number of
 * threads with caches has doubled since the last one, and on
 * {@code stats()}, {@code trim()} and {@link Pool#flushThreadCache()}, so a
 * pool used by any number of short-lived threads holds blocks for at most
 * about twice as many threads as are alive. A thread's cache of a class is
 * created when it first allocates or frees a block of that class, and the
 * class's {@link CacheDepot} with the first cache of the class; besides the
 * caches, the depots park at most {@code 2 * capacity} blocks per class.
 */
final class ThreadCaches {
    private static final int MIN_TABLE = 16;
    /** Beyond this, threads whose ids collide share a slot and the loser looks its caches up under the lock. */
    private static final int MAX_TABLE = 4096;

    final SizeClasses classes;
    final IssuedBlocks issued;
    private final Pool pool;
    private final int capacity;
    /** The most bytes the pool may hold in use, as refills count them; 0 for no limit, which refills never check. */
    private final long limitBytes;
    private volatile Own[] table = new Own[MIN_TABLE];
    /** Every thread's caches, live or not yet swept; guarded by this. */
    private final Map<Thread, Own> byThread = new HashMap<>();
    /** The depot of each class, created with its first cache; guarded by this, read by the caches' owners. */
    private final CacheDepot[] depots;
    private int sweepAt = MIN_TABLE;

    /** One thread's caches, one per class, each created on first use by the owner. */
    private static final class Own {
        final Thread owner;
        final ThreadCache[] byClass;

        Own(Thread owner, int classes) {
            this.owner = owner;
            this.byClass = new ThreadCache[classes];
        }
    }

    ThreadCaches(Pool pool, int capacity, SizeClasses classes, long limitBytes) {
        this.pool = pool;
        this.capacity = capacity;
        this.classes = classes;
        this.issued = new IssuedBlocks(classes.count());
        this.limitBytes = limitBytes;
        this.depots = new CacheDepot[classes.count()];
    }

    int capacity() {
        return capacity;
    }

    /**
     * {@return a block of class {@code cls}, from the calling thread's cache}
     *
     * @param owner 0 for a raw allocation, {@link IssuedBlocks#OWNED} for a {@link MemoryBlock}'s
     */
    long allocate(int cls, long owner) {
        return current(cls).allocate(owner);
    }

    /**
     * Frees a block into the calling thread's cache of its class, when the
     * issued set lists it; any other address goes to the pool's checked free,
     * which refuses it or frees a good block that came from another path. A
     * handle's block is refused.
     */
    void free(long address) {
        long found = issued.find(address);
        if (found == IssuedBlocks.NOT_LISTED) {
            pool.freeToPool(address);
        } else if (IssuedBlocks.classOf(found) == IssuedBlocks.NO_CLASS) {
            throw ownedByHandle(pool, address); // only handles' blocks are listed without a class
        } else {
            current(IssuedBlocks.classOf(found)).free(address, IssuedBlocks.cellOf(found), 0L);
        }
    }

    /**
     * Frees the block of a handle into the calling thread's cache of its class.
     *
     * @param found what the issued set's {@link IssuedBlocks#find} returned for it
     */
    void freeOwned(long address, long found) {
        current(IssuedBlocks.classOf(found)).free(address, IssuedBlocks.cellOf(found), IssuedBlocks.OWNED);
    }

    /**
     * After a cache could not park {@code address} in {@code cell} from the
     * hands {@code owner} names: refuses a block parked already, a raw free of
     * a handle's block and a handle's close of a block that is no longer its
     * own, and frees again a block that left the issued set meanwhile (the pool
     * then decides).
     */
    void refuseOrRetry(long address, int cell, long owner) {
        if (owner != 0L) {
            throw notOwned(pool, address);
        }
        if (issued.isParked(cell, address)) {
            throw doubleFree(pool, address);
        }
        if (issued.isOwned(cell, address)) {
            throw ownedByHandle(pool, address);
        }
        free(address);
    }

    /** The refusal of a second free of a block parked in a cache of {@code pool}. */
    static DoubleFreeException doubleFree(Pool pool, long address) {
        return new DoubleFreeException("0x" + Long.toHexString(address) + " is already free: parked in a cache of "
                + pool + " (a second free of a block, on this thread or another)");
    }

    /** The refusal of a raw free of the block of an open {@link MemoryBlock}. */
    static InvalidFreeException ownedByHandle(Pool pool, long address) {
        return new InvalidFreeException("block 0x" + Long.toHexString(address) + " of " + pool
                + " is owned by a MemoryBlock; close the handle instead of freeing its address");
    }

    /**
     * The refusal of a handle's close whose block the issued set does not list in a handle's
     * hands: nothing the public API does leads here, and freeing what may be someone else's
     * block would be worse than saying so.
     */
    static InvalidFreeException notOwned(Pool pool, long address) {
        return new InvalidFreeException("block 0x" + Long.toHexString(address) + " of " + pool
                + " is not listed as a MemoryBlock's; nothing was freed");
    }

    /**
     * {@return the refusal of a free of {@code address} that the issued set did not take as in a
     * user's hands: a handle's block, or one parked in a cache}
     */
    static InvalidFreeException refusal(Pool pool, long address) {
        return pool.issued.isOwned(address) ? ownedByHandle(pool, address) : doubleFree(pool, address);
    }

    /** {@return the calling thread's cache of class {@code cls}, created on first use} */
    private ThreadCache current(int cls) {
        Thread thread = Thread.currentThread();
        Own[] slots = table;
        Own own = slots[slotOf(thread, slots.length)];
        ThreadCache cache;
        return own != null && own.owner == thread && (cache = own.byClass[cls]) != null ? cache
                : register(thread, cls);
    }

    /**
     * Returns the blocks of the calling thread's caches, of ended threads'
     * caches, and of the depots to the pool.
     */
    void flush() {
        Own own;
        CacheDepot[] all;
        synchronized (this) {
            own = byThread.get(Thread.currentThread());
            all = depots.clone();
        }
        if (own != null) {
            flush(own);
        }
        sweep();
        flush(all);
    }

    private void flush(CacheDepot[] all) {
        for (CacheDepot depot : all) {
            if (depot != null) {
                depot.flush(pool, issued);
            }
        }
    }

    /**
     * {@return the blocks parked in all caches and depots now, and their bytes}
     * Exact when no cache is in use meanwhile.
     */
    synchronized long[] parked() {
        long blocks = 0;
        long bytes = 0;
        for (Own own : byThread.values()) {
            for (int cls = 0; cls < own.byClass.length; cls++) {
                ThreadCache cache = own.byClass[cls];
                if (cache != null) {
                    int parked = cache.parked();
                    blocks += parked;
                    bytes += parked * classes.bytes(cls);
                }
            }
        }
        for (int cls = 0; cls < depots.length; cls++) {
            if (depots[cls] != null) {
                int parked = depots[cls].parked();
                blocks += parked;
                bytes += parked * classes.bytes(cls);
            }
        }
        return new long[] {blocks, bytes};
    }

    /**
     * Returns the blocks of the caches of ended threads to the pool and drops
     * those caches; and the depots' blocks once no live thread has a cache,
     * so that a pool whose threads have all ended parks nothing.
     */
    synchronized void sweep() {
        Own[] slots = table;
        for (Iterator<Own> it = byThread.values().iterator(); it.hasNext();) {
            Own own = it.next();
            if (!own.owner.isAlive()) {
                it.remove();
                int slot = slotOf(own.owner, slots.length);
                if (slots[slot] == own) {
                    slots[slot] = null;
                }
                flush(own);
            }
        }
        if (byThread.isEmpty()) {
            flush(depots);
        }
        sweepAt = Math.max(MIN_TABLE, byThread.size() * 2);
    }

    /**
     * {@return how many blocks of {@code blockBytes} a refill takes} Half the
     * capacity; for a pool with a limit no more than it can still supply, so
     * that a refill near the limit neither fails nor leaves failures in the
     * statistics that one allocation would not (then at least 1, which fails
     * as a plain allocation would).
     */
    int refillSize(long blockBytes) {
        int batch = capacity / 2;
        if (limitBytes == 0) {
            return batch;
        }
        long[] stats = pool.nativeFields();
        long available = limitBytes - (stats[PoolStats.BYTES_RESERVED] - stats[PoolStats.FREE_BYTES]);
        return (int) Math.max(1, Math.min(batch, available / blockBytes));
    }

    private static void flush(Own own) {
        for (ThreadCache cache : own.byClass) {
            if (cache != null) {
                cache.flush();
            }
        }
    }

    private synchronized ThreadCache register(Thread thread, int cls) {
        Own own = byThread.get(thread);
        if (own == null) {
            if (byThread.size() >= sweepAt) {
                sweep();
            }
            own = new Own(thread, classes.count());
            byThread.put(thread, own);
        }
        ThreadCache cache = own.byClass[cls];
        if (cache == null) {
            if (depots[cls] == null) {
                depots[cls] = new CacheDepot(capacity / 2);
            }
            cache = new ThreadCache(pool, this, thread, cls, capacity, depots[cls]);
            own.byClass[cls] = cache;
        }
        place(own);
        return cache;
    }

    /** Puts the thread's caches in their slot, unless a live thread holds it and the table cannot grow. */
    private void place(Own own) {
        for (Own[] slots = table;; slots = grow(slots)) {
            int slot = slotOf(own.owner, slots.length);
            Own holder = slots[slot];
            if (holder == null || holder == own || !holder.owner.isAlive()) {
                slots[slot] = own;
                return;
            }
            if (slots.length == MAX_TABLE) {
                return;
            }
        }
    }

    /** A table twice as long holding the caches of the live threads. */
    private Own[] grow(Own[] slots) {
        Own[] bigger = new Own[slots.length * 2];
        for (Own own : slots) {
            if (own != null && own.owner.isAlive()) {
                int slot = slotOf(own.owner, bigger.length);
                if (bigger[slot] == null) {
                    bigger[slot] = own;
                }
            }
        }
        table = bigger;
        return bigger;
    }

    @SuppressWarnings("deprecation") // threadId() replaces getId() from JDK 19; the library targets 17
    private static int slotOf(Thread thread, int length) {
        return (int) thread.getId() & (length - 1);
    }
}
