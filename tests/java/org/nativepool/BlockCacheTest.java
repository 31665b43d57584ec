package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class BlockCacheTest {

    /** The identity every snapshot taken with no thread inside the pool must satisfy. */
    private static void assertBalanced(PoolStats stats) {
        assertEquals(stats.allocations() - stats.frees(), stats.liveBlocks() + stats.cachedBlocks(), stats.toString());
    }

    @ParameterizedTest
    @EnumSource(ThreadSafety.class)
    void statsCountParkedBlocksAsCachedAndUserBlocksAsLive(ThreadSafety mode) {
        try (FixedPool pool = FixedPool.builder(64).threadSafety(mode).build();
             BlockCache cache = pool.newCache(8)) {
            long[] held = new long[3];
            for (int i = 0; i < held.length; i++) {
                held[i] = cache.allocate();
            }
            PoolStats stats = pool.stats();
            assertEquals(4, stats.allocations(), "one refill of capacity / 2 blocks");
            assertEquals(3, stats.liveBlocks());
            assertEquals(3 * 64, stats.bytesInUse());
            assertEquals(1, stats.cachedBlocks());
            assertEquals(64, stats.cachedBytes());
            assertBalanced(stats);

            for (long address : held) {
                cache.free(address);
            }
            stats = pool.stats();
            assertEquals(0, stats.liveBlocks());
            assertEquals(4, stats.cachedBlocks());
            assertEquals(cache.size(), stats.cachedBlocks());
            assertBalanced(stats);
        }
    }

    @Test
    void refillsAndDrainsKeepTheAccountsExact() {
        try (FixedPool pool = FixedPool.builder(32).threadSafety(ThreadSafety.NONE).build();
             BlockCache cache = pool.newCache(16)) {
            Set<Long> distinct = new HashSet<>();
            long[] held = new long[100];
            for (int i = 0; i < held.length; i++) {
                held[i] = cache.allocate();
                assertTrue(distinct.add(held[i]), "a cached block was handed out twice");
                assertBalanced(pool.stats());
            }
            assertEquals(100, pool.stats().liveBlocks());
            for (long address : held) {
                cache.free(address);
                assertBalanced(pool.stats());
            }
            PoolStats stats = pool.stats();
            assertEquals(0, stats.liveBlocks());
            assertEquals(cache.size(), stats.cachedBlocks());
            assertTrue(cache.size() <= cache.capacity());
            cache.close();
            stats = pool.stats();
            assertEquals(0, stats.cachedBlocks());
            assertEquals(stats.allocations(), stats.frees());
            pool.validate();
        }
    }

    @ParameterizedTest
    @EnumSource(value = ThreadSafety.class, names = {"MUTEX", "LOCK_FREE"})
    void blocksMayBeFreedIntoAnotherThreadsCache(ThreadSafety mode) throws Exception {
        try (FixedPool pool = FixedPool.builder(128).threadSafety(mode).build()) {
            BlockingQueue<Long> handOver = new ArrayBlockingQueue<>(1024);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            int blocks = 1000;
            Thread producer = new Thread(() -> {
                try (BlockCache cache = pool.newCache(32)) {
                    for (int i = 0; i < blocks; i++) {
                        handOver.put(cache.allocate());
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            });
            Thread consumer = new Thread(() -> {
                try (BlockCache cache = pool.newCache(32)) {
                    for (int i = 0; i < blocks; i++) {
                        cache.free(handOver.take());
                    }
                    PoolStats midway = pool.stats();
                    assertTrue(midway.cachedBlocks() >= cache.size(), midway.toString());
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            });
            producer.start();
            consumer.start();
            producer.join();
            consumer.join();
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
            PoolStats stats = pool.stats();
            assertEquals(0, stats.liveBlocks(), stats.toString());
            assertEquals(0, stats.cachedBlocks(), stats.toString());
            assertEquals(stats.allocations(), stats.frees());
            pool.validate();
        }
    }

    @Test
    void closingThePoolWithParkedBlocksReportsNoLeak() {
        FixedPool pool = FixedPool.builder(64).leakPolicy(LeakPolicy.THROW).build();
        BlockCache cache = pool.newCache(8);
        cache.free(cache.allocate());
        assertEquals(4, pool.stats().cachedBlocks());
        assertDoesNotThrow(pool::close);
        assertThrows(PoolClosedException.class, cache::allocate);
        assertThrows(PoolClosedException.class, () -> cache.free(0x1000));
        assertDoesNotThrow(cache::close);
        assertDoesNotThrow(cache::close);
    }

    @Test
    void blocksHeldByTheUserAreStillLeaks() {
        FixedPool pool = FixedPool.builder(64).leakPolicy(LeakPolicy.THROW).build();
        try (BlockCache cache = pool.newCache(8)) {
            cache.allocate();
            PoolLeakException leak = assertThrows(PoolLeakException.class, pool::close);
            assertTrue(leak.getMessage().contains("1 live block"), leak.getMessage());
        }
    }

    @Test
    void aCacheBelongsToItsThread() throws Exception {
        try (FixedPool pool = FixedPool.builder(64).build(); BlockCache cache = pool.newCache(8)) {
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            Thread other = new Thread(() -> {
                try {
                    cache.allocate();
                } catch (Throwable t) {
                    thrown.set(t);
                }
            });
            other.start();
            other.join();
            assertTrue(thrown.get() instanceof IllegalStateException, String.valueOf(thrown.get()));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 64})
    void doubleFreesAreRefusedAtOnceAndNoBlockIsHandedOutTwice(int threadCache) {
        try (FixedPool pool = FixedPool.builder(64).threadCache(threadCache).threadSafety(ThreadSafety.MUTEX)
                .leakPolicy(LeakPolicy.IGNORE).build();
             FixedPool stranger = FixedPool.builder(64).build()) {
            BlockCache cache = pool.newCache(4);
            long address = cache.allocate();
            cache.free(address);
            PoolStats before = pool.stats();
            DoubleFreeException twice = assertThrows(DoubleFreeException.class, () -> cache.free(address));
            assertTrue(twice.getMessage().contains(Long.toHexString(address)), twice.getMessage());
            assertThrows(DoubleFreeException.class, () -> pool.free(address), "cache free, then pool free");
            assertThrows(DoubleFreeException.class, () -> pool.free(new long[] {address}), "then a batch free");
            long foreign = stranger.allocateAddress();
            assertThrows(InvalidFreeException.class, () -> cache.free(foreign), "a block of another pool");
            assertEquals(before, pool.stats(), "refused frees change no counter");

            long fromPool = pool.allocateAddress();
            pool.free(fromPool);
            assertThrows(DoubleFreeException.class, () -> cache.free(fromPool), "pool free, then cache free");

            assertTrue(cache.allocate() != cache.allocate(), "one block handed out twice");
            cache.close();
            stranger.free(foreign);
        }
    }

    @Test
    void closeReturnsEveryBlockParkedAfterARefusedFree() {
        try (FixedPool pool = FixedPool.builder(64).threadSafety(ThreadSafety.MUTEX).build()) {
            BlockCache cache = pool.newCache(8);
            long[] blocks = new long[6];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = cache.allocate();
            }
            cache.free(blocks[0]);
            assertThrows(DoubleFreeException.class, () -> cache.free(blocks[0]));
            assertThrows(InvalidFreeException.class, () -> cache.free(blocks[1] + 8));
            for (int i = 1; i < blocks.length; i++) {
                cache.free(blocks[i]);
            }
            cache.close();
            PoolStats stats = pool.stats();
            assertEquals(0, stats.liveBlocks(), stats.toString());
            assertEquals(0, stats.cachedBlocks(), stats.toString());
            assertBalanced(stats);
            pool.validate();
        }
    }

    @Test
    void addressesNoBlockCanHaveAreRefusedAtOnce() {
        try (FixedPool pool = FixedPool.builder(64).alignment(64).build();
                BlockCache cache = pool.newCache(4)) {
            long block = cache.allocate();
            int parked = cache.size();
            assertThrows(InvalidFreeException.class, () -> cache.free(0L));
            assertThrows(InvalidFreeException.class, () -> cache.free(block + 8));
            assertEquals(parked, cache.size(), "a refused address was parked");
            cache.free(block);
            assertEquals(block, cache.allocate(), "the cache still works");
            cache.free(block);
        }
    }

    @Test
    void capacitiesOutOfRangeAreRejected() {
        try (FixedPool pool = FixedPool.builder(64).build()) {
            for (int capacity : new int[] {-1, 0, 1, BlockCache.MAX_CAPACITY + 1, Integer.MAX_VALUE}) {
                assertThrows(InvalidArgumentException.class, () -> pool.newCache(capacity), "capacity " + capacity);
            }
        }
    }
}
