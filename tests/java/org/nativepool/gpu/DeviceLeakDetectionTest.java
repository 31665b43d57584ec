package org.nativepool.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nativepool.LeakDetection;
import org.nativepool.LeakDetector;
import org.nativepool.LeakedBlock;
import org.nativepool.SafetyLevel;
import org.nativepool.testing.LeakAssertions;

/**
 * The leak detector's safety net over GPU buffers: a {@link DeviceBuffer} or
 * {@link PinnedBuffer} dropped without close() is reported with the stack
 * that allocated it and freed as close() would, by the manager's settings.
 * The garbage collector decides when a dropped buffer is found, so the tests
 * wait for it generously and pick their own leaks by pool and address.
 */
class DeviceLeakDetectionTest {
    /** How long to wait for the collector to surface a leak that must come. */
    private static final long FOUND_WITHIN_MILLIS = 20_000;
    /** How long to give the collector before concluding nothing was reported. */
    private static final long QUIET_MILLIS = 2_000;

    @BeforeEach
    void forgetEarlierLeaks() throws InterruptedException {
        LeakDetector.collectLeaks(QUIET_MILLIS);
        LeakDetector.drainLeaks();
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void droppedDeviceBufferIsReportedWithItsStackAndReclaimed(String runtime) throws InterruptedException {
        try (DeviceManager manager = GpuRuntimes.builder(runtime, 1).leakDetection(LeakDetection.ALL).build()) {
            Device device = manager.device(0);
            long address = dropDeviceBuffer(device);
            assertEquals(1, device.stats().liveBlocks());
            LeakedBlock leak = awaitLeak(device.poolName(), address);
            assertNotNull(leak, "the dropped device buffer was not reported");
            assertEquals("DeviceBuffer", leak.handleType());
            assertEquals(4096, leak.size());
            assertTrue(leak.reclaimed(), leak.toString());
            assertTrue(leak.toString().startsWith("leaked DeviceBuffer[0x"), leak.toString());
            assertTrue(stackMentions(leak.allocationStack(), "dropDeviceBuffer"));
            assertTrue(stackMentions(leak.allocationStack(), "droppedDeviceBufferIsReportedWithItsStackAndReclaimed"));
            assertEquals(0, device.stats().liveBlocks(), "the leak detector freed the block");
        }
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void aDroppedStreamOrderedBufferIsFreedInItsStreamsOrder(String runtime) throws InterruptedException {
        try (DeviceManager manager = GpuRuntimes.builder(runtime, 1).leakDetection(LeakDetection.ALL).build();
                CudaStream stream = manager.device(0).createStream()) {
            Device device = manager.device(0);
            long address = dropDeviceBuffer(device, stream);
            LeakedBlock leak = awaitLeak(device.poolName(), address);
            assertNotNull(leak, "the dropped device buffer was not reported");
            assertTrue(leak.reclaimed(), leak.toString());
            assertTrue(stackMentions(leak.allocationStack(), "aDroppedStreamOrderedBufferIsFreedInItsStreamsOrder"));
            // Freed on its stream, as close() does: cached for that stream, reused at once on it.
            DeviceStats stats = device.stats();
            assertEquals(0, stats.liveBlocks());
            assertEquals(1, stats.cachedBlocks());
            try (DeviceBuffer again = device.allocate(4096, stream)) {
                assertEquals(address, again.devicePointer());
            }
            assertEquals(1, device.stats().reusedSameStream());
        }
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void aDroppedBufferWhoseStreamIsClosedIsFreedAtOnce(String runtime) throws InterruptedException {
        try (DeviceManager manager = GpuRuntimes.builder(runtime, 1).leakDetection(LeakDetection.ALL).build()) {
            Device device = manager.device(0);
            CudaStream stream = device.createStream();
            long address = dropDeviceBuffer(device, stream);
            stream.close();
            LeakedBlock leak = awaitLeak(device.poolName(), address);
            assertNotNull(leak, "the dropped device buffer was not reported");
            assertTrue(leak.reclaimed(), leak.toString());
            assertEquals(0, device.stats().liveBlocks(), "the leak detector freed the block");
        }
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void droppedPinnedBufferIsReportedWithItsStackAndReclaimed(String runtime) throws InterruptedException {
        try (DeviceManager manager = GpuRuntimes.builder(runtime, 1).leakDetection(LeakDetection.ALL).build()) {
            long address = dropPinnedBuffer(manager);
            assertEquals(1, manager.pinnedStats().liveBlocks());
            LeakedBlock leak = awaitLeak(manager.pinnedPoolName(), address);
            assertNotNull(leak, "the dropped pinned buffer was not reported");
            assertEquals("PinnedBuffer", leak.handleType());
            assertTrue(leak.reclaimed(), leak.toString());
            assertTrue(stackMentions(leak.allocationStack(), "dropPinnedBuffer"));
            assertTrue(stackMentions(leak.allocationStack(), "droppedPinnedBufferIsReportedWithItsStackAndReclaimed"));
            assertEquals(0, manager.pinnedStats().liveBlocks(), "the leak detector freed the block");
        }
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void withoutReclaimTheLeakIsReportedAndStaysAllocated(String runtime) throws InterruptedException {
        try (DeviceManager manager = GpuRuntimes.builder(runtime, 1).leakDetection(LeakDetection.ALL)
                .reclaimLeakedBlocks(false).build()) {
            assertFalse(manager.reclaimLeakedBlocks());
            Device device = manager.device(0);
            long address = dropDeviceBuffer(device);
            LeakedBlock leak = awaitLeak(device.poolName(), address);
            assertNotNull(leak, "the dropped device buffer was not reported");
            assertFalse(leak.reclaimed());
            assertTrue(leak.toString().endsWith("(still allocated)"), leak.toString());
            assertEquals(1, device.stats().liveBlocks(), "the block is left to the manager's close");
        }
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void leakDetectionOffReportsNothing(String runtime) throws InterruptedException {
        try (DeviceManager manager = GpuRuntimes.builder(runtime, 1).leakDetection(LeakDetection.OFF).build()) {
            assertEquals(LeakDetection.OFF, manager.leakDetection());
            Device device = manager.device(0);
            long deviceAddress = dropDeviceBuffer(device);
            long pinnedAddress = dropPinnedBuffer(manager);
            List<LeakedBlock> leaks = collectAll();
            assertNull(find(leaks, device.poolName(), deviceAddress), leaks.toString());
            assertNull(find(leaks, manager.pinnedPoolName(), pinnedAddress), leaks.toString());
            assertEquals(1, device.stats().liveBlocks(), "untracked: allocated until the manager closes");
            assertEquals(1, manager.pinnedStats().liveBlocks());
        }
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void closedAndFreedBuffersAreNotReported(String runtime) throws InterruptedException {
        try (DeviceManager manager = GpuRuntimes.builder(runtime, 1).leakDetection(LeakDetection.ALL).build();
                CudaStream stream = manager.device(0).createStream()) {
            long[] addresses = closeBuffers(manager, stream);
            List<LeakedBlock> leaks = collectAll();
            for (long address : addresses) {
                assertNull(find(leaks, manager.device(0).poolName(), address), leaks.toString());
                assertNull(find(leaks, manager.pinnedPoolName(), address), leaks.toString());
            }
            assertEquals(0, manager.device(0).stats().liveBlocks());
            assertEquals(0, manager.pinnedStats().liveBlocks());
        }
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void buffersOfAClosedManagerAreNotReported(String runtime) throws InterruptedException {
        DeviceManager manager = GpuRuntimes.builder(runtime, 1).leakDetection(LeakDetection.ALL).build();
        Device device = manager.device(0);
        String devicePool = device.poolName();
        String pinnedPool = manager.pinnedPoolName();
        long deviceAddress = dropDeviceBuffer(device);
        long pinnedAddress = dropPinnedBuffer(manager);
        manager.close();  // releases the buffers' memory: no leaks of their own
        List<LeakedBlock> leaks = collectAll();
        assertNull(find(leaks, devicePool, deviceAddress), leaks.toString());
        assertNull(find(leaks, pinnedPool, pinnedAddress), leaks.toString());
    }

    @Test
    void safetyLevelFullTracksEveryBufferByDefault() {
        try (DeviceManager manager = DeviceManager.builder().simulated(1, 16L << 20).arenaSize(1L << 20)
                .safetyLevel(SafetyLevel.FULL).build()) {
            assertEquals(LeakDetection.defaultFor(SafetyLevel.FULL), manager.leakDetection());
            assertTrue(manager.reclaimLeakedBlocks());
        }
        assertThrows(NullPointerException.class, () -> DeviceManager.builder().leakDetection(null));
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void leakAssertionsCoverGpuBuffers(String runtime) {
        try (DeviceManager manager = GpuRuntimes.builder(runtime, 1).leakDetection(LeakDetection.ALL).build()) {
            dropDeviceBuffer(manager.device(0));
            AssertionError e = assertThrows(AssertionError.class, () -> awaitAssertionError(manager));
            assertTrue(e.getMessage().contains("leaked DeviceBuffer"), e.getMessage());
            assertTrue(e.getMessage().contains("(reclaimed)"), e.getMessage());
            assertTrue(stackMentions(e.getSuppressed()[0], "leakAssertionsCoverGpuBuffers"));
            LeakAssertions.assertNoLeaks(manager);

            // A buffer still open is no dropped handle, but the manager's pools are not empty.
            PinnedBuffer open = manager.allocatePinned(512);
            AssertionError live = assertThrows(AssertionError.class, () -> LeakAssertions.assertNoLeaks(manager));
            assertTrue(live.getMessage().contains("pinned pool: 1 live block(s)"), live.getMessage());
            open.close();
            LeakAssertions.assertNoLeaks(manager);
        }
    }

    /**
     * {@link LeakAssertions#assertNoLeaks(DeviceManager)} until it fails,
     * for at most {@link #FOUND_WITHIN_MILLIS}: one collection may miss the
     * dropped buffer on a loaded machine.
     */
    private static void awaitAssertionError(DeviceManager manager) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FOUND_WITHIN_MILLIS);
        do {
            LeakAssertions.assertNoLeaks(manager);
        } while (System.nanoTime() < deadline);
    }

    /** Allocates a device buffer and drops it; only its address leaves the method. */
    private static long dropDeviceBuffer(Device device) {
        DeviceBuffer buffer = device.allocate(4096);
        return buffer.devicePointer();
    }

    private static long dropDeviceBuffer(Device device, CudaStream stream) {
        DeviceBuffer buffer = device.allocate(4096, stream);
        return buffer.devicePointer();
    }

    private static long dropPinnedBuffer(DeviceManager manager) {
        PinnedBuffer buffer = manager.allocatePinned(1024);
        return buffer.address();
    }

    /** Buffers closed in each way a buffer is freed; their addresses. */
    private static long[] closeBuffers(DeviceManager manager, CudaStream stream) {
        Device device = manager.device(0);
        DeviceBuffer closed = device.allocate(4096);
        DeviceBuffer orderedClose = device.allocate(4096, stream);
        DeviceBuffer freedOnStream = device.allocate(4096);
        PinnedBuffer pinned = manager.allocatePinned(1024);
        long[] addresses = {closed.devicePointer(), orderedClose.devicePointer(), freedOnStream.devicePointer(),
            pinned.address()};
        closed.close();
        orderedClose.close();
        freedOnStream.free(stream);
        pinned.close();
        stream.synchronize();
        return addresses;
    }

    /** Waits for the leak of the buffer at {@code address} of {@code pool}; null if none came in time. */
    private static LeakedBlock awaitLeak(String pool, long address) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FOUND_WITHIN_MILLIS);
        do {
            LeakDetector.collectLeaks(QUIET_MILLIS);
            LeakedBlock leak = find(LeakDetector.drainLeaks(), pool, address);
            if (leak != null) {
                return leak;
            }
        } while (System.nanoTime() < deadline);
        return null;
    }

    private static List<LeakedBlock> collectAll() throws InterruptedException {
        LeakDetector.collectLeaks(QUIET_MILLIS);
        return new ArrayList<>(LeakDetector.drainLeaks());
    }

    private static LeakedBlock find(List<LeakedBlock> leaks, String pool, long address) {
        for (LeakedBlock leak : leaks) {
            if (leak.pool().equals(pool) && leak.address() == address) {
                return leak;
            }
        }
        return null;
    }

    private static boolean stackMentions(Throwable stack, String method) {
        for (StackTraceElement frame : stack.getStackTrace()) {
            if (frame.getMethodName().equals(method)) {
                return true;
            }
        }
        return false;
    }
}
