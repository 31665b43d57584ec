package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pools that charge a {@link MemoryBudget} themselves ({@link PoolBuilder#budget}):
 * each region is charged as it is mapped and given back as it goes, so the
 * budget holds the pools' reserved bytes exactly; a growth past the limit is
 * refused and changes nothing.
 */
class PoolBudgetTest {
    private static final long KIB = 1024;
    /** A fixed pool's chunk: 1024 blocks of 64 bytes. */
    private static final long CHUNK = 64 * KIB;
    private static final long ARENA = 256 * KIB;

    private static MemoryBudget reserved(String name, long limit) {
        return MemoryBudget.of(name, limit, MemoryBudget.Counting.RESERVED);
    }

    private static FixedPool.Builder fixed(String name) {
        return FixedPool.builder(64).name(name).blocksPerChunk(1024).threadCache(0).leakPolicy(LeakPolicy.IGNORE);
    }

    private static VariablePool.Builder variable(String name) {
        return VariablePool.builder().name(name).arenaSize(ARENA).threadCache(0).leakPolicy(LeakPolicy.IGNORE);
    }

    @Test
    void aBudgetSharedByAFixedAndAVariablePoolRefusesTheGrowthThatWouldPassItsLimit() {
        MemoryBudget shared = reserved("shared", 512 * KIB);
        FixedPool small = fixed("small").budget(shared).build();
        VariablePool large = variable("large").budget(shared).build();
        assertSame(shared, small.budget());
        assertEquals(0, shared.used(), "no initial capacity, nothing mapped yet");

        List<Long> blocks = new ArrayList<>();
        blocks.add(small.allocateAddress());
        large.allocateAddress(100 * KIB);
        assertEquals(CHUNK + ARENA, shared.used());
        assertEquals(CHUNK, small.stats().bytesReserved());
        assertEquals(ARENA, large.stats().bytesReserved());

        // 200 KiB does not fit beside the first block: a second arena would take the budget to 576 KiB.
        PoolStats before = large.stats();
        BudgetExceededException refused = assertThrows(BudgetExceededException.class,
                () -> large.allocateAddress(200 * KIB));
        assertEquals("shared", refused.budget());
        assertEquals(ARENA, refused.requestedBytes(), "the region the pool asked for");
        assertEquals(512 * KIB, refused.limitBytes());
        assertEquals(CHUNK + ARENA, refused.usedBytes());
        assertTrue(refused.getMessage().startsWith("pool 'large' cannot grow: budget 'shared' refused 262144 bytes: "
                + "320.0 KiB of 512.0 KiB in use, 192.0 KiB left"), refused.getMessage());
        assertTrue(refused.getCause() instanceof OutOfPoolMemoryException, "the pool's own figures");
        assertTrue(refused.getCause().getMessage().contains("the pool's budget refused them"),
                refused.getCause().getMessage());
        PoolStats after = large.stats();
        assertEquals(before.bytesReserved(), after.bytesReserved());
        assertEquals(before.regions(), after.regions());
        assertEquals(before.liveBlocks(), after.liveBlocks());
        assertEquals(before.bytesInUse(), after.bytesInUse());
        assertEquals(before.allocations(), after.allocations());
        assertEquals(before.failures() + 1, after.failures(), "counted as every refused allocation is");
        assertEquals(CHUNK + ARENA, shared.used(), "the refusal charged nothing");
        assertEquals(CHUNK + ARENA, shared.peak());

        // The fixed pool grows to the limit exactly: three more chunks, then none.
        while (blocks.size() < 4 * 1024) {
            blocks.add(small.allocateAddress());
        }
        assertEquals(512 * KIB, shared.used());
        BudgetExceededException full = assertThrows(BudgetExceededException.class, small::allocateAddress);
        assertTrue(full.getMessage().startsWith("pool 'small' cannot grow: budget 'shared' refused 65536 bytes"),
                full.getMessage());
        assertEquals(4 * CHUNK, small.stats().bytesReserved());
        assertEquals(shared.used(), small.stats().bytesReserved() + large.stats().bytesReserved());

        // Trim and close give the regions back.
        small.free(blocks.stream().mapToLong(Long::longValue).toArray());
        assertEquals(4 * CHUNK, small.trim());
        assertEquals(ARENA, shared.used());
        assertEquals(0, small.stats().bytesReserved());
        large.close(); // with its first block still live: closing releases everything
        assertEquals(0, shared.used());
        BudgetInUseException inUse = assertThrows(BudgetInUseException.class, shared::close);
        assertTrue(inUse.getMessage().contains("1 attachment(s)"), inUse.getMessage());
        small.close();
        shared.close();
        assertTrue(shared.isClosed());
        assertEquals(512 * KIB, shared.peak());
    }

    @Test
    void anInitialCapacityTheBudgetRefusesBuildsNothingAndChargesNothing() {
        try (MemoryBudget tight = reserved("tight", 100 * KIB)) {
            BudgetExceededException refused = assertThrows(BudgetExceededException.class,
                    () -> fixed("eager").initialBlocks(4 * 1024).budget(tight).build());
            assertEquals("tight", refused.budget());
            assertTrue(refused.getMessage().startsWith("pool 'eager' cannot grow: budget 'tight' refused 65536 bytes"),
                    refused.getMessage());
            assertEquals(0, tight.used(), "the chunk mapped before the refusal went back with the pool");
            assertEquals(CHUNK, tight.peak());
        } // closes: the refused pool holds no attachment
    }

    @Test
    void aChildBudgetCountsUpwardAndAnAncestorMayRefuse() {
        try (MemoryBudget root = reserved("root", 160 * KIB)) {
            MemoryBudget query = root.child("query", 128 * KIB);
            // Thread caches: their refills grow the pool through the batch path.
            try (VariablePool other = VariablePool.builder().arenaSize(CHUNK).threadCache(0).budget(root).build();
                 FixedPool cached = FixedPool.builder(64).blocksPerChunk(1024).budget(query).build()) {
                long held = other.allocateAddress(64);
                List<Long> blocks = new ArrayList<>();
                for (int i = 0; i < 1024; i++) {
                    blocks.add(cached.allocateAddress());
                }
                assertEquals(CHUNK, query.used());
                assertEquals(2 * CHUNK, root.used());
                BudgetExceededException refused = assertThrows(BudgetExceededException.class,
                        cached::allocateAddress);
                assertEquals("root", refused.budget(), "within the child's limit, past the root's");
                assertTrue(refused.getMessage().contains("(asked of 'query', within its own limit)"),
                        refused.getMessage());
                assertEquals(CHUNK, query.used());
                assertEquals(2 * CHUNK, root.used());
                for (long block : blocks) {
                    cached.free(block);
                }
                other.free(held);
            }
            assertEquals(0, query.used());
            assertEquals(0, root.used());
            query.close();
        }
    }

    @Test
    void theAutomaticTrimGivesTheChargeBack() throws Exception {
        try (MemoryBudget budget = reserved("trimmed", ARENA);
             FixedPool pool = fixed("idle").budget(budget).autoTrim(Duration.ofMillis(100)).build()) {
            pool.free(pool.allocateAddress());
            assertEquals(CHUNK, budget.used());
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (budget.used() != 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(0, budget.used());
            assertEquals(CHUNK, pool.autoTrimStats().bytesReturned());
        }
    }

    @Test
    void aListenedMmapPoolIsChargedAsItsListenerIsTold() {
        List<Long> mapped = new ArrayList<>();
        RegionListener listener = new RegionListener() {
            @Override
            public void mapped(long address, long bytes) {
                mapped.add(bytes);
            }

            @Override
            public void unmapped(long address, long bytes) {
                mapped.add(-bytes);
            }
        };
        try (MemoryBudget budget = reserved("listened", 4 * CHUNK)) {
            try (FixedPool pool = FixedPool.builder(64).blocksPerChunk(1024)
                    .backend(Backend.mmap().withRegionListener(listener)).budget(budget).build()) {
                long[] batch = new long[1500]; // a batch that grows the pool twice
                pool.allocate(batch.length, batch);
                assertEquals(2 * CHUNK, budget.used());
                assertEquals(List.of(CHUNK, CHUNK), mapped);
                pool.free(batch);
            }
            assertEquals(0, budget.used());
            assertEquals(List.of(CHUNK, CHUNK, -CHUNK, -CHUNK), mapped);
        }
    }

    /**
     * A batch that grows a budgeted, listened pool calls Java from inside the
     * native call; under {@code -Xcheck:jni} the JVM reports any such call made
     * while the batch's array is held critical (it was, before such pools
     * took a copy).
     */
    @Test
    void batchGrowthThatCallsJavaHoldsNoArrayCritical(@TempDir Path directory) throws Exception {
        ChildJvm.Result result = ChildJvm.java(directory, "-Xcheck:jni",
                "-Dnativepool.extract.dir=" + directory.resolve("x"), "-cp", System.getProperty("java.class.path"),
                BatchGrowth.class.getName());
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("charged 131072 bytes for 1500 blocks"), result.output());
        assertFalse(result.output().contains("in the scope of Get/ReleasePrimitiveArrayCritical"), result.output());
    }

    /** The child of {@link #batchGrowthThatCallsJavaHoldsNoArrayCritical}. */
    static final class BatchGrowth {
        public static void main(String[] args) {
            RegionListener quiet = new RegionListener() {
                @Override
                public void mapped(long address, long bytes) {
                }

                @Override
                public void unmapped(long address, long bytes) {
                }
            };
            try (MemoryBudget budget = reserved("child", 4 * CHUNK);
                 FixedPool pool = fixed("batched").backend(Backend.mmap().withRegionListener(quiet)).budget(budget)
                         .build()) {
                long[] batch = new long[1500];
                pool.allocate(batch.length, batch);
                System.out.println("charged " + budget.used() + " bytes for " + batch.length + " blocks");
                pool.free(batch);
            }
        }
    }

    @Test
    void closingThePoolGivesBackWhatAViewStillKeeps() {
        try (MemoryBudget budget = reserved("viewed", ARENA)) {
            FixedPool pool = fixed("viewed").budget(budget).build();
            MemoryBlock block = pool.allocate();
            ByteBuffer view = block.asByteBuffer();
            pool.close();
            assertEquals(0, budget.used(), "the pool's charge ends with it, though the view keeps the chunk");
            assertEquals(0, view.position());
        }
    }

    @Test
    void theBudgetIsThePoolsUntilItCloses() {
        MemoryBudget budget = reserved("owned", ARENA);
        FixedPool pool = fixed("owned").budget(budget).build();
        try (FixedPool plain = fixed("plain").build()) {
            assertNull(plain.budget());
        }
        assertSame(budget, pool.budget());
        pool.close();
        assertThrows(PoolClosedException.class, pool::budget);
        budget.close();
        BudgetClosedException closed = assertThrows(BudgetClosedException.class,
                () -> fixed("late").budget(budget).build());
        assertTrue(closed.getMessage().contains("'owned' is closed"), closed.getMessage());
        InvalidArgumentException requested = assertThrows(InvalidArgumentException.class,
                () -> fixed("requested").budget(MemoryBudget.of("requested", ARENA)));
        assertTrue(requested.getMessage().contains("Counting.RESERVED"), requested.getMessage());
    }
}
