package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nativepool.CacheChecks.assertBalanced;
import static org.nativepool.CacheChecks.free;
import static org.nativepool.CacheChecks.runThreads;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The transparent per-thread caches of VariablePool's small size classes. */
class VariableThreadCacheTest {
    /** The classes at granularity 16, as VariablePool documents them. */
    private static final long[] CLASSES = {16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072};
    /** The bytes of one block of every class: 10,176. */
    private static final long CLASS_BYTES = LongStream.of(CLASSES).sum();

    /** {@return what a block of {@code size} bytes at the default alignment counts for in a cached pool} */
    private static long counted(long size) {
        for (long cls : CLASSES) {
            if (size <= cls) {
                return cls;
            }
        }
        return nativeCounted(size);
    }

    /** What the native pool counts for a request it serves itself: its own classes, eight to a doubling to 4 KiB. */
    private static long nativeCounted(long size) {
        long step = size <= 1024 || size > 4096 ? 16 : Math.max(16, Long.highestOneBit(size - 1) / 8);
        return (size + step - 1) / step * step;
    }

    @ParameterizedTest
    @EnumSource(value = ThreadSafety.class, names = {"NONE", "MUTEX"})
    void statsCountEachCachedBlockAtItsClassSize(ThreadSafety mode) {
        try (VariablePool pool = VariablePool.builder().arenaSize(1 << 20).threadSafety(mode).build()) {
            assertEquals(PoolBuilder.DEFAULT_THREAD_CACHE, pool.threadCacheCapacity());
            Random random = new Random(11);
            List<long[]> live = new ArrayList<>();
            long inUse = 0;
            for (int step = 0; step < 20_000; step++) {
                if (live.isEmpty() || random.nextInt(100) < 55) {
                    long size = 1 + random.nextInt(random.nextBoolean() ? 1024 : 3000);
                    long address = pool.allocateAddress(size);
                    assertEquals(0, address % 16);
                    live.add(new long[] {address, counted(size)});
                    inUse += counted(size);
                } else {
                    long[] victim = live.remove(random.nextInt(live.size()));
                    pool.free(victim[0]);
                    inUse -= victim[1];
                }
                if (step % 997 == 0) {
                    PoolStats stats = pool.stats();
                    assertEquals(live.size(), stats.liveBlocks(), stats.toString());
                    assertEquals(inUse, stats.bytesInUse(), stats.toString());
                    assertBalanced(stats);
                }
            }
            PoolStats stats = pool.stats();
            assertTrue(stats.cachedBlocks() > 0, stats.toString());
            assertTrue(stats.allocations() < 20_000 * 55 / 100, "most allocations were cache hits: " + stats);
            live.forEach(block -> pool.free(block[0]));
            pool.flushThreadCache();
            PoolStats idle = pool.stats();
            assertEquals(0, idle.liveBlocks());
            assertEquals(0, idle.cachedBlocks());
            assertEquals(0, idle.cachedBytes());
            assertEquals(idle.allocations(), idle.frees());
            assertEquals(idle.bytesReserved(), idle.freeBytes());
            pool.validate();
            // trim() returns only arenas that are one free block (once the empty slabs the classes keep are back).
            assertEquals(idle.bytesReserved(), pool.trim(), "the flushed blocks coalesced: " + idle);
        }
    }

