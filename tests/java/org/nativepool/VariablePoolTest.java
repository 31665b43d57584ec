package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class VariablePoolTest {

    @ParameterizedTest
    @ValueSource(longs = {16, 32, 64, 256, 4096, 65536})
    void honoursEveryPowerOfTwoAlignment(long alignment) {
        try (VariablePool pool = VariablePool.builder().arenaSize(1 << 20).build()) {
            for (int i = 1; i < 50; i++) {
                long address = pool.allocateAddress(i * 7L, alignment);
                assertEquals(0, address % alignment);
            }
            pool.validate();
        }
    }

    @ParameterizedTest
    @EnumSource(value = ThreadSafety.class, names = {"NONE", "MUTEX"})
    void freeingEverythingCoalescesEachArenaIntoOneBlock(ThreadSafety mode) {
        try (VariablePool pool = VariablePool.builder().arenaSize(1 << 20).threadSafety(mode).build()) {
            Random random = new Random(42);
            List<MemoryBlock> blocks = new ArrayList<>();
            for (int i = 0; i < 3000; i++) {
                MemoryBlock block = pool.allocate(1 + random.nextInt(2000));
                block.putByte(0, (byte) i);
                blocks.add(block);
            }
            PoolStats busy = pool.stats();
            assertEquals(3000, busy.liveBlocks());
            assertTrue(busy.regions() >= 3, busy.toString());
            Collections.shuffle(blocks, random);
            for (MemoryBlock block : blocks) {
                block.close();
            }
            assertTrue(pool.stats().cachedBlocks() > 0, "the small blocks are parked in this thread's caches");
            pool.flushThreadCache();
            PoolStats idle = pool.stats();
            assertEquals(0, idle.cachedBlocks());
            assertEquals(0, idle.bytesInUse());
            assertEquals(idle.bytesReserved(), idle.freeBytes());
            pool.validate();
            // trim() returns only arenas that are one free block, once the one empty slab each
            // size class keeps has gone back: all of them.
            assertEquals(idle.bytesReserved(), pool.trim(), "one free block per arena: " + idle);
        }
    }

    /** {@return this process's resident anonymous memory, from /proc/self/status} */
    private static long residentAnonymousBytes() throws java.io.IOException {
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
            if (line.startsWith("RssAnon:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no RssAnon in /proc/self/status");
    }

    /**
     * trim() gives the pages of free blocks back to the system, over both host backends, unless a region
     * listener may have registered them; the blocks that stay live keep their bytes.
     */
    @Test
    void trimGivesTheFreePagesBackUnlessAListenerMayHaveRegisteredThem() throws Exception {
        RegionListener listener = new RegionListener() {
            @Override
            public void mapped(long address, long bytes) {
            }

            @Override
            public void unmapped(long address, long bytes) {
            }
        };
        long block = 256 << 10;
        int blocks = 256; // 64 MiB, half of it freed
        for (Backend backend : List.of(Backend.malloc(), Backend.mmap(), Backend.mmap().withRegionListener(listener))) {
            try (VariablePool pool = VariablePool.builder().arenaSize(16 << 20).backend(backend).build()) {
                List<MemoryBlock> live = new ArrayList<>();
                for (int i = 0; i < blocks; i++) {
                    MemoryBlock b = pool.allocate(block);
                    for (long offset = 0; offset < block; offset += 4096) {
                        b.putByte(offset, (byte) i);
                    }
                    live.add(b);
                }
                for (int i = 0; i < blocks; i += 2) {
                    live.get(i).close();
                }
                long before = residentAnonymousBytes();
                assertEquals(0, pool.trim(), "every arena still holds live blocks: " + backend);
                long dropped = before - residentAnonymousBytes();
                long freed = blocks / 2 * block;
                if (backend.toString().endsWith("+listener")) {
                    assertTrue(dropped < freed / 4, backend + " kept them: dropped " + dropped);
                } else {
                    assertTrue(dropped > freed / 2, backend + " released them: dropped " + dropped + " of " + freed);
                }
                for (int i = 1; i < blocks; i += 2) {
                    assertEquals((byte) i, live.get(i).getByte(block / 2), "a live block keeps its bytes");
                    live.get(i).close();
                }
                pool.validate();
            }
        }
    }

    @Test
    void exhaustionReportsTheFragmentationFigures() {
        // No thread caches: the frees must reach the pool to leave the holes measured here.
        try (VariablePool pool = VariablePool.builder().arenaSize(64 << 10).maxCapacity(64 << 10).threadCache(0)
                .build()) {
            long[] blocks = new long[64];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = pool.allocateAddress(1024);
            }
            for (int i = 0; i < blocks.length; i += 2) {
                pool.free(blocks[i]);
            }
            OutOfPoolMemoryException e = assertThrows(OutOfPoolMemoryException.class,
                    () -> pool.allocateAddress(2048));
            assertEquals(2048, e.requestedBytes());
            assertEquals(32 * 1024, e.freeBytes());
            assertEquals(1024, e.largestFreeBlock());
            assertEquals(32, e.freeBlocks());
            assertEquals(1.0 - 1024.0 / (32 * 1024), e.externalFragmentation(), 1e-9);
            assertTrue(e.getMessage().contains("2048"), e.getMessage());
            assertEquals(1, pool.stats().failures());
            pool.validate();
        }
    }

    @Test
    void badRequestsAreRejectedAndThePoolIsUnchanged() {
        try (VariablePool pool = VariablePool.builder().maxCapacity(1 << 20).arenaSize(1 << 20).build()) {
            long keep = pool.allocateAddress(100);
            PoolStats before = pool.stats();
            assertThrows(InvalidArgumentException.class, () -> pool.allocateAddress(0), "zero size");
            assertThrows(InvalidArgumentException.class, () -> pool.allocateAddress(-1), "negative size");
            assertThrows(InvalidArgumentException.class, () -> pool.allocateAddress(64, 48), "alignment 48");
            assertThrows(InvalidArgumentException.class, () -> pool.allocateAddress(64, -8), "negative alignment");
            assertThrows(NativePoolException.class, () -> pool.allocateAddress(Long.MAX_VALUE), "huge size");
            assertThrows(OutOfPoolMemoryException.class, () -> pool.allocateAddress(2 << 20), "over capacity");
            assertThrows(InvalidFreeException.class, () -> pool.free(keep + 16), "interior pointer");
            assertThrows(InvalidFreeException.class, () -> pool.free(0), "null");
            assertThrows(InvalidFreeException.class, () -> pool.free(12345678L), "foreign");
            PoolStats after = pool.stats();
            assertEquals(before.liveBlocks(), after.liveBlocks());
            assertEquals(before.bytesInUse(), after.bytesInUse());
            assertEquals(before.bytesReserved(), after.bytesReserved());
            pool.validate();
            pool.free(keep);
            assertThrows(DoubleFreeException.class, () -> pool.free(keep));
            pool.validate();
        }
    }

    @Test
    void badConfigurationsAreRejected() {
        assertThrows(InvalidArgumentException.class,
                () -> VariablePool.builder().threadSafety(ThreadSafety.LOCK_FREE).build());
        assertThrows(InvalidArgumentException.class, () -> VariablePool.builder().granularity(24).build());
        assertThrows(InvalidArgumentException.class, () -> VariablePool.builder().arenaSize(0).build());
        assertThrows(InvalidArgumentException.class, () -> VariablePool.builder().arenaSize(-1).build());
        assertThrows(InvalidArgumentException.class, () -> VariablePool.builder().maxCapacity(-1).build());
    }

    @Test
    void requestsLargerThanAnArenaGetTheirOwn() {
        try (VariablePool pool = VariablePool.builder().arenaSize(1 << 20).build()) {
            MemoryBlock big = pool.allocate(5 << 20);
            big.putByte((5 << 20) - 1, (byte) 9);
            assertEquals(9, big.getByte((5 << 20) - 1));
            assertTrue(pool.stats().bytesReserved() >= 5 << 20);
            big.close();
            assertTrue(pool.trim() >= 5 << 20);
            assertEquals(0, pool.stats().bytesReserved());
        }
    }

    @Test
    void statsAreExactAfterARandomSequence() {
        // The pool's own counting, every call a native one; VariableThreadCacheTest checks it through the caches.
        try (VariablePool pool = VariablePool.builder().arenaSize(256 << 10).threadCache(0).build()) {
            Random random = new Random(7);
            List<long[]> live = new ArrayList<>();
            long allocations = 0;
            long frees = 0;
            long inUse = 0;
            long peak = 0;
            for (int step = 0; step < 20000; step++) {
                if (live.isEmpty() || random.nextInt(100) < 55) {
                    long size = 1 + random.nextInt(5000);
                    long address = pool.allocateAddress(size);
                    long rounded = (size + 15) & ~15L;
                    live.add(new long[] {address, rounded});
                    allocations++;
                    inUse += rounded;
                    peak = Math.max(peak, inUse);
                } else {
                    long[] victim = live.remove(random.nextInt(live.size()));
                    pool.free(victim[0]);
                    frees++;
                    inUse -= victim[1];
                }
            }
            PoolStats stats = pool.stats();
            assertEquals(allocations, stats.allocations());
            assertEquals(frees, stats.frees());
            assertEquals(live.size(), stats.liveBlocks());
            assertEquals(inUse, stats.bytesInUse());
            assertEquals(peak, stats.peakBytesInUse());
            assertEquals(stats.bytesReserved() - inUse, stats.freeBytes());
            pool.validate();
        }
    }
}
