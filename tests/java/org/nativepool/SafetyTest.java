package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Each planted bug is reported with block, size, guard and allocation site; the pool stays usable. */
class SafetyTest {

    /** A buffer reaching {@code before} bytes before and {@code after} bytes past the block: how bugs are planted. */
    private static ByteBuffer around(MemoryBlock block, int before, int after) {
        return RawViews.of(block.pool(), block.address() - before, block.size() + before + after);
    }

    private static VariablePool pool(SafetyLevel level) {
        return VariablePool.builder().arenaSize(1 << 20).safetyLevel(level).leakPolicy(LeakPolicy.IGNORE).build();
    }

    @ParameterizedTest
    @EnumSource(value = SafetyLevel.class, names = {"CANARIES", "FULL"})
    void overflowIsReportedOnCloseOfTheBlockWithItsAllocationStack(SafetyLevel level) {
        VariablePool pool = pool(level);
        {
            MemoryBlock block = pool.allocate(100);
            long address = block.address();
            around(block, 0, 1).put(100, (byte) 7);
            MemoryCorruptionException e = assertThrows(MemoryCorruptionException.class, block::close);
            assertEquals(MemoryCorruptionException.Guard.BACK, e.guard());
            assertEquals(address, e.blockAddress());
            assertEquals(100, e.blockSize());
            assertEquals(100, e.offset());
            assertTrue(e.getMessage().contains("back guard"), e.getMessage());
            if (level == SafetyLevel.FULL) {
                assertInstanceOf(LeakDetector.AllocationStack.class, e.getCause(), "FULL tracks every handle");
                assertTrue(stackMentions(e.getCause(), "overflowIsReportedOnCloseOfTheBlockWithItsAllocationStack"));
                // The native report knows no site set in C++: it names the Java caller instead.
                assertTrue(e.getMessage().contains("allocated at: Java org.nativepool.SafetyTest."), e.getMessage());
                assertTrue(e.allocationSite().startsWith("Java org.nativepool.SafetyTest."), e.allocationSite());
            }
            assertEquals(1, pool.stats().liveBlocks(), "a damaged block stays allocated");
            assertThrows(MemoryCorruptionException.class, pool::verify);
            pool.validate(); // the allocator's own invariants are intact
        }
        MemoryCorruptionException atClose = assertThrows(MemoryCorruptionException.class, pool::close);
        assertEquals(MemoryCorruptionException.Guard.BACK, atClose.guard());
        assertTrue(pool.isClosed(), "the pool is released anyway");
    }

    @Test
    void underflowIsFoundByVerifyAndAgainAtClose() {
        VariablePool pool = pool(SafetyLevel.CANARIES);
        MemoryBlock block = pool.allocate(64, 256);
        long address = block.address();
        pool.verify();
        around(block, 16, 0).put(13, (byte) 0); // three bytes before the block
        MemoryCorruptionException e = assertThrows(MemoryCorruptionException.class, pool::verify);
        assertEquals(MemoryCorruptionException.Guard.FRONT, e.guard());
        assertEquals(-3, e.offset());
        MemoryCorruptionException atClose = assertThrows(MemoryCorruptionException.class, pool::close);
        assertEquals(address, atClose.blockAddress());
        assertTrue(pool.isClosed(), "the pool is released anyway");
    }

    @Test
    void writeAfterFreeIsReportedWhenTheMemoryIsReused() {
        try (VariablePool pool = pool(SafetyLevel.CANARIES)) {
            // A dangling pointer held by native code: a view would keep the block
            // quarantined (ViewsTest), so the stale write goes through a raw one.
            MemoryBlock block = pool.allocate(256);
            long address = block.address();
            ByteBuffer stale = RawViews.of(pool, address, 256);
            block.close();
            stale.put(10, (byte) 42);
            MemoryCorruptionException e = assertThrows(MemoryCorruptionException.class, () -> pool.allocate(256));
            assertEquals(MemoryCorruptionException.Guard.FREED, e.guard());
            assertEquals(address, e.blockAddress(), "the address the handle had");
            assertEquals(256, e.blockSize());
            assertEquals(10, e.offset());
            assertTrue(e.getMessage().contains("write after free"), e.getMessage());
            pool.allocate(256).close(); // repaired
        }
    }

    @ParameterizedTest
    @EnumSource(SafetyLevel.class)
    void badFreesThrowAtEveryLevelAndChangeNothing(SafetyLevel level) {
        try (VariablePool pool = pool(level)) {
            long address = pool.allocateAddress(48);
            assertThrows(InvalidFreeException.class, () -> pool.free(address + 16));
            assertThrows(InvalidFreeException.class, () -> pool.free(12345L));
            pool.free(address);
            assertThrows(DoubleFreeException.class, () -> pool.free(address));
            PoolStats stats = pool.stats();
            assertEquals(0, stats.liveBlocks());
            assertEquals(0, stats.bytesInUse());
            pool.verify();
        }
    }

    @Test
    void fullPoolsReportLiveBlocks() {
        try (VariablePool pool = pool(SafetyLevel.FULL)) {
            pool.allocateAddress(1000);
            String report = pool.leakReport();
            assertTrue(report.startsWith("1 live block(s), 1000 bytes"), report);
            assertTrue(report.contains("1000 bytes, allocated"), report);
            assertTrue(report.endsWith("(no site set)"), "a raw address has no handle to tell its caller: " + report);
        }
    }

    @Test
    void fullPoolsNameTheJavaCallerOfEachLiveHandle() {
        try (VariablePool pool = pool(SafetyLevel.FULL); MemoryBlock block = pool.allocate(48)) {
            String report = pool.leakReport();
            assertTrue(report.contains("0x" + Long.toHexString(block.address()) + ": 48 bytes, allocated"), report);
            assertTrue(report.contains(" at Java org.nativepool.SafetyTest.fullPoolsNameTheJavaCallerOfEachLiveHandle("),
                    report);
        }
    }

