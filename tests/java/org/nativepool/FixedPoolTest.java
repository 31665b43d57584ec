package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class FixedPoolTest {

    @ParameterizedTest
    @EnumSource(ThreadSafety.class)
    void blocksAreDistinctAlignedAndWritable(ThreadSafety mode) {
        // Without thread caches, so that the pool itself counts each allocation and free.
        try (FixedPool pool = FixedPool.builder(100).alignment(64).threadSafety(mode).threadCache(0).build()) {
            assertEquals(100, pool.blockSize());
            assertEquals(64, pool.alignment());
            Set<Long> seen = new HashSet<>();
            MemoryBlock[] blocks = new MemoryBlock[500];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = pool.allocate();
                assertEquals(0, blocks[i].address() % 64, "alignment");
                assertTrue(seen.add(blocks[i].address()), "distinct");
                blocks[i].putInt(96, i);
            }
            for (int i = 0; i < blocks.length; i++) {
                assertEquals(i, blocks[i].getInt(96), "no block overwrote another");
                blocks[i].close();
            }
            PoolStats stats = pool.stats();
            assertEquals(500, stats.allocations());
            assertEquals(500, stats.frees());
            assertEquals(0, stats.liveBlocks());
            assertEquals(0, stats.bytesInUse());
            assertEquals(500 * 128, stats.peakBytesInUse(), "a block counts as its 128-byte stride");
            pool.validate();
        }
    }

    @Test
    void growsToTheMaximumThenReportsExhaustionAndRecovers() {
        try (FixedPool pool = FixedPool.builder(256).blocksPerChunk(8).maxBlocks(20).build()) {
            long[] blocks = new long[20];
            for (int i = 0; i < 20; i++) {
                blocks[i] = pool.allocateAddress();
            }
            OutOfPoolMemoryException e = assertThrows(OutOfPoolMemoryException.class, pool::allocateAddress);
            assertEquals(256, e.requestedBytes());
            assertEquals(0, e.freeBytes());
            assertTrue(e.getMessage().contains("20"), e.getMessage());
            PoolStats stats = pool.stats();
            assertEquals(1, stats.failures());
            assertEquals(20, stats.liveBlocks());
            assertEquals(3, stats.regions(), "chunks of 8, 8 and 4 blocks");
            pool.free(blocks[7]);
            long again = pool.allocateAddress();
            assertEquals(blocks[7], again, "the freed block is reused");
            pool.free(blocks);
            assertEquals(0, pool.stats().liveBlocks());
            pool.validate();
        }
    }

    @Test
    void batchAllocationIsAllOrNothing() {
        try (FixedPool pool = FixedPool.builder(64).maxBlocks(100).build()) {
            long[] first = new long[60];
            pool.allocate(60, first);
            assertEquals(60, Arrays.stream(first).distinct().count());
            long[] second = new long[60];
            assertThrows(OutOfPoolMemoryException.class, () -> pool.allocate(60, second));
            assertArrayEquals(new long[60], second, "nothing handed out on failure");
            PoolStats stats = pool.stats();
            assertEquals(60, stats.liveBlocks(), "the partial batch was rolled back");
            pool.free(first, 60);
            assertEquals(0, pool.stats().liveBlocks());
            pool.validate();
        }
    }

    @Test
    void batchFreeStopsAtTheFirstBadAddressAndSaysWhere() {
        try (FixedPool pool = FixedPool.builder(64).build()) {
            long[] blocks = new long[4];
            pool.allocate(4, blocks);
            long[] mixed = {blocks[0], blocks[1], blocks[0], blocks[2]};
            DoubleFreeException e = assertThrows(DoubleFreeException.class, () -> pool.free(mixed));
            assertTrue(e.getMessage().contains("addresses[2]"), e.getMessage());
            assertEquals(2, pool.stats().liveBlocks(), "blocks 2 and 3 are still allocated");
            pool.free(new long[] {blocks[2], blocks[3]});
            pool.validate();
        }
    }

    @ParameterizedTest
    @EnumSource(ThreadSafety.class)
    void everyBadFreeIsRejectedAndThePoolStaysConsistent(ThreadSafety mode) {
        try (FixedPool pool = FixedPool.builder(128).threadSafety(mode).build()) {
            long block = pool.allocateAddress();
            long other = pool.allocateAddress();
            assertThrows(InvalidFreeException.class, () -> pool.free(0L), "null");
            assertThrows(InvalidFreeException.class, () -> pool.free(block + 8), "interior pointer");
            assertThrows(InvalidFreeException.class, () -> pool.free(0x10L), "foreign address");
            try (FixedPool stranger = FixedPool.builder(128).build()) {
                long foreign = stranger.allocateAddress();
                assertThrows(InvalidFreeException.class, () -> pool.free(foreign), "block of another pool");
            }
            pool.free(block);
            DoubleFreeException twice = assertThrows(DoubleFreeException.class, () -> pool.free(block));
            assertTrue(twice.getMessage().contains(Long.toHexString(block)), twice.getMessage());
            PoolStats stats = pool.stats();
            assertEquals(1, stats.liveBlocks());
            assertEquals(stats.allocations() - stats.frees(), stats.liveBlocks() + stats.cachedBlocks(),
                    "the good free went to the thread cache");
            pool.validate();
            pool.free(other);
        }
    }

    @Test
    void badConfigurationsAreRejected() {
        assertThrows(InvalidArgumentException.class, () -> FixedPool.builder(0).build(), "zero block size");
        assertThrows(InvalidArgumentException.class, () -> FixedPool.builder(-1).build(), "negative block size");
        assertThrows(InvalidArgumentException.class, () -> FixedPool.builder(Long.MAX_VALUE).build(), "huge");
        assertThrows(InvalidArgumentException.class, () -> FixedPool.builder(64).alignment(24).build(),
                "alignment not a power of two");
        assertThrows(InvalidArgumentException.class, () -> FixedPool.builder(64).alignment(-16).build(),
                "negative alignment");
        assertThrows(InvalidArgumentException.class, () -> FixedPool.builder(64).maxBlocks(-5).build(),
                "negative maximum");
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                () -> FixedPool.builder(64).alignment(3).build());
        assertTrue(e.getMessage().contains("3"), e.getMessage());
    }

    @Test
    void initialBlocksAreReservedUpFront() {
        try (FixedPool pool = FixedPool.builder(1024).blocksPerChunk(16).initialBlocks(40).build()) {
            PoolStats stats = pool.stats();
            assertTrue(stats.bytesReserved() >= 40 * 1024, stats.toString());
            assertEquals(stats.bytesReserved(), stats.freeBytes());
            assertEquals(0, stats.allocations());
        }
    }

    @Test
    void trimReturnsWhollyFreeChunks() {
        try (FixedPool pool = FixedPool.builder(4096).blocksPerChunk(4).backend(Backend.mmap()).build()) {
            long[] blocks = new long[12];
            pool.allocate(12, blocks);
            assertEquals(3, pool.stats().regions());
            pool.free(blocks, 8);
            long released = pool.trim();
            assertTrue(released >= 2 * 4 * 4096, "two free chunks released, got " + released);
            assertEquals(1, pool.stats().regions());
            pool.validate();
            long fresh = pool.allocateAddress();
            assertNotEquals(0, fresh);
            pool.free(fresh);
            pool.free(Arrays.copyOfRange(blocks, 8, 12));
        }
    }

    @Test
    void everyBackendServesBlocks() {
        for (Backend backend : new Backend[] {Backend.malloc(), Backend.mmap(), Backend.hugePages()}) {
            try (FixedPool pool = FixedPool.builder(2 << 20).backend(backend).blocksPerChunk(2).build();
                    MemoryBlock block = pool.allocate()) {
                block.putLong((2 << 20) - 8, 7L);
                assertEquals(7L, block.getLong((2 << 20) - 8));
                assertEquals(backend, pool.backend());
                assertEquals(MemoryKind.HOST, pool.memoryKind());
            }
        }
    }
}
