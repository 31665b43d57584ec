package org.nativepool;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * The thread caches of one {@link FixedPool}: finds the calling thread's
 * {@link ThreadCache} without a lock or a write, creates it on first use,
 * and gives back the blocks of caches whose threads have ended.
 *
 * <p>The lookup indexes a small table by the thread's id; a slot holding
 * another thread's cache (or none) sends the caller to {@link #register},
 * which keeps every cache in a map by thread, places the caller's cache in
 * its slot (doubling the table on a collision between two live threads, up
 * to {@link #MAX_TABLE}), and sweeps: the caches of ended threads return
 * their blocks to the pool and are dropped. Sweeps run when the number of
 * caches has doubled since the last one, and on {@code stats()},
 * {@code trim()} and {@link FixedPool#flushThreadCache()}, so a pool used
 * by any number of short-lived threads holds blocks for at most about twice
 * as many caches as threads alive.
 */
final class ThreadCaches {
    private static final int MIN_TABLE = 16;
    /** Beyond this, threads whose ids collide share a slot and the loser looks its cache up under the lock. */
    private static final int MAX_TABLE = 4096;

    final IssuedBlocks issued = new IssuedBlocks();
    private final FixedPool pool;
    private final int capacity;
    /** 0 for a pool without a block limit, which refills never check. */
    private final long maxBlocks;
    private volatile ThreadCache[] table = new ThreadCache[MIN_TABLE];
    /** Every cache, live or not yet swept; guarded by this. */
    private final Map<Thread, ThreadCache> byThread = new HashMap<>();
    private int sweepAt = MIN_TABLE;

    ThreadCaches(FixedPool pool, int capacity, long maxBlocks) {
        this.pool = pool;
        this.capacity = capacity;
        this.maxBlocks = maxBlocks;
    }

    int capacity() {
        return capacity;
    }

    /** {@return the calling thread's cache, created on first use} */
    ThreadCache current() {
        Thread thread = Thread.currentThread();
        ThreadCache[] slots = table;
        ThreadCache cache = slots[slotOf(thread, slots.length)];
        return cache != null && cache.owner == thread ? cache : register(thread);
    }

    /** {@return the calling thread's cache if it has one, or null} */
    synchronized ThreadCache currentIfAny() {
        return byThread.get(Thread.currentThread());
    }

    /** {@return the blocks parked in all caches now} Exact when no cache is in use meanwhile. */
    synchronized long parked() {
        long total = 0;
        for (ThreadCache cache : byThread.values()) {
            total += cache.parked();
        }
        return total;
    }

    /** Returns the blocks of the caches of ended threads to the pool and drops those caches. */
    synchronized void sweep() {
        ThreadCache[] slots = table;
        for (Iterator<ThreadCache> it = byThread.values().iterator(); it.hasNext();) {
            ThreadCache cache = it.next();
            if (!cache.owner.isAlive()) {
                it.remove();
                int slot = slotOf(cache.owner, slots.length);
                if (slots[slot] == cache) {
                    slots[slot] = null;
                }
                cache.flush();
            }
        }
        sweepAt = Math.max(MIN_TABLE, byThread.size() * 2);
    }

    /**
     * {@return how many blocks a refill takes} Half the capacity; for a pool
     * with a block limit no more than it can still supply, so that a refill
     * near the limit neither fails nor leaves failures in the statistics
     * that one allocation would not (then at least 1, which fails as a plain
     * allocation would).
     */
    int refillSize() {
        int batch = capacity / 2;
        if (maxBlocks == 0) {
            return batch;
        }
        long[] stats = pool.nativeFields();
        long stride = pool.stride();
        long available = stats[PoolStats.FREE_BYTES] / stride + maxBlocks - stats[PoolStats.BYTES_RESERVED] / stride;
        return (int) Math.max(1, Math.min(batch, available));
    }

    private synchronized ThreadCache register(Thread thread) {
        ThreadCache cache = byThread.get(thread);
        if (cache == null) {
            if (byThread.size() >= sweepAt) {
                sweep();
            }
            cache = new ThreadCache(pool, this, thread, capacity);
            byThread.put(thread, cache);
        }
        place(cache);
        return cache;
    }

    /** Puts the cache in its slot, unless a live thread holds it and the table cannot grow. */
    private void place(ThreadCache cache) {
        for (ThreadCache[] slots = table;; slots = grow(slots)) {
            int slot = slotOf(cache.owner, slots.length);
            ThreadCache holder = slots[slot];
            if (holder == null || holder == cache || !holder.owner.isAlive()) {
                slots[slot] = cache;
                return;
            }
            if (slots.length == MAX_TABLE) {
                return;
            }
        }
    }

    /** A table twice as long holding the caches of the live threads. */
    private ThreadCache[] grow(ThreadCache[] slots) {
        ThreadCache[] bigger = new ThreadCache[slots.length * 2];
        for (ThreadCache cache : slots) {
            if (cache != null && cache.owner.isAlive()) {
                int slot = slotOf(cache.owner, bigger.length);
                if (bigger[slot] == null) {
                    bigger[slot] = cache;
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
