package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link Pool#snapshot()}, its figures, the JSON form and its refusals. */
class MemorySnapshotTest {

    /** Every hole between live blocks of mixed sizes, figures equal to the pool's own. */
    @Test
    void variablePoolSnapshotAgreesWithStats() {
        try (VariablePool pool = VariablePool.builder().arenaSize(64 << 10).threadCache(0).build()) {
            List<Long> blocks = fragment(pool, 400);
            MemorySnapshot snapshot = pool.snapshot();
            PoolStats stats = pool.stats();
            MemorySnapshot.Figures f = snapshot.figures();
            assertEquals("variable", snapshot.algorithm());
            assertEquals(stats.regions(), f.regions());
            assertEquals(stats.bytesReserved(), f.reservedBytes());
            assertEquals(stats.liveBlocks(), f.liveBlocks());
            assertEquals(stats.bytesInUse(), f.liveBytes());
            assertEquals(stats.freeBytes(), f.freeBytes());
            assertEquals(stats.freeBlocks(), f.holes());
            assertEquals(stats.largestFreeBlock(), f.largestHole());
            assertEquals(stats.externalFragmentation(), f.externalFragmentation(), 1e-12);
            for (long address : blocks) {
                assertEquals(BlockState.LIVE, stateAt(snapshot, address), "block 0x" + Long.toHexString(address));
                pool.free(address);
            }
        }
    }

    @Test
    void fixedPoolFreeSpaceIsOneRunPerStretch() {
        try (FixedPool pool = FixedPool.builder(64).blocksPerChunk(1024).threadCache(0).build()) {
            long first = pool.allocateAddress();
            MemorySnapshot snapshot = pool.snapshot();
            assertEquals(64, snapshot.blockSize());
            assertEquals(2, snapshot.runCount(), snapshot.toString());
            MemorySnapshot.Run free = snapshot.regions().get(0).runs().get(1);
            assertEquals(BlockState.FREE, free.state());
            assertEquals(1023, free.count());
            assertEquals(64, free.blockSize());
            assertEquals(0.0, snapshot.figures().externalFragmentation());
            pool.free(first);
        }
    }

    @Test
    void fullSafetyRecordsRequestedSizeAgeAndGuards() {
        try (VariablePool pool = VariablePool.builder().safetyLevel(SafetyLevel.FULL).build()) {
            long address = pool.allocateAddress(100);
            MemorySnapshot snapshot = pool.snapshot();
            MemorySnapshot.Run live = runAt(snapshot, address);
            assertEquals(BlockState.LIVE, live.state());
            assertEquals(100, live.requestedSize());
            assertTrue(live.ageNanos() >= 0, "age " + live.ageNanos());
            assertNotNull(live.site());
            assertTrue(snapshot.figures().guardBytes() > 0, snapshot.toString());
            pool.free(address);
        }
        try (VariablePool pool = VariablePool.builder().safetyLevel(SafetyLevel.OFF).build()) {
            long address = pool.allocateAddress(100);
            MemorySnapshot.Run live = runAt(pool.snapshot(), address);
            assertEquals(0, live.requestedSize());
            assertEquals(-1, live.ageNanos());
            assertNull(live.site());
            pool.free(address);
        }
    }

    @Test
    void aClosedPoolRefusesASnapshot() {
        VariablePool pool = VariablePool.builder().build();
        pool.close();
        assertThrows(PoolClosedException.class, pool::snapshot);
    }

    @Test
    void jsonRoundTripsExactly() {
        try (VariablePool pool = VariablePool.builder().arenaSize(64 << 10).safetyLevel(SafetyLevel.FULL).build()) {
            List<Long> blocks = fragment(pool, 200);
            MemorySnapshot snapshot = pool.snapshot();
            String json = snapshot.toJson();
            MemorySnapshot back = MemorySnapshot.fromJson(json);
            assertEquals(snapshot.regions(), back.regions());
            assertEquals(snapshot.figures(), back.figures());
            assertEquals(snapshot.takenAt(), back.takenAt());
            assertEquals(snapshot.poolName(), back.poolName());
            assertEquals(json, back.toJson());
            blocks.forEach(pool::free);
        }
    }

