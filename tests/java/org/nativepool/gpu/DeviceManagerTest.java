package org.nativepool.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nativepool.Feature;
import org.nativepool.FeatureUnavailableException;
import org.nativepool.Features;
import org.nativepool.InvalidArgumentException;
import org.nativepool.NativePool;

/** Several devices: selection policies, peer copies, wrong-device errors, stats. */
class DeviceManagerTest {

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void roundRobinVisitsEveryDevice(String runtime) {
        try (DeviceManager manager = GpuRuntimes.open(runtime, 1)) {
            int count = manager.deviceCount();
            int first = manager.select(SelectionPolicy.ROUND_ROBIN).index();
            for (int i = 1; i <= count; i++) {
                assertEquals((first + i) % count, manager.select(SelectionPolicy.ROUND_ROBIN).index());
            }
        }
    }

    @Test
    void mostFreeMemoryAvoidsTheBusyDevice() {
        try (DeviceManager manager = DeviceManager.builder().simulated(3, 64L << 20).arenaSize(8L << 20).build();
                CudaStream on0 = manager.device(0).createStream();
                CudaStream on2 = manager.device(2).createStream()) {
            DeviceBuffer big = manager.device(0).allocate(40L << 20, on0);
            DeviceBuffer small = manager.device(2).allocate(20L << 20, on2);
            assertEquals(1, manager.select(SelectionPolicy.MOST_FREE_MEMORY).index());
            big.close();
            small.close();
        }
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void peerCopiesMoveDataBetweenDevices(String runtime) {
        try (DeviceManager manager = GpuRuntimes.open(runtime, 2);
                CudaStream on0 = manager.device(0).createStream();
                CudaStream on1 = manager.device(1).createStream();
                PinnedBuffer in = manager.allocatePinned(4096);
                PinnedBuffer out = manager.allocatePinned(4096);
                DeviceBuffer a = manager.device(0).allocate(4096, on0);
                DeviceBuffer b = manager.device(1).allocate(4096, on1)) {
            in.asByteBuffer().put(4095, (byte) 42);
            on0.copy(a, in);
            on1.copy(b, a);  // a peer copy, enqueued on the destination's stream
            on1.copy(out, b);
            assertEquals(42, out.asByteBuffer().get(4095));
            if (runtime.equals("simulated")) {
                assertTrue(manager.peerAccess(manager.device(0), manager.device(1)));
            }
        }
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void aStreamOfAnotherDeviceIsRefused(String runtime) {
        try (DeviceManager manager = GpuRuntimes.open(runtime, 2);
                CudaStream on1 = manager.device(1).createStream();
                PinnedBuffer host = manager.allocatePinned(256);
                DeviceBuffer on0 = manager.device(0).allocate(256)) {
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> on1.copyAsync(on0, host));
            assertTrue(e.getMessage().contains("wrong device"), e.getMessage());
            assertThrows(InvalidArgumentException.class, () -> manager.device(0).allocate(256, on1));
            assertThrows(InvalidArgumentException.class, () -> on0.free(on1));
            // The refused free changed nothing: the block is live and close() still frees it.
            assertFalse(on0.isClosed());
            assertEquals(1, manager.device(0).stats().liveBlocks());
            on0.close();
            assertEquals(0, manager.device(0).stats().liveBlocks());
        }
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void aggregateStatsSumTheDevices(String runtime) {
        try (DeviceManager manager = GpuRuntimes.open(runtime, 2);
                DeviceBuffer a = manager.device(0).allocate(1000);
                DeviceBuffer b = manager.device(1).allocate(3000)) {
            DeviceStats total = manager.stats();
            assertEquals(-1, total.device());
            assertEquals(2, total.liveBlocks());
            assertEquals(1024 + 3072, total.bytesInUse());
            assertEquals(manager.device(0).stats().deviceTotalBytes() + manager.device(1).stats().deviceTotalBytes(),
                    total.deviceTotalBytes());
            assertEquals(1, manager.device(1).stats().liveBlocks());
        }
    }

    @Test
    void theCudaManagerSaysPlainlyWhyItIsUnavailable() {
        Features features = NativePool.features();
        if (features.has(Feature.CUDA)) {
            DeviceManager.open().close();
            return;
        }
        FeatureUnavailableException e = assertThrows(FeatureUnavailableException.class, DeviceManager::open);
        if (features.cudaCompiled()) {
            assertTrue(e instanceof NoCudaDeviceException, e.toString());
            assertTrue(e.getMessage().startsWith("no CUDA device"), e.getMessage());
        } else {
            assertTrue(e.getMessage().contains("not compiled"), e.getMessage());
        }
    }

    @Test
    void handlesOfAnotherManagerAreRefused() {
        try (DeviceManager one = DeviceManager.simulated(1, 1L << 20);
                DeviceManager other = DeviceManager.simulated(1, 1L << 20);
                CudaStream stream = one.device(0).createStream();
                CudaStream foreign = other.device(0).createStream();
                CudaEvent foreignEvent = other.device(0).createEvent();
                DeviceBuffer buffer = one.device(0).allocate(256);
                DeviceBuffer foreignBuffer = other.device(0).allocate(256)) {
            InvalidArgumentException mixed = assertThrows(InvalidArgumentException.class,
                    () -> one.device(0).allocate(256, foreign));
            // Two managers of the same kind and size: the message still tells them apart.
            assertNotEquals(one.toString(), other.toString());
            assertTrue(mixed.getMessage().contains("belongs to " + other + ", not to " + one), mixed.getMessage());
            assertThrows(InvalidArgumentException.class, () -> stream.copyAsync(buffer, foreignBuffer));
            assertThrows(InvalidArgumentException.class, () -> stream.record(foreignEvent));
            assertThrows(InvalidArgumentException.class, () -> stream.waitFor(foreignEvent));
            assertThrows(InvalidArgumentException.class, () -> buffer.free(foreign));
            assertThrows(InvalidArgumentException.class, () -> one.peerAccess(one.device(0), other.device(0)));
            assertThrows(InvalidArgumentException.class, () -> one.peerAccess(other.device(0), one.device(0)));
        }
    }

    @Test
    void aSimulationOfNoDevicesIsRefusedRatherThanOpeningCuda() {
        for (int devices : new int[] {0, -1}) {
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                    () -> DeviceManager.simulated(devices, 1L << 20).close());
            assertTrue(e.getMessage().contains("at least one device"), e.getMessage());
        }
        assertThrows(InvalidArgumentException.class, () -> DeviceManager.simulated(1, 0).close());
        assertThrows(InvalidArgumentException.class, () -> DeviceManager.simulated(1, -1).close());
        InvalidArgumentException tooMany = assertThrows(InvalidArgumentException.class,
                () -> DeviceManager.simulated(65, 1L << 20).close());
        assertTrue(tooMany.getMessage().contains("at most 64"), tooMany.getMessage());
        DeviceManager.simulated(64, 1L << 20).close();
    }

    @Test
    void simulatedTotalsThatWouldOverflowALongAreRefused() {
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                () -> DeviceManager.simulated(2, Long.MAX_VALUE).close());
        assertTrue(e.getMessage().contains("2 devices of " + Long.MAX_VALUE + " bytes exceed"), e.getMessage());
        try (DeviceManager manager = DeviceManager.simulated(2, Long.MAX_VALUE / 2)) {
            DeviceStats total = manager.stats();
            assertEquals(Long.MAX_VALUE / 2 * 2, total.deviceTotalBytes());
            assertTrue(total.deviceFreeBytes() > 0, total.toString());
        }
    }

