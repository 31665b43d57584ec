package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/** What the thread-cache tests of both pool kinds share. */
final class CacheChecks {
    private CacheChecks() {
    }

    /** The identity every snapshot taken with no thread inside the pool must satisfy. */
    static void assertBalanced(PoolStats stats) {
        assertEquals(stats.allocations() - stats.frees(), stats.liveBlocks() + stats.cachedBlocks(), stats.toString());
        assertEquals(stats.bytesReserved(), stats.bytesInUse() + stats.cachedBytes() + stats.freeBytes(),
                stats.toString());
    }

    /**
     * Trims {@code pool} until it has given back all it reserves, or 10 seconds pass, and asserts that it
     * did. trim() returns only arenas that are one free block; the native caches behind Java's (sizes above
     * 3 KiB up to 4 KiB, and frees of blocks Java's caches never listed) go back as each worker's native
     * thread exits, a moment after join() has returned, so a first trim may find their blocks in place.
     */
    static void assertTrimsFully(Pool pool) throws InterruptedException {
        long reserved = pool.stats().bytesReserved();
        long released = pool.trim();
        for (long deadline = System.nanoTime() + 10_000_000_000L; released < reserved
                && System.nanoTime() < deadline; released += pool.trim()) {
            Thread.sleep(10);
        }
        assertEquals(reserved, released, "fully coalesced: " + pool.stats());
    }

    /** Runs each task on its own thread, joins them all, and rethrows the first failure. */
    static void runThreads(List<Runnable> tasks) throws InterruptedException {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (Runnable task : tasks) {
            Thread thread = new Thread(() -> {
                try {
                    task.run();
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            });
            thread.start();
            threads.add(thread);
        }
        for (Thread thread : threads) {
            thread.join();
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
    }

    /** {@return the first 8 bytes of a block, for stamps} */
    static ByteBuffer at(Pool pool, long address) {
        return RawViews.of(pool, address, Long.BYTES).order(ByteOrder.nativeOrder());
    }

    /**
     * {@return a worker doing {@code rounds} random single-block operations on
     * {@code pool}: raw allocations, handles, frees of its own blocks and of
     * blocks other workers put in {@code handoff}} Each raw block carries a
     * stamp of its owner, checked at its free (so a block handed to two owners
     * shows), and the worker frees all it holds at the end, except what it
     * left in {@code handoff}.
     *
     * @param allocateAddress one raw allocation, given the worker's random source
     * @param allocate one handle, given the worker's random source
     */
    static Runnable worker(Pool pool, long seed, int rounds, Queue<long[]> handoff,
            Function<Random, Long> allocateAddress, Function<Random, MemoryBlock> allocate) {
        return () -> {
            Random random = new Random(seed);
            List<long[]> held = new ArrayList<>();
            List<MemoryBlock> handles = new ArrayList<>();
            for (int i = 0; i < rounds; i++) {
                int op = random.nextInt(6);
                if (op == 0 || held.isEmpty()) {
                    long[] block = {allocateAddress.apply(random), seed << 40 | i};
                    at(pool, block[0]).putLong(0, block[1]);
                    held.add(block);
                } else if (op == 1) {
                    handles.add(allocate.apply(random));
                } else if (op == 2 && !handles.isEmpty()) {
                    handles.remove(random.nextInt(handles.size())).close();
                } else if (op == 3) {
                    handoff.add(held.remove(held.size() - 1)); // another thread frees it
                } else {
                    long[] other = handoff.poll();
                    free(pool, other != null ? other : held.remove(random.nextInt(held.size())));
                }
            }
            held.forEach(block -> free(pool, block));
            handles.forEach(MemoryBlock::close);
        };
    }

    /** Frees a block of {@link #worker}'s, {address, stamp}, after checking its stamp. */
    static void free(Pool pool, long[] block) {
        assertEquals(block[1], at(pool, block[0]).getLong(0), "another owner wrote into 0x" + Long.toHexString(block[0]));
        pool.free(block[0]);
    }
}
