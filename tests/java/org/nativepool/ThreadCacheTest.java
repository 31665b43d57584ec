package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nativepool.CacheChecks.assertBalanced;
import static org.nativepool.CacheChecks.free;
import static org.nativepool.CacheChecks.runThreads;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The transparent per-thread caches of FixedPool's shared API. */
class ThreadCacheTest {

    /** Frees {address, stamp} after checking that no other owner overwrote the stamp. */
    @Test
    void aFreeParksTheBlockAndTheNextAllocationReusesItWithoutThePool() {
        try (FixedPool pool = FixedPool.builder(64).threadSafety(ThreadSafety.LOCK_FREE).build()) {
            assertEquals(FixedPool.Builder.DEFAULT_THREAD_CACHE, pool.threadCacheCapacity());
            long first = pool.allocateAddress();
            PoolStats stats = pool.stats();
            assertEquals(32, stats.allocations(), "one refill of half the capacity");
            assertEquals(1, stats.liveBlocks());
            assertEquals(31, stats.cachedBlocks());
            assertEquals(31 * 64, stats.cachedBytes());
            assertBalanced(stats);
            pool.free(first);
            assertEquals(first, pool.allocateAddress(), "the cache hands out the block freed last");
            pool.free(first);
            stats = pool.stats();
            assertEquals(32, stats.allocations());
            assertEquals(0, stats.frees(), "nothing reached the pool");
            assertEquals(0, stats.liveBlocks());
            assertEquals(32, stats.cachedBlocks());
            pool.flushThreadCache();
            stats = pool.stats();
            assertEquals(0, stats.cachedBlocks());
            assertEquals(32, stats.frees());
            assertBalanced(stats);
            pool.validate();
        }
    }