    @Test
    void freeOnANullStreamNamesTheParameter() {
        try (DeviceManager manager = DeviceManager.simulated(1, 1L << 20);
                DeviceBuffer buffer = manager.device(0).allocate(256)) {
            NullPointerException e = assertThrows(NullPointerException.class, () -> buffer.free(null));
            assertEquals("stream", e.getMessage());
            assertFalse(buffer.isClosed(), "a refused free leaves the buffer live");
        }
    }

    @Test
    void arenaSizesThatAreNoPositiveMultipleOf256AreRefused() {
        for (long arena : new long[] {0, 1, 255, 1000}) {
            assertThrows(InvalidArgumentException.class,
                    () -> DeviceManager.builder().simulated(1, 1L << 20).arenaSize(arena).build().close());
            assertThrows(InvalidArgumentException.class,
                    () -> DeviceManager.builder().simulated(1, 1L << 20).pinnedArenaSize(arena).build().close());
        }
    }

    @Test
    void pinnedBuffersHaveAHostView() {
        try (DeviceManager manager = DeviceManager.simulated(1, 1L << 20);
                PinnedBuffer pinned = manager.allocatePinned(100)) {
            ByteBuffer view = pinned.asByteBuffer();
            view.putLong(0, 7L);
            assertEquals(100, view.capacity());
            assertEquals(7L, pinned.asByteBuffer().getLong(0));
            assertEquals(1, manager.pinnedStats().liveBlocks());
        }
    }
}
