package org.nativepool.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nativepool.MemoryCorruptionException;
import org.nativepool.SafetyLevel;

/**
 * The safety level of a manager reaches its device pools: their blocks carry
 * guard margins (set and checked with device copies) and a clean sequence of
 * copies and frees passes. Detection itself is proven by the native
 * gpu_canaries_test, since the Java copies are bounds-checked; here only the
 * bytes a block holds past its requested size, written around the API.
 */
class DeviceSafetyTest {
    private static final int SIZE = 4096;
    /** A device pool's granularity, and so the width of each guard margin. */
    private static final long MARGIN = 256;

    @ParameterizedTest
    @EnumSource(SafetyLevel.class)
    void devicePoolsTakeTheManagersSafetyLevel(SafetyLevel level) {
        try (DeviceManager manager = DeviceManager.builder().simulated(1, GpuRuntimes.CAPACITY).arenaSize(1L << 20)
                        .pinnedArenaSize(1L << 20).safetyLevel(level).build();
                CudaStream stream = manager.device(0).createStream();
                PinnedBuffer in = manager.allocatePinned(SIZE);
                PinnedBuffer out = manager.allocatePinned(SIZE)) {
            DeviceBuffer buffer = manager.device(0).allocate(SIZE);
            ByteBuffer data = in.asByteBuffer();
            for (int i = 0; i < SIZE; i++) {
                data.put(i, (byte) (i * 13));
            }
            stream.copy(buffer, in);
            stream.copy(out, buffer);
            assertEquals(data, out.asByteBuffer());

            DeviceStats stats = manager.device(0).stats();
            // Free space is what a user can allocate: each free hole, too, loses the two margins
            // a block placed there would need.
            long margins = level == SafetyLevel.OFF ? 0 : 2 * MARGIN;
            assertEquals(SIZE + margins * (1 + stats.poolFreeBlocks()), stats.reservedBytes() - stats.poolFreeBytes(),
                    "the pool holds the block and its guard margins");
            buffer.close();  // the guards are checked here: intact
            assertEquals(0, manager.device(0).stats().liveBlocks());
        }
    }

    /**
     * Byte 1000 of a 1000-byte buffer lies inside the pool's 256-byte rounding, not in
     * a margin, yet is guarded as on a host pool: a write there is reported at close,
     * with the requested size and the offset from the first byte.
     */
    @Test
    void theRoundingPastTheRequestedSizeIsGuarded() throws Exception {
        Class<?> type = Class.forName("sun.misc.Unsafe");
        Field theUnsafe = type.getDeclaredField("theUnsafe");
        theUnsafe.setAccessible(true);
        Method putByte = type.getMethod("putByte", long.class, byte.class);
        try (DeviceManager manager = DeviceManager.builder().simulated(1, GpuRuntimes.CAPACITY).arenaSize(1L << 20)
                .pinnedArenaSize(1L << 20).safetyLevel(SafetyLevel.CANARIES).build()) {
            PinnedBuffer pinned = manager.allocatePinned(1000);
            DeviceBuffer device = manager.device(0).allocate(1000); // simulated: host memory the test may write
            putByte.invoke(theUnsafe.get(null), pinned.address() + 1000, (byte) 0x5A);
            putByte.invoke(theUnsafe.get(null), device.devicePointer() + 1000, (byte) 0x5A);
            for (AutoCloseable buffer : new AutoCloseable[] {pinned, device}) {
                MemoryCorruptionException e = assertThrows(MemoryCorruptionException.class, buffer::close);
                assertEquals(1000, e.blockSize(), e.getMessage());
                assertEquals(1000, e.offset(), e.getMessage());
            }
        }
    }
}