    @Test
    void aMillionBlocksFitInAFewKilobytesAndASampleKeepsEveryHole() {
        try (FixedPool pool = FixedPool.builder(16).blocksPerChunk(1 << 16).threadCache(0).build()) {
            long[] blocks = new long[1 << 20];
            pool.allocate(blocks.length, blocks);
            MemorySnapshot full = pool.snapshot();
            assertEquals(1 << 20, full.figures().liveBlocks());
            assertTrue(full.toJson().length() < 8192, "JSON of " + full.toJson().length() + " chars");
            pool.free(blocks);
        }
        try (VariablePool pool = VariablePool.builder().arenaSize(1 << 20).safetyLevel(SafetyLevel.CANARIES)
                .build()) {
            List<Long> blocks = new ArrayList<>();
            for (int i = 0; i < 3000; i++) {
                blocks.add(pool.allocateAddress(48));
            }
            for (int i = 0; i < blocks.size(); i += 100) {
                pool.free(blocks.get(i)); // 30 holes between long stretches of live blocks and margins
            }
            MemorySnapshot full = pool.snapshot();
            MemorySnapshot sample = full.sampled(100);
            assertTrue(sample.isSampled());
            assertTrue(sample.runCount() <= 2 * full.figures().holes() + sample.figures().regions(),
                    sample.runCount() + " runs");
            assertEquals(full.figures().holes(), sample.figures().holes());
            assertEquals(full.figures().freeBytes(), sample.figures().freeBytes());
            assertEquals(full.figures().liveBlocks(), sample.figures().liveBlocks());
            assertEquals(full.figures().liveBytes() + full.figures().guardBytes(), sample.figures().liveBytes());
            assertSame(full, full.sampled(Integer.MAX_VALUE));
            assertThrows(InvalidArgumentException.class, () -> full.sampled(0));
            MemorySnapshot back = MemorySnapshot.fromJson(sample.toJson());
            assertTrue(back.isSampled());
            assertEquals(sample.regions(), back.regions());
            for (int i = 0; i < blocks.size(); i++) {
                if (i % 100 != 0) {
                    pool.free(blocks.get(i));
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "{", "[1,2]", "{\"format\":\"nativepool-memory-snapshot\",\"version\":1",
        "{\"format\":\"something-else\",\"version\":1}", "{\"format\":\"nativepool-memory-snapshot\"}",
        "{\"a\":1,\"a\":2}", "{\"format\":\"nativepool-memory-snapshot\",\"version\":1.5}", "nul", "\"\\x\"",
        "{} trailing"})
    void malformedDocumentsAreRefused(String json) {
        SnapshotFormatException e = assertThrows(SnapshotFormatException.class, () -> MemorySnapshot.fromJson(json));
        assertTrue(!(e instanceof SnapshotVersionException), e.getMessage());
    }

    @Test
    void editedDocumentsThatNoLongerAddUpAreRefused() {
        String json;
        try (VariablePool pool = VariablePool.builder().threadCache(0).build()) {
            long address = pool.allocateAddress(8192); // above the slab sizes: TLSF's first block, at offset 0
            json = pool.snapshot().toJson();
            pool.free(address);
        }
        String wrongFigure = json.replaceFirst("\"liveBlocks\":1", "\"liveBlocks\":2");
        assertTrue(assertThrows(SnapshotFormatException.class, () -> MemorySnapshot.fromJson(wrongFigure))
                .getMessage().contains("liveBlocks is 2 but the runs add up to 1"));
        String gap = json.replaceFirst("\"runs\":\\[\\[0,8192,1,\"L\"\\]", "\"runs\":[[0,4096,1,\"L\"]");
        assertTrue(assertThrows(SnapshotFormatException.class, () -> MemorySnapshot.fromJson(gap)).getMessage()
                .contains("a run starts at offset"));
        String state = json.replaceFirst("\"L\"", "\"X\"");
        assertTrue(assertThrows(SnapshotFormatException.class, () -> MemorySnapshot.fromJson(state)).getMessage()
                .contains("unknown block state \"X\""));
    }

    @Test
    void anotherVersionIsRefusedNamingBoth() {
        String json;
        try (VariablePool pool = VariablePool.builder().build()) {
            json = pool.snapshot().toJson().replace("\"version\":1,", "\"version\":2,");
        }
        String document = json;
        SnapshotVersionException e = assertThrows(SnapshotVersionException.class,
                () -> MemorySnapshot.fromJson(document));
        assertEquals(2, e.version());
        assertTrue(e.getMessage().contains("version 2") && e.getMessage().contains("reads version 1"),
                e.getMessage());
    }

    /** Allocates mixed sizes, frees about half at random; returns the live addresses. */
    static List<Long> fragment(VariablePool pool, int count) {
        Random random = new Random(7);
        List<Long> blocks = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            blocks.add(pool.allocateAddress(16 + random.nextInt(2000)));
        }
        List<Long> live = new ArrayList<>();
        for (long address : blocks) {
            if (random.nextBoolean()) {
                pool.free(address);
            } else {
                live.add(address);
            }
        }
        return live;
    }

    static MemorySnapshot.Run runAt(MemorySnapshot snapshot, long address) {
        for (MemorySnapshot.Region region : snapshot.regions()) {
            for (MemorySnapshot.Run run : region.runs()) {
                if (address >= region.base() + run.offset() && address < region.base() + run.end()) {
                    return run;
                }
            }
        }
        throw new AssertionError("0x" + Long.toHexString(address) + " is in no region");
    }

    private static BlockState stateAt(MemorySnapshot snapshot, long address) {
        return runAt(snapshot, address).state();
    }
}