    @Test
    void closingWithLiveBlocksNamesThemWhenTracked() {
        VariablePool pool = VariablePool.builder().safetyLevel(SafetyLevel.FULL).leakPolicy(LeakPolicy.THROW).build();
        pool.allocateAddress(24);
        PoolLeakException e = assertThrows(PoolLeakException.class, pool::close);
        assertTrue(e.getMessage().contains("0x"), e.getMessage());
        assertEquals(1, e.leakedBlocks());
    }

    @Test
    void droppedHandlesAreReportedWithTheirStackAndReclaimed() throws Exception {
        try (VariablePool pool = VariablePool.builder().leakDetection(LeakDetection.ALL)
                .leakPolicy(LeakPolicy.THROW).build()) {
            LeakDetector.drainLeaks();
            allocateAndDrop(pool);
            AssertionError e = assertThrows(AssertionError.class,
                    () -> org.nativepool.testing.LeakAssertions.assertNoLeaks(pool));
            assertTrue(e.getMessage().contains("leaked MemoryBlock"), e.getMessage());
            assertTrue(e.getMessage().contains("(reclaimed)"), e.getMessage());
            assertTrue(stackMentions(e.getSuppressed()[0], "allocateAndDrop"));
            assertEquals(0, pool.stats().liveBlocks(), "the leak detector freed the block");
            org.nativepool.testing.LeakAssertions.assertNoLeaks(pool);
        }
    }

    @Test
    void handlesDroppedJustBeforeThePoolClosesAreNoFalseLeaks() throws Exception {
        // The pool reports its live blocks itself; the cleaners of the dropped handles that
        // race with its close must not add "(still allocated)" reports of their own.
        for (int round = 0; round < 5; round++) {
            LeakDetector.drainLeaks();
            VariablePool pool = VariablePool.builder().leakDetection(LeakDetection.ALL)
                    .leakPolicy(LeakPolicy.IGNORE).build();
            for (int i = 0; i < 2000; i++) {
                pool.allocate(32);
            }
            System.gc();
            pool.close();
            LeakDetector.collectLeaks(2000);
            for (LeakedBlock leak : LeakDetector.drainLeaks()) {
                assertTrue(leak.reclaimed(), "a false report: " + leak);
            }
        }
    }

    @Test
    void closedHandlesAreNotReported() throws Exception {
        try (VariablePool pool = VariablePool.builder().leakDetection(LeakDetection.ALL).build()) {
            LeakDetector.drainLeaks();
            pool.allocate(64).close();
            org.nativepool.testing.LeakAssertions.assertNoLeaks(pool);
        }
    }

    @Test
    void aHandleMadeAfterItsPoolClosedIsNoLeak() {
        // The interleaving of a thread that allocated just before another closed the pool:
        // the pool released the block, so its late handle must not be tracked as a leak.
        VariablePool pool = VariablePool.builder().leakDetection(LeakDetection.ALL).leakPolicy(LeakPolicy.IGNORE)
                .build();
        long address = pool.allocateAddress(64, 0);
        pool.close();
        MemoryBlock late = new MemoryBlock(pool, address, 64);
        assertTrue(pool.leakOwner.trackedHandles().isEmpty(), "the late handle is tracked");
        assertThrows(PoolClosedException.class, late::address);
        late.close();
    }

    @Test
    void aRefusedBuildLeavesNoNativePoolBehind() throws Exception {
        String property = "nativepool.leakDetection";
        long before = virtualMemoryKib();
        System.setProperty(property, "bogus");
        try {
            for (int i = 0; i < 4; i++) {
                assertThrows(InvalidArgumentException.class, () -> VariablePool.builder().arenaSize(256L << 20)
                        .initialCapacity(256L << 20).backend(Backend.mmap()).build());
            }
        } finally {
            System.clearProperty(property);
        }
        // Each refused pool would have kept a 256 MiB reservation: 1 GiB in all.
        long grown = virtualMemoryKib() - before;
        assertTrue(grown < (256L << 10), "virtual memory grew by " + grown + " KiB");
    }

    private static long virtualMemoryKib() throws java.io.IOException {
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
            if (line.startsWith("VmSize:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new AssertionError("no VmSize in /proc/self/status");
    }

    @Test
    void leakDetectionOffTracksNothing() {
        try (VariablePool pool = VariablePool.builder().leakDetection(LeakDetection.OFF).build()) {
            assertEquals(LeakDetection.OFF, pool.leakDetection());
            try (MemoryBlock open = pool.allocate(64)) {
                assertTrue(pool.leakOwner.trackedHandles().isEmpty(), "an open handle is tracked at OFF");
            }
        }
    }

    @Test
    void poolsDescribeTheirSafetyLevel() {
        try (FixedPool pool = FixedPool.builder(64).safetyLevel(SafetyLevel.CANARIES).build()) {
            assertEquals(SafetyLevel.CANARIES, pool.safetyLevel());
            assertTrue(pool.toString().contains("safety CANARIES"), pool.toString());
            try (MemoryBlock block = pool.allocate()) {
                assertEquals(0, block.address() % pool.alignment());
                block.asByteBuffer().put(63, (byte) 1);
            }
            pool.verify();
        }
    }

    private static void allocateAndDrop(VariablePool pool) {
        pool.allocate(512); // never closed
    }

    private static boolean stackMentions(Throwable t, String method) {
        for (StackTraceElement frame : t.getStackTrace()) {
            if (frame.getMethodName().equals(method)) {
                return true;
            }
        }
        return false;
    }
}