    @ParameterizedTest
    @EnumSource(value = ThreadSafety.class, names = {"MUTEX", "LOCK_FREE"})
    void eightThreadsWithCrossThreadFreesKeepExactStats(ThreadSafety mode) throws Exception {
        int threads = 8;
        try (FixedPool pool = FixedPool.builder(64).blocksPerChunk(256).threadSafety(mode).build()) {
            // Blocks in flight between threads, as {address, stamp}: each allocation writes a stamp of its
            // own into the block, and every free checks it, so a block handed to two owners shows.
            ConcurrentLinkedQueue<long[]> handoff = new ConcurrentLinkedQueue<>();
            CountDownLatch done = new CountDownLatch(threads);
            CountDownLatch checked = new CountDownLatch(1);
            List<Runnable> tasks = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long seed = t + 1;
                Runnable work = CacheChecks.worker(pool, seed, 40_000, handoff, random -> pool.allocateAddress(),
                        random -> pool.allocate());
                tasks.add(() -> {
                    work.run();
                    done.countDown();
                    // Stay alive while the checker looks at the caches of live threads.
                    assertDoesNotThrow(() -> checked.await());
                });
            }
            Thread checker = new Thread(() -> {
                assertDoesNotThrow(() -> done.await());
                for (long[] left; (left = handoff.poll()) != null;) {
                    free(pool, left);
                }
                PoolStats stats = pool.stats();
                assertEquals(0, stats.liveBlocks(), stats.toString());
                assertEquals(0, stats.bytesInUse());
                // Each thread's cache, and the depot: 2 × capacity.
                assertTrue(stats.cachedBlocks() <= (threads + 3) * pool.threadCacheCapacity(), stats.toString());
                assertBalanced(stats);
                checked.countDown();
            });
            List<Runnable> all = new ArrayList<>(tasks);
            all.add(checker::run);
            runThreads(all);
            PoolStats stats = pool.stats();
            assertEquals(0, stats.liveBlocks(), stats.toString());
            assertEquals(0, stats.cachedBlocks(), "the caches of the ended threads went back: " + stats);
            assertEquals(stats.allocations(), stats.frees());
            assertEquals(stats.bytesReserved(), stats.freeBytes());
            pool.validate();
        }
    }

    @Test
    void closingThePoolFromAnotherThreadReleasesParkedBlocks() throws Exception {
        FixedPool pool = FixedPool.builder(64).threadSafety(ThreadSafety.LOCK_FREE).leakPolicy(LeakPolicy.THROW)
                .build();
        CountDownLatch parked = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        AtomicReference<Long> kept = new AtomicReference<>();
        List<Runnable> tasks = List.of(() -> {
            long[] blocks = new long[10];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = pool.allocateAddress();
            }
            for (long block : blocks) {
                pool.free(block);
            }
            kept.set(blocks[0]);
            parked.countDown();
            assertDoesNotThrow(() -> closed.await());
            assertThrows(PoolClosedException.class, pool::allocateAddress, "the cache hands out nothing now");
            assertThrows(PoolClosedException.class, () -> pool.free(kept.get()));
            assertThrows(PoolClosedException.class, pool::flushThreadCache);
        }, () -> {
            assertDoesNotThrow(() -> parked.await());
            PoolStats stats = pool.stats();
            assertEquals(32, stats.cachedBlocks());
            assertEquals(0, stats.liveBlocks());
            assertDoesNotThrow(pool::close, "parked blocks are no leak");
            closed.countDown();
        });
        runThreads(tasks);
        assertTrue(pool.isClosed());
    }

    @Test
    void shortLivedThreadsGiveTheirCachesBack() throws Exception {
        try (FixedPool pool = FixedPool.builder(64).blocksPerChunk(256).threadSafety(ThreadSafety.LOCK_FREE).build()) {
            for (int round = 0; round < 2_000; round++) {
                Thread thread = new Thread(() -> {
                    long[] blocks = new long[10];
                    for (int i = 0; i < blocks.length; i++) {
                        blocks[i] = pool.allocateAddress();
                    }
                    for (long block : blocks) {
                        pool.free(block);
                    }
                });
                thread.start();
                thread.join();
            }
            PoolStats before = pool.stats();
            // 2,000 caches of 32 blocks would need 250 chunks of 256; swept ones need a few.
            assertTrue(before.regions() <= 8, before.toString());
            assertEquals(0, before.cachedBlocks(), "every thread has ended: " + before);
            assertEquals(0, before.liveBlocks());
            assertEquals(before.allocations(), before.frees());
        }
    }

    @Test
    void manyLiveThreadsEachFindTheirOwnCache() throws Exception {
        int threads = 100; // more than the lookup table's first 16 slots: ids collide and the table grows
        try (FixedPool pool = FixedPool.builder(64).threadCache(8).threadSafety(ThreadSafety.LOCK_FREE).build()) {
            CountDownLatch allUsed = new CountDownLatch(threads);
            CountDownLatch checked = new CountDownLatch(1);
            List<Runnable> tasks = new ArrayList<>();
            Set<Long> firstBlocks = ConcurrentHashMap.newKeySet();
            for (int t = 0; t < threads; t++) {
                tasks.add(() -> {
                    long first = pool.allocateAddress();
                    assertTrue(firstBlocks.add(first), "two threads got the same block");
                    pool.free(first);
                    allUsed.countDown();
                    assertDoesNotThrow(() -> allUsed.await());
                    // Every thread is alive and registered now: a free and an allocation hit the own cache.
                    assertEquals(first, pool.allocateAddress(), "the thread's own cache answered");
                    pool.free(first);
                    assertDoesNotThrow(() -> checked.await());
                });
            }
            tasks = new ArrayList<>(tasks);
            tasks.add(() -> {
                assertDoesNotThrow(() -> allUsed.await());
                PoolStats stats;
                do {
                    stats = pool.stats(); // the workers may still be freeing
                } while (stats.liveBlocks() != 0);
                assertEquals(threads * 4, stats.cachedBlocks(), "one refill of 4 per thread: " + stats);
                assertBalanced(stats);
                checked.countDown();
            });
            runThreads(tasks);
            PoolStats stats = pool.stats();
            assertEquals(0, stats.cachedBlocks(), stats.toString());
            assertEquals(stats.allocations(), stats.frees());
        }
    }

    @Test
    void explicitBlockCachesAndThreadCachesShareBlocksExactly() {
        try (FixedPool pool = FixedPool.builder(64).threadSafety(ThreadSafety.MUTEX).build()) {
            long viaThreadCache;
            try (BlockCache cache = pool.newCache(4)) {
                long fromCache = cache.allocate();
                pool.free(fromCache); // parks it in the thread cache: a block of either kind of cache
                assertThrows(DoubleFreeException.class, () -> pool.free(fromCache), "the thread cache holds it");

                viaThreadCache = pool.allocateAddress();
                cache.free(viaThreadCache);
                assertBalanced(pool.stats());
            } // closing drains 'viaThreadCache' to the pool
            assertThrows(DoubleFreeException.class, () -> pool.free(viaThreadCache), "the explicit cache returned it");
            PoolStats stats = pool.stats();
            assertEquals(0, stats.liveBlocks(), stats.toString());
            assertBalanced(stats);
            pool.flushThreadCache();
            stats = pool.stats();
            assertEquals(0, stats.cachedBlocks());
            assertEquals(stats.allocations(), stats.frees());
            pool.validate();
        }
    }

    @Test
    void noThreadParksMoreThanTheCapacity() throws Exception {
        int threads = 4;
        int capacity = 16;
        try (FixedPool pool = FixedPool.builder(32).threadCache(capacity).threadSafety(ThreadSafety.MUTEX).build()) {
            assertEquals(capacity, pool.threadCacheCapacity());
            CountDownLatch done = new CountDownLatch(threads);
            CountDownLatch checked = new CountDownLatch(1);
            List<Runnable> tasks = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                tasks.add(() -> {
                    long[] blocks = new long[500];
                    for (int round = 0; round < 3; round++) {
                        for (int i = 0; i < blocks.length; i++) {
                            blocks[i] = pool.allocateAddress();
                        }
                        for (long block : blocks) {
                            pool.free(block);
                        }
                    }
                    done.countDown();
                    assertDoesNotThrow(() -> checked.await());
                });
            }
            tasks = new ArrayList<>(tasks);
            tasks.add(() -> {
                assertDoesNotThrow(() -> done.await());
                PoolStats stats = pool.stats();
                // Each thread's cache, and the depot of halves that full caches drained: 2 × capacity.
                assertTrue(stats.cachedBlocks() <= (long) threads * capacity + 2 * capacity, stats.toString());
                assertTrue(stats.cachedBlocks() >= threads * (capacity / 2), "each cache kept blocks: " + stats);
                assertEquals(0, stats.liveBlocks());
                assertBalanced(stats);
                checked.countDown();
            });
            runThreads(tasks);
        }
    }

    /**
     * A consumer's full cache hands its older half to the depot, and the
     * producer's next refill takes it there: the blocks go round without the
     * pool, parked all along.
     */
    @ParameterizedTest
    @EnumSource(value = ThreadSafety.class, names = {"MUTEX", "LOCK_FREE"})
    void blocksFreedOnAConsumerGoBackToTheProducerThroughTheDepot(ThreadSafety mode) throws Exception {
        try (FixedPool pool = FixedPool.builder(64).threadSafety(mode).leakPolicy(LeakPolicy.THROW).build()) {
            long[] blocks = allocateHereFreeOnAnotherThread(pool, 128);
            // The consumer drained two halves into the depot and kept 64; it ended, so the
            // stats' sweep freed those 64 to the pool. The depot's 64 stay parked.
            PoolStats stats = pool.stats();
            assertEquals(128, stats.allocations());
            assertEquals(64, stats.frees(), stats.toString());
            assertEquals(64, stats.cachedBlocks(), "the depot's halves: " + stats);
            assertEquals(0, stats.liveBlocks());
            assertBalanced(stats);
            assertThrows(DoubleFreeException.class, () -> pool.free(blocks[0]), "a block in the depot is parked");
            assertEquals(stats, pool.stats(), "the refused free changed nothing");
            Set<Long> drained = new HashSet<>();
            for (int i = 0; i < 64; i++) {
                drained.add(blocks[i]);
            }
            long[] again = new long[64];
            for (int i = 0; i < again.length; i++) {
                again[i] = pool.allocateAddress();
                assertTrue(drained.remove(again[i]), "from the depot: 0x" + Long.toHexString(again[i]));
            }
            stats = pool.stats();
            assertEquals(128, stats.allocations(), "the refills did not reach the pool");
            assertEquals(64, stats.liveBlocks());
            assertEquals(0, stats.cachedBlocks());
            pool.free(again);
            assertEquals(0, pool.stats().liveBlocks());
            pool.validate();
        }
    }

    /** {@return {@code count} blocks allocated on this thread and freed, in order, on another that has ended} */
    private static long[] allocateHereFreeOnAnotherThread(FixedPool pool, int count) throws InterruptedException {
        long[] blocks = new long[count];
        for (int i = 0; i < count; i++) {
            blocks[i] = pool.allocateAddress();
        }
        runThreads(List.of(() -> {
            for (long block : blocks) {
                pool.free(block);
            }
        }));
        return blocks;
    }

    @Test
    void halvesInTheDepotAreNoLeakAndFlushBackToThePool() throws Exception {
        FixedPool pool = FixedPool.builder(64).threadSafety(ThreadSafety.LOCK_FREE).leakPolicy(LeakPolicy.THROW)
                .build();
        allocateHereFreeOnAnotherThread(pool, 256);
        PoolStats stats = pool.stats();
        assertEquals(4 * 32, stats.cachedBlocks(), "the depot holds four halves, no more: " + stats);
        assertEquals(256 - 4 * 32, stats.frees(), "the rest went to the pool: " + stats);
        assertBalanced(stats);
        pool.flushThreadCache();
        stats = pool.stats();
        assertEquals(0, stats.cachedBlocks(), stats.toString());
        assertEquals(256, stats.frees());
        for (int i = 0; i < 64; i++) {
            pool.free(pool.allocateAddress());
        }
        runThreads(List.of(() -> {
            long[] more = new long[200];
            for (int i = 0; i < more.length; i++) {
                more[i] = pool.allocateAddress();
            }
            for (long block : more) {
                pool.free(block);
            }
        }));
        // This thread's 32, and four of the five halves the other thread's cache drained.
        assertEquals(32 + 4 * 32, pool.stats().cachedBlocks(), "parked in the depot and this thread's cache");
        runThreads(List.of(() -> assertDoesNotThrow(pool::close, "parked blocks are no leak")));
        assertTrue(pool.isClosed());
        assertThrows(PoolClosedException.class, pool::allocateAddress);
    }

    @ParameterizedTest
    @EnumSource(ThreadSafety.class)
    void doubleAndForeignFreesThroughTheCacheAreRefused(ThreadSafety mode) {
        try (FixedPool pool = FixedPool.builder(64).threadSafety(mode).build();
             FixedPool stranger = FixedPool.builder(64).build()) {
            long block = pool.allocateAddress();
            long other = pool.allocateAddress();
            pool.free(block);
            DoubleFreeException parked = assertThrows(DoubleFreeException.class, () -> pool.free(block),
                    "a second free of a block parked in this thread's cache");
            assertTrue(parked.getMessage().contains(Long.toHexString(block)), parked.getMessage());

            assertThrows(InvalidFreeException.class, () -> pool.free(0L), "null");
            assertThrows(InvalidFreeException.class, () -> pool.free(other + 16), "interior, aligned");
            assertThrows(InvalidFreeException.class, () -> pool.free(other + 1), "misaligned");
            assertThrows(InvalidFreeException.class, () -> pool.free(0x10L), "foreign address");
            long foreign = stranger.allocateAddress();
            assertThrows(InvalidFreeException.class, () -> pool.free(foreign), "block of another pool");
            stranger.free(foreign);

            // Filling the cache drains its oldest half, 'block' first: a second free of it then meets the pool.
            long[] more = new long[64];
            pool.allocate(64, more);
            for (long address : more) {
                pool.free(address);
            }
            PoolStats stats = pool.stats();
            assertTrue(stats.frees() > 0, "the cache drained: " + stats);
            assertThrows(DoubleFreeException.class, () -> pool.free(block), "a free of a block the pool holds free");

            stats = pool.stats();
            assertEquals(1, stats.liveBlocks(), "only 'other' is in use: " + stats);
            assertBalanced(stats);
            pool.free(other);
            pool.flushThreadCache();
            stats = pool.stats();
            assertEquals(stats.allocations(), stats.frees());
            pool.validate();
        }
    }

    @ParameterizedTest
    @EnumSource(value = ThreadSafety.class, names = {"MUTEX", "LOCK_FREE"})
    void aBlockParkedInAnotherThreadsCacheIsRefusedAtOnce(ThreadSafety mode) throws Exception {
        try (FixedPool pool = FixedPool.builder(64).threadSafety(mode).build()) {
            AtomicReference<Long> parkedThere = new AtomicReference<>();
            CountDownLatch parked = new CountDownLatch(1);
            CountDownLatch checked = new CountDownLatch(1);
            Thread holder = new Thread(() -> {
                long b = pool.allocateAddress();
                pool.free(b); // parked in this thread's cache while the thread lives
                parkedThere.set(b);
                parked.countDown();
                assertDoesNotThrow(() -> checked.await());
            });
            holder.start();
            parked.await();
            long block = parkedThere.get();
            PoolStats before = pool.stats();
            DoubleFreeException twice = assertThrows(DoubleFreeException.class, () -> pool.free(block));
            assertTrue(twice.getMessage().contains(Long.toHexString(block)) && twice.getMessage().contains("parked"),
                    twice.getMessage());
            assertThrows(DoubleFreeException.class, () -> pool.free(new long[] {block}), "the batch free too");
            assertEquals(before, pool.stats(), "a refused free changes no counter");
            checked.countDown();
            holder.join();
            Set<Long> handedOut = new HashSet<>();
            for (int i = 0; i < 200; i++) {
                assertTrue(handedOut.add(pool.allocateAddress()), "a block handed out twice");
            }
            for (long address : handedOut) {
                pool.free(address);
            }
            pool.flushThreadCache();
            assertBalanced(pool.stats());
            pool.validate();
        }
    }

    @Test
    void racingFreesOfOneBlockParkItOnce() throws Exception {
        try (FixedPool pool = FixedPool.builder(64).threadSafety(ThreadSafety.LOCK_FREE).build()) {
            int rounds = 2_000;
            long[] blocks = new long[rounds];
            pool.allocate(rounds, blocks); // listed by no cache: the batch path
            for (int i = 0; i < rounds; i++) {
                pool.free(blocks[i]);
                blocks[i] = pool.allocateAddress(); // from this thread's cache, so listed
            }
            AtomicLong accepted = new AtomicLong();
            CyclicBarrier start = new CyclicBarrier(2);
            List<Runnable> racers = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                racers.add(() -> {
                    for (long block : blocks) {
                        try {
                            start.await();
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                        try {
                            pool.free(block);
                            accepted.incrementAndGet();
                        } catch (DoubleFreeException refused) {
                            // the other racer won
                        }
                    }
                    pool.flushThreadCache();
                });
            }
            runThreads(racers);
            assertEquals(rounds, accepted.get(), "exactly one free of each block is accepted");
            pool.flushThreadCache();
            PoolStats stats = pool.stats();
            assertEquals(0, stats.liveBlocks(), stats.toString());
            assertEquals(0, stats.cachedBlocks(), stats.toString());
            assertBalanced(stats);
            pool.validate();
        }
    }

    @Test
    void blocksHandedOutTwiceNeverComeFromTheCache() {
        try (FixedPool pool = FixedPool.builder(16).threadSafety(ThreadSafety.NONE).threadCache(8).build()) {
            Set<Long> held = new HashSet<>();
            Random random = new Random(7);
            for (int i = 0; i < 20_000; i++) {
                if (held.isEmpty() || random.nextInt(3) != 0) {
                    assertTrue(held.add(pool.allocateAddress()), "a block handed out twice");
                } else {
                    long victim = held.iterator().next();
                    held.remove(victim);
                    pool.free(victim);
                    assertThrows(InvalidFreeException.class, () -> pool.free(victim), "double free of " + victim);
                }
            }
            assertEquals(held.size(), pool.stats().liveBlocks());
            assertBalanced(pool.stats());
        }
    }

    @Test
    void threadCacheZeroTurnsCachingOff() {
        try (FixedPool pool = FixedPool.builder(64).threadCache(0).build()) {
            assertEquals(0, pool.threadCacheCapacity());
            long block = pool.allocateAddress();
            pool.free(block);
            PoolStats stats = pool.stats();
            assertEquals(1, stats.allocations());
            assertEquals(1, stats.frees(), "the free reached the pool at once");
            assertEquals(0, stats.cachedBlocks());
            assertDoesNotThrow(pool::flushThreadCache);
        }
        try (FixedPool guarded = FixedPool.builder(64).safetyLevel(SafetyLevel.CANARIES).build()) {
            assertEquals(0, guarded.threadCacheCapacity(), "safety levels above OFF check every free in the pool");
        }
        for (int capacity : new int[] {-1, 1, BlockCache.MAX_CAPACITY + 1}) {
            assertThrows(InvalidArgumentException.class, () -> FixedPool.builder(64).threadCache(capacity).build(),
                    "capacity " + capacity);
        }
    }

    @Test
    void aBlockLimitIsHonouredWithoutSpuriousFailures() {
        try (FixedPool pool = FixedPool.builder(64).maxBlocks(40).build()) {
            long[] blocks = new long[40];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = pool.allocateAddress();
            }
            assertThrows(OutOfPoolMemoryException.class, pool::allocateAddress);
            PoolStats stats = pool.stats();
            assertEquals(1, stats.failures(), "refills near the limit take only what is left");
            assertEquals(40, stats.allocations());
            pool.free(blocks[3]);
            assertEquals(blocks[3], pool.allocateAddress());
            pool.free(blocks);
            assertEquals(0, pool.stats().liveBlocks());
        }
    }

    @Test
    void handlesClosedAfterThePoolDoNothing() {
        FixedPool pool = FixedPool.builder(64).leakPolicy(LeakPolicy.IGNORE).build();
        MemoryBlock open = pool.allocate();
        MemoryBlock parked = pool.allocate();
        parked.close();
        pool.close();
        assertDoesNotThrow(open::close, "the pool released the block");
        assertDoesNotThrow(parked::close, "a second close does nothing");
        assertThrows(PoolClosedException.class, open::address);
    }
}
