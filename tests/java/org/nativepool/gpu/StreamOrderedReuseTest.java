package org.nativepool.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nativepool.InvalidArgumentException;
import org.nativepool.PoolClosedException;
import org.nativepool.SafetyLevel;

/**
 * Stream-ordered free from Java: a block freed on a stream is reused at once
 * on that stream, and on another stream only once the free is known to have
 * completed (or that stream waits for it). The deterministic "not yet
 * complete" cases are covered by the native suite, which can hold a stream.
 */
class StreamOrderedReuseTest {

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void sameStreamReusesAtOnce(String runtime) {
        try (DeviceManager manager = open(runtime);
                CudaStream stream = manager.device(0).createStream()) {
            Device device = manager.device(0);
            DeviceBuffer first = device.allocate(1000, stream);
            long address = first.devicePointer();
            first.close();  // stream-ordered, on its allocation stream
            try (DeviceBuffer second = device.allocate(1000, stream)) {
                assertEquals(address, second.devicePointer());
            }
            DeviceStats stats = device.stats();
            assertEquals(1, stats.reusedSameStream());
            assertEquals(1, stats.upstreamAllocations());
        }
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void otherStreamReusesOnceTheFreeCompleted(String runtime) {
        try (DeviceManager manager = open(runtime);
                CudaStream s = manager.device(0).createStream();
                CudaStream t = manager.device(0).createStream()) {
            Device device = manager.device(0);
            DeviceBuffer first = device.allocate(1000, s);
            long address = first.devicePointer();
            first.free(s);
            s.synchronize();
            try (DeviceBuffer second = device.allocate(1000, t)) {
                assertEquals(address, second.devicePointer());
            }
            assertEquals(1, device.stats().reusedAfterEvent());
            assertEquals(0, device.stats().reusedAfterWait());
        }
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void reuseOnAnotherStreamKeepsTheOldOwnersWorkFirst(String runtime) {
        int size = 8 << 20;
        try (DeviceManager manager = open(runtime);
                CudaStream s = manager.device(0).createStream();
                CudaStream t = manager.device(0).createStream();
                PinnedBuffer ones = manager.allocatePinned(size);
                PinnedBuffer twos = manager.allocatePinned(size);
                PinnedBuffer seenByS = manager.allocatePinned(size);
                PinnedBuffer seenByT = manager.allocatePinned(size)) {
            fill(ones.asByteBuffer(), (byte) 1);
            fill(twos.asByteBuffer(), (byte) 2);
            Device device = manager.device(0);
            DeviceBuffer block = device.allocate(size, s);
            s.copyAsync(block, ones);
            s.copyAsync(seenByS, block);  // still pending when the block is freed
            block.free(s);
            try (DeviceBuffer reused = device.allocate(size, t)) {
                t.copyAsync(reused, twos);
                t.copyAsync(seenByT, reused);
                t.synchronize();
                s.synchronize();
            }
            assertEquals(1, seenByS.asByteBuffer().get(size - 1), "s read its data before t overwrote it");
            assertEquals(2, seenByT.asByteBuffer().get(size - 1));
            DeviceStats stats = device.stats();
            assertEquals(1, stats.reusedAfterEvent() + stats.reusedAfterWait());
        }
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void misuseOfStreamOrderedFreeIsReported(String runtime) {
        try (DeviceManager manager = open(runtime);
                CudaStream stream = manager.device(0).createStream()) {
            DeviceBuffer buffer = manager.device(0).allocate(256, stream);
            buffer.free(stream);
            assertThrows(PoolClosedException.class, () -> buffer.free(stream));
            buffer.close();  // no-op after free
            assertEquals(0, manager.device(0).stats().liveBlocks());
            assertEquals(1, manager.device(0).stats().cachedBlocks());
            manager.device(0).trim();
            assertEquals(0, manager.device(0).stats().cachedBlocks());
            assertThrows(InvalidArgumentException.class, () -> manager.device(0).allocate(0, stream));
        }
    }

    private static void fill(ByteBuffer buffer, byte value) {
        for (int i = 0; i < buffer.capacity(); i++) {
            buffer.put(i, value);
        }
    }

    /** OFF: these are the reuse rules of pools without guards, which free at once (DeviceSafetyTest). */
    private static DeviceManager open(String runtime) {
        return GpuRuntimes.builder(runtime, 1).safetyLevel(SafetyLevel.OFF).build();
    }
}
