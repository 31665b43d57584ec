package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A handle's block is the handle's alone: a raw free of its address is
 * refused and changes nothing, so the block is never handed out again while
 * the handle is open, and the handle's close frees its own block, never a
 * block that became someone else's (issue 10's b1/b2 scenario), for every
 * pool kind, with thread caches on and off and at every safety level.
 */
class HandleOwnershipTest {

    /** A pool, and how to allocate a handle from it. */
    enum Setup {
        FIXED_CACHED(() -> FixedPool.builder(64).threadSafety(ThreadSafety.MUTEX).build(), 0),
        FIXED_LOCK_FREE_CACHED(() -> FixedPool.builder(64).threadSafety(ThreadSafety.LOCK_FREE).build(), 0),
        FIXED_NONE_CACHED(() -> FixedPool.builder(64).threadSafety(ThreadSafety.NONE).build(), 0),
        FIXED_UNCACHED(() -> FixedPool.builder(64).threadCache(0).build(), 0),
        FIXED_CANARIES(() -> FixedPool.builder(64).safetyLevel(SafetyLevel.CANARIES).build(), 0),
        FIXED_FULL(() -> FixedPool.builder(64).safetyLevel(SafetyLevel.FULL).build(), 0),
        VARIABLE_SMALL_CACHED(() -> VariablePool.builder().build(), 64),
        VARIABLE_SMALL_UNCACHED(() -> VariablePool.builder().threadCache(0).build(), 64),
        VARIABLE_LARGE_CACHED(() -> VariablePool.builder().build(), 4096),
        VARIABLE_LARGE_UNCACHED(() -> VariablePool.builder().threadCache(0).build(), 4096),
        VARIABLE_FINE_GRANULARITY(() -> VariablePool.builder().granularity(8).build(), 64),
        VARIABLE_SMALL_CANARIES(() -> VariablePool.builder().safetyLevel(SafetyLevel.CANARIES).build(), 64),
        VARIABLE_LARGE_FULL(() -> VariablePool.builder().safetyLevel(SafetyLevel.FULL).build(), 4096);

        private final Supplier<Pool> build;
        private final long size;

        Setup(Supplier<Pool> build, long size) {
            this.build = build;
            this.size = size;
        }

        Pool pool() {
            return build.get();
        }

        MemoryBlock allocate(Pool pool) {
            return pool instanceof FixedPool fixed ? fixed.allocate() : ((VariablePool) pool).allocate(size);
        }
    }

    @ParameterizedTest
    @EnumSource(Setup.class)
    void aRawFreeOfAHandlesBlockIsRefusedAndTheHandleStillFreesOnlyItsOwn(Setup setup) {
        try (Pool pool = setup.pool()) {
            MemoryBlock b1 = setup.allocate(pool);
            long address = b1.address();
            b1.putLong(0, 1L);
            PoolStats before = pool.stats();
            InvalidFreeException refused = assertThrows(InvalidFreeException.class, () -> pool.free(address));
            assertFalse(refused instanceof DoubleFreeException, refused.toString());
            assertTrue(refused.getMessage().contains("0x" + Long.toHexString(address) + " of " + pool
                    + " is owned by a MemoryBlock; close the handle"), refused.getMessage());
            assertSameCounts(before, pool.stats());
            assertThrows(InvalidFreeException.class, () -> pool.free(new long[] {address}));
            assertSameCounts(before, pool.stats());
            pool.validate();

            MemoryBlock b2 = setup.allocate(pool);
            assertNotEquals(address, b2.address(), "the block of an open handle was handed out again");
            b2.putLong(0, 2L);
            b1.close();
            assertEquals(2L, b2.getLong(0), "closing b1 touched b2's block");
            assertEquals(1, pool.stats().liveBlocks(), "b2's block is still allocated");
            MemoryBlock b3 = setup.allocate(pool);
            assertNotEquals(b2.address(), b3.address(), "b2's block was handed out again while b2 is open");
            b1.close(); // a second close still does nothing
            b3.close();
            b2.close();
            PoolStats after = pool.stats();
            assertEquals(0, after.liveBlocks());
            assertEquals(after.allocations() - after.frees(), after.cachedBlocks());
            pool.validate();
            pool.verify();
        }
    }

    @ParameterizedTest
    @EnumSource(Setup.class)
    void aClosedHandlesBlockIsAnOrdinaryBlockAgain(Setup setup) {
        try (Pool pool = setup.pool()) {
            MemoryBlock block = setup.allocate(pool);
            long address = block.address();
            block.close();
            // Every cache and pool here hands the block freed last out first: the handle's.
            long raw = pool instanceof FixedPool fixed ? fixed.allocateAddress()
                    : ((VariablePool) pool).allocateAddress(setup.size);
            assertEquals(address, raw, "the closed handle's block comes back first");
            pool.free(raw); // no mark of the handle is left on it
            assertEquals(0, pool.stats().liveBlocks());
            pool.validate();
        }
    }

    @Test
    void aBlockCacheRefusesAHandlesBlockAndParksNothing() {
        try (FixedPool pool = FixedPool.builder(64).threadSafety(ThreadSafety.MUTEX).build();
             MemoryBlock block = pool.allocate();
             BlockCache cache = pool.newCache(8)) {
            InvalidFreeException refused = assertThrows(InvalidFreeException.class,
                    () -> cache.free(block.address()));
            assertTrue(refused.getMessage().contains("is owned by a MemoryBlock"), refused.getMessage());
            assertEquals(0, cache.size());
            block.putLong(0, 7L);
            assertEquals(7L, block.getLong(0));
        }
    }

    @Test
    void aDroppedHandlesBlockIsStillReclaimedByTheLeakDetector() throws Exception {
        try (FixedPool pool = FixedPool.builder(64).threadCache(0).leakDetection(LeakDetection.ALL)
                .leakPolicy(LeakPolicy.IGNORE).build()) {
            LeakDetector.drainLeaks();
            dropOne(pool);
            AssertionError leak = assertThrows(AssertionError.class,
                    () -> org.nativepool.testing.LeakAssertions.assertNoLeaks(pool));
            assertTrue(leak.getMessage().contains("(reclaimed)"), leak.getMessage());
            assertEquals(0, pool.stats().liveBlocks(), "the dropped handle's block was reclaimed");
            pool.validate();
        }
    }

    private static void dropOne(FixedPool pool) {
        pool.allocate().putLong(0, 1L);
    }

    private static void assertSameCounts(PoolStats before, PoolStats after) {
        assertEquals(before.allocations(), after.allocations(), "allocations");
        assertEquals(before.frees(), after.frees(), "frees");
        assertEquals(before.failures(), after.failures(), "failures");
        assertEquals(before.liveBlocks(), after.liveBlocks(), "live blocks");
        assertEquals(before.cachedBlocks(), after.cachedBlocks(), "cached blocks");
        assertEquals(before.bytesInUse(), after.bytesInUse(), "bytes in use");
    }
}