    @Test
    void eightThreadsWithCrossThreadFreesKeepExactStats() throws Exception {
        try (VariablePool pool = VariablePool.builder().arenaSize(1 << 20).build()) {
            int threads = 8;
            // Blocks in flight between threads, as {address, stamp}.
            ConcurrentLinkedQueue<long[]> handoff = new ConcurrentLinkedQueue<>();
            List<Runnable> tasks = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long seed = t + 1;
                // Sizes mostly up to 1 KiB, a quarter up to 8 KiB (above 3 KiB the pool's); an eighth aligned to 64.
                tasks.add(CacheChecks.worker(pool, seed, 30_000, handoff,
                        random -> pool.allocateAddress(size(random), random.nextInt(8) == 0 ? 64 : 0),
                        random -> pool.allocate(size(random))));
            }
            runThreads(tasks);
            for (long[] left; (left = handoff.poll()) != null;) {
                free(pool, left);
            }
            pool.flushThreadCache(); // this thread's cache took the handoff leftovers
            PoolStats stats = pool.stats();
            assertEquals(0, stats.liveBlocks(), stats.toString());
            assertEquals(0, stats.bytesInUse());
            assertEquals(0, stats.cachedBlocks(), "the caches of the ended threads went back: " + stats);
            assertEquals(stats.allocations(), stats.frees());
            assertEquals(stats.bytesReserved(), stats.freeBytes());
            pool.validate();
            CacheChecks.assertTrimsFully(pool);
        }
    }

    private static long size(Random random) {
        return 8 + random.nextInt(random.nextInt(4) == 0 ? 8000 : 1017);
    }

    @Test
    void eachThreadParksAtMostTheCapacityPerClass() throws Exception {
        int capacity = 16;
        try (VariablePool pool = VariablePool.builder().threadCache(capacity).build()) {
            long[] blocks = new long[500];
            for (long size : CLASSES) {
                for (int i = 0; i < blocks.length; i++) {
                    blocks[i] = pool.allocateAddress(size);
                }
                for (long block : blocks) {
                    pool.free(block);
                }
                PoolStats stats = pool.stats();
                // The thread's cache and the class's depot (2 × capacity) per class.
                assertTrue(stats.cachedBlocks() <= 3 * capacity * CLASSES.length, stats.toString());
                assertBalanced(stats);
            }
            PoolStats stats = pool.stats();
            long perThreadBytes = capacity * CLASS_BYTES;
            assertTrue(stats.cachedBlocks() >= CLASSES.length, "every class parks some: " + stats);
            assertTrue(stats.cachedBlocks() <= 3 * capacity * CLASSES.length, stats.toString());
            assertTrue(stats.cachedBytes() <= 3 * perThreadBytes, "a thread's caches and the depots: " + stats);
            pool.flushThreadCache();
            assertEquals(0, pool.stats().cachedBlocks(), "the flush emptied the depots too");
            stats = pool.stats();
            assertEquals(0, stats.liveBlocks());
            assertEquals(0, stats.bytesInUse());
        }
    }

    @Test
    void shortLivedThreadsGiveTheirCachesBack() throws Exception {
        try (VariablePool pool = VariablePool.builder().arenaSize(1 << 20).build()) {
            for (int round = 0; round < 1_000; round++) {
                Thread thread = new Thread(() -> {
                    long[] blocks = new long[CLASSES.length];
                    for (int i = 0; i < blocks.length; i++) {
                        blocks[i] = pool.allocateAddress(CLASSES[i]);
                    }
                    for (long block : blocks) {
                        pool.free(block);
                    }
                });
                thread.start();
                thread.join();
            }
            PoolStats stats = pool.stats();
            // Each thread's refills take 32 blocks of every class, 318 KiB: 1,000 unswept threads would
            // hold 310 MiB; the registry's sweeps keep a few dozen threads' worth at most (about 20 here:
            // a sweep runs once 16 threads have caches), in arenas somewhat larger: 9-10 MiB measured.
            // (peakBytesInUse, the sum of each native thread's own peak, bounds the true peak from above.)
            long perThread = 32 * CLASS_BYTES;
            assertTrue(stats.peakBytesReserved() <= 48 * perThread, "at most 48 threads' worth: " + stats);
            assertEquals(0, stats.cachedBlocks(), "every thread has ended: " + stats);
            assertEquals(0, stats.liveBlocks());
            assertEquals(stats.allocations(), stats.frees());
            assertEquals(stats.bytesReserved(), stats.freeBytes());
        }
    }

    @Test
    void badFreesAreRefusedAtOnce() {
        try (VariablePool pool = VariablePool.builder().arenaSize(1 << 20).build()) {
            long keep = pool.allocateAddress(100);
            long other = pool.allocateAddress(100);
            pool.free(other);
            PoolStats before = pool.stats();
            assertThrows(InvalidFreeException.class, () -> pool.free(keep + 16), "interior pointer");
            assertThrows(InvalidFreeException.class, () -> pool.free(keep + 3), "off the granularity");
            assertThrows(InvalidFreeException.class, () -> pool.free(0), "null");
            assertThrows(InvalidFreeException.class, () -> pool.free(12345678L), "foreign");
            assertThrows(DoubleFreeException.class, () -> pool.free(other), "parked in this thread's cache");
            PoolStats after = pool.stats();
            assertEquals(before.liveBlocks(), after.liveBlocks());
            assertEquals(before.cachedBlocks(), after.cachedBlocks());
            assertEquals(before.bytesInUse(), after.bytesInUse());
            assertEquals(before.frees(), after.frees());
            pool.flushThreadCache();
            // The pool merged it with its free neighbours: it refuses the address as no block in use.
            assertThrows(InvalidFreeException.class, () -> pool.free(other), "the pool holds it free");
            pool.free(keep);
            assertThrows(DoubleFreeException.class, () -> pool.free(keep));
            pool.validate();
        }
    }

    @Test
    void aFreeOnAnotherThreadParksInThatThreadsCacheOfTheClass() throws Exception {
        try (VariablePool pool = VariablePool.builder().build()) {
            long[] blocks = new long[10];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = pool.allocateAddress(i % 2 == 0 ? 100 : 700);
            }
            PoolStats before = pool.stats();
            long cachedBefore = before.cachedBlocks();
            long cachedBytesBefore = before.cachedBytes();
            AtomicReference<PoolStats> seen = new AtomicReference<>();
            runThreads(List.of(() -> {
                for (long block : blocks) {
                    pool.free(block);
                }
                seen.set(pool.stats());
                // The blocks went back to their classes: a new allocation of either size reuses one.
                long again = pool.allocateAddress(120);
                assertEquals(blocks[8], again, "the last 128-byte class block freed here comes out first");
                pool.free(again);
            }));
            assertEquals(cachedBefore + blocks.length, seen.get().cachedBlocks(), seen.get().toString());
            assertEquals(cachedBytesBefore + 5 * 128 + 5 * 768, seen.get().cachedBytes(), seen.get().toString());
            assertEquals(0, seen.get().liveBlocks());
        }
    }

    @Test
    void largeSizesAndBigAlignmentsGoToThePool() {
        try (VariablePool pool = VariablePool.builder().build()) {
            for (long[] request : new long[][] {{3073, 0}, {4000, 0}, {5000, 0}, {100, 64}, {1024, 4096}, {16, 32}}) {
                long allocations = pool.stats().allocations();
                long address = pool.allocateAddress(request[0], request[1]);
                PoolStats stats = pool.stats();
                assertEquals(allocations + 1, stats.allocations(), "one native call each");
                assertEquals(0, stats.cachedBlocks(), stats.toString());
                assertEquals(nativeCounted(request[0]), stats.bytesInUse(), "the pool's own rounding");
                if (request[1] != 0) {
                    assertEquals(0, address % request[1]);
                }
                pool.free(address);
                assertEquals(0, pool.stats().cachedBlocks(), "freed to the pool");
            }
            // Bad small requests reach the pool too, which refuses them as it would without caches.
            assertThrows(InvalidArgumentException.class, () -> pool.allocateAddress(100, 3), "alignment 3");
            assertThrows(InvalidArgumentException.class, () -> pool.allocateAddress(100, -16), "negative alignment");
            assertThrows(InvalidArgumentException.class, () -> pool.allocateAddress(0), "size 0");
            assertEquals(0, pool.stats().cachedBlocks());
        }
    }

    /**
     * A cached MUTEX pool is sharded by thread natively: a second thread's sizes above the classes
     * come from a shard of its own, which maps an arena of its own, where the uncached pool (one
     * shard, one lock) serves both threads from one arena.
     */
    @Test
    void twoThreadsAllocateFromShardsOfTheirOwn() throws Exception {
        int cpus = Runtime.getRuntime().availableProcessors();
        if (cpus < 2) {
            System.out.println("twoThreadsAllocateFromShardsOfTheirOwn: skipped, one hardware thread means one shard");
            return;
        }
        long arena = 1 << 20;
        for (int cache : new int[] {PoolBuilder.DEFAULT_THREAD_CACHE, 0}) {
            try (VariablePool pool = VariablePool.builder().arenaSize(arena).threadCache(cache).build()) {
                CountDownLatch allocated = new CountDownLatch(1);
                CountDownLatch checked = new CountDownLatch(1);
                AtomicReference<Throwable> failure = new AtomicReference<>();
                Thread first = new Thread(() -> {
                    try {
                        long address = pool.allocateAddress(4096);
                        allocated.countDown();
                        checked.await(); // stays alive, at home in its shard, while the second allocates
                        pool.free(address);
                    } catch (Throwable t) {
                        failure.set(t);
                        allocated.countDown();
                    }
                });
                first.start();
                allocated.await();
                long second = pool.allocateAddress(4096);
                PoolStats stats = pool.stats();
                checked.countDown();
                first.join();
                assertEquals(null, failure.get());
                assertEquals(cache == 0 ? arena : 2 * arena, stats.bytesReserved(),
                        (cache == 0 ? "one shard: " : "a shard per thread: ") + stats);
                assertEquals(2, stats.liveBlocks(), stats.toString());
                pool.free(second);
                PoolStats idle = pool.stats();
                assertEquals(0, idle.liveBlocks(), idle.toString());
                assertBalanced(idle);
                pool.validate();
            }
        }
    }

    /**
     * Blocks of a batch are not listed in Java's caches, so their single frees reach the pool, whose
     * native caches park them; they stay free blocks in the statistics and serve the pool again.
     */
    @Test
    void singleFreesOfBatchBlocksStayExactThroughTheNativeCaches() {
        try (VariablePool pool = VariablePool.builder().build()) {
            long[] batch = new long[100];
            pool.allocate(batch.length, 64, batch);
            PoolStats full = pool.stats();
            assertEquals(100, full.liveBlocks(), full.toString());
            assertEquals(100 * 64, full.bytesInUse(), full.toString());
            for (long address : batch) {
                pool.free(address);
            }
            PoolStats freed = pool.stats();
            assertEquals(0, freed.liveBlocks(), freed.toString());
            assertEquals(0, freed.bytesInUse(), freed.toString());
            assertEquals(0, freed.cachedBlocks(), "none in Java's caches: " + freed);
            assertBalanced(freed);
            assertThrows(DoubleFreeException.class, () -> pool.free(batch[0]), "parked natively, still refused");
            pool.validate();
            pool.allocate(batch.length, 64, batch);
            assertEquals(100, pool.stats().liveBlocks());
            pool.free(batch);
            pool.flushThreadCache();
            PoolStats idle = pool.stats();
            assertEquals(0, idle.liveBlocks(), idle.toString());
            assertEquals(idle.bytesReserved(), idle.freeBytes(), idle.toString());
        }
    }

    @Test
    void aHandleKeepsTheSizeAskedForWhileItsBlockCountsAsItsClass() {
        try (VariablePool pool = VariablePool.builder().build()) {
            MemoryBlock block = pool.allocate(100);
            assertEquals(100, block.size());
            assertEquals(128, pool.stats().bytesInUse());
            block.putByte(99, (byte) 1);
            assertThrows(IndexOutOfBoundsException.class, () -> block.putByte(100, (byte) 1),
                    "bounds are those of the size asked for");
            block.close();
            assertEquals(0, pool.stats().bytesInUse());
            assertEquals(0, pool.stats().liveBlocks());
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {64, 256})
    void coarserGranularitiesHaveFewerClasses(long granularity) {
        try (VariablePool pool = VariablePool.builder().granularity(granularity).build()) {
            long address = pool.allocateAddress(20);
            assertEquals(0, address % granularity);
            assertEquals(granularity, pool.stats().bytesInUse(), "the smallest class is the granularity");
            pool.free(address);
            assertTrue(pool.stats().cachedBlocks() > 0);
        }
    }

    @Test
    void threadCacheZeroAndFineGranularitiesAndSafetyLevelsTurnThemOff() {
        try (VariablePool off = VariablePool.builder().threadCache(0).build();
             VariablePool fine = VariablePool.builder().granularity(8).build();
             VariablePool guarded = VariablePool.builder().safetyLevel(SafetyLevel.CANARIES).build()) {
            for (VariablePool pool : List.of(off, fine, guarded)) {
                assertEquals(0, pool.threadCacheCapacity(), pool.toString());
                for (int i = 0; i < 10; i++) {
                    pool.free(pool.allocateAddress(100));
                }
                PoolStats stats = pool.stats();
                assertEquals(10, stats.allocations(), "every call reaches the pool: " + stats);
                assertEquals(0, stats.cachedBlocks());
                assertDoesNotThrow(pool::flushThreadCache);
            }
        }
        assertThrows(InvalidArgumentException.class, () -> VariablePool.builder().threadCache(1).build());
    }

    @Test
    void aBoundedPoolFillsAsFarThroughTheCachesAsWithout() {
        int[] counts = new int[2];
        long[] failures = new long[2];
        for (int cached = 0; cached < 2; cached++) {
            try (VariablePool pool = VariablePool.builder().arenaSize(64 << 10).maxCapacity(64 << 10)
                    .threadCache(cached == 0 ? 0 : 64).build()) {
                // 1000 bytes through the caches are a block of the 1024-byte class, as asked for without them.
                long size = cached == 0 ? 1024 : 1000;
                List<Long> blocks = new ArrayList<>();
                assertThrows(OutOfPoolMemoryException.class, () -> {
                    while (true) {
                        blocks.add(pool.allocateAddress(size));
                    }
                });
                counts[cached] = blocks.size();
                failures[cached] = pool.stats().failures();
                blocks.forEach(pool::free);
            }
        }
        assertEquals(counts[0], counts[1], "the caches reach the limit, no further and no less");
        assertEquals(failures[0], failures[1], "and leave the failures one allocation would");
    }

    @Test
    void closingThePoolReleasesParkedBlocksWithoutALeak() {
        VariablePool pool = VariablePool.builder().leakPolicy(LeakPolicy.THROW).build();
        long address = pool.allocateAddress(300);
        pool.free(address);
        assertTrue(pool.stats().cachedBlocks() > 0);
        assertDoesNotThrow(pool::close, "parked blocks are no leak");
        assertThrows(PoolClosedException.class, () -> pool.allocateAddress(300));
        assertThrows(PoolClosedException.class, () -> pool.free(address));
    }
}
