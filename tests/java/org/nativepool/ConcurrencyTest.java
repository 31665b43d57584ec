package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.LongFunction;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Many threads on one pool. Each thread stamps the blocks it holds and checks
 * the stamp before freeing, so a block handed to two threads at once fails
 * the test; accounting must be exact once all threads are done.
 */
class ConcurrencyTest {
    private static final int THREADS = 8;
    private static final int ROUNDS = 20_000;

    @ParameterizedTest
    @EnumSource(value = ThreadSafety.class, names = {"MUTEX", "LOCK_FREE"})
    void fixedPoolUnderContention(ThreadSafety mode) throws Exception {
        // Without thread caches: every allocation and free meets the shared pool.
        try (FixedPool pool = FixedPool.builder(64).blocksPerChunk(64).threadSafety(mode).threadCache(0).build()) {
            long allocations = hammer(random -> pool.allocate());
            assertIdle(pool, allocations);
        }
    }

    @ParameterizedTest
    @EnumSource(value = ThreadSafety.class, names = {"MUTEX", "LOCK_FREE"})
    void fixedPoolWithThreadCachesUnderContention(ThreadSafety mode) throws Exception {
        try (FixedPool pool = FixedPool.builder(64).blocksPerChunk(64).threadSafety(mode).build()) {
            long allocations = hammer(random -> pool.allocate());
            // The workers have ended, so stats() returns their caches' blocks to the pool first.
            PoolStats stats = pool.stats();
            assertEquals(0, stats.cachedBlocks(), stats.toString());
            assertEquals(stats.allocations(), stats.frees());
            assertTrue(stats.allocations() <= allocations + THREADS * FixedPool.Builder.DEFAULT_THREAD_CACHE,
                    "refills fetch at most one cache's worth beyond what the threads used: " + stats);
            assertIdle(pool, stats.allocations());
        }
    }

    @ParameterizedTest
    @EnumSource(value = ThreadSafety.class, names = {"MUTEX"})
    void variablePoolUnderContention(ThreadSafety mode) throws Exception {
        try (VariablePool pool = VariablePool.builder().arenaSize(1 << 20).threadSafety(mode).build()) {
            long allocations = hammer(random -> pool.allocate(8 + random % 4000));
            PoolStats stats = pool.stats();
            assertEquals(0, stats.cachedBlocks(), stats.toString());
            long classes = 15; // at granularity 16: 16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072
            assertTrue(stats.allocations() <= allocations + THREADS * classes * PoolBuilder.DEFAULT_THREAD_CACHE,
                    "refills fetch at most one cache's worth per class beyond what the threads used: " + stats);
            assertIdle(pool, stats.allocations());
            CacheChecks.assertTrimsFully(pool);
        }
    }

    /** Runs THREADS workers doing random allocate/free rounds; returns the allocations made. */
    private static long hammer(LongFunction<MemoryBlock> allocate) throws Exception {
        List<Thread> workers = Collections.synchronizedList(new ArrayList<>());
        ExecutorService executor = Executors.newFixedThreadPool(THREADS, task -> {
            Thread worker = new Thread(task);
            workers.add(worker);
            return worker;
        });
        try {
            List<Future<Long>> futures = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                long seed = t + 1;
                futures.add(executor.submit((Callable<Long>) () -> work(seed, allocate)));
            }
            long total = 0;
            for (Future<Long> future : futures) {
                total += future.get();
            }
            return total;
        } finally {
            executor.shutdownNow();
            // Joined, not just terminated: a thread cache counts as ended once its thread is no longer alive.
            for (Thread worker : workers) {
                worker.join();
            }
        }
    }

    private static long work(long seed, LongFunction<MemoryBlock> allocate) {
        Random random = new Random(seed);
        List<MemoryBlock> held = new ArrayList<>();
        List<Long> stamps = new ArrayList<>();
        long count = 0;
        for (int i = 0; i < ROUNDS; i++) {
            if (held.isEmpty() || random.nextBoolean()) {
                MemoryBlock block = allocate.apply(random.nextInt(Integer.MAX_VALUE));
                long stamp = seed << 40 | i;
                block.putLong(0, stamp);
                held.add(block);
                stamps.add(stamp);
                count++;
            } else {
                int victim = random.nextInt(held.size());
                release(held.remove(victim), stamps.remove(victim));
            }
        }
        for (int i = 0; i < held.size(); i++) {
            release(held.get(i), stamps.get(i));
        }
        return count;
    }

    private static void release(MemoryBlock block, long stamp) {
        assertEquals(stamp, block.getLong(0), "another thread wrote into " + block);
        block.close();
    }

    private static void assertIdle(Pool pool, long allocations) {
        PoolStats stats = pool.stats();
        assertEquals(allocations, stats.allocations());
        assertEquals(allocations, stats.frees());
        assertEquals(0, stats.liveBlocks());
        assertEquals(0, stats.bytesInUse());
        assertEquals(stats.bytesReserved(), stats.freeBytes());
        pool.validate();
    }
}
