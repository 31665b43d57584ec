package org.nativepool.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nativepool.BlockState;
import org.nativepool.InvalidArgumentException;
import org.nativepool.MemoryKind;
import org.nativepool.MemorySnapshot;
import org.nativepool.PoolClosedException;
import org.nativepool.SafetyLevel;

/** Device and pinned pools through the same snapshot API as host pools. */
class DeviceSnapshotTest {

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void aDevicePoolShowsLiveAndStreamCachedBlocks(String runtime) {
        DeviceManager manager = GpuRuntimes.builder(runtime, 1).safetyLevel(SafetyLevel.OFF).build();
        try (manager; CudaStream stream = manager.device(0).createStream()) {
            Device device = manager.device(0);
            DeviceBuffer kept = device.allocate(4096, stream);
            DeviceBuffer freed = device.allocate(1000, stream);
            freed.close(); // stream-ordered: cached for the stream until reused
            MemorySnapshot snapshot = manager.snapshot(device);
            assertEquals(MemoryKind.DEVICE, snapshot.memoryKind());
            assertEquals(0, snapshot.device());
            // One name per pool everywhere: snapshots, leak reports, events and JMX.
            assertEquals(manager.name() + ":device0", snapshot.poolName());
            assertEquals(device.poolName(), snapshot.poolName());
            MemorySnapshot.Figures f = snapshot.figures();
            assertEquals(1, f.liveBlocks(), snapshot.toString());
            assertEquals(1, f.cachedBlocks(), snapshot.toString());
            assertEquals(device.stats().cachedBytes(), f.cachedBytes());
            assertEquals(f.reservedBytes(), f.liveBytes() + f.cachedBytes() + f.freeBytes());
            assertEquals(BlockState.LIVE, stateAt(snapshot, kept.devicePointer()));
            kept.close();
            assertEquals(MemoryKind.PINNED_HOST, manager.pinnedSnapshot().memoryKind());
            assertEquals(manager.name() + ":pinned", manager.pinnedSnapshot().poolName());
            try (DeviceManager other = GpuRuntimes.builder(runtime, 1).build()) {
                assertThrows(InvalidArgumentException.class, () -> manager.snapshot(other.device(0)));
            }
        }
        assertThrows(PoolClosedException.class, manager::pinnedSnapshot);
    }

    private static BlockState stateAt(MemorySnapshot snapshot, long address) {
        for (MemorySnapshot.Region region : snapshot.regions()) {
            for (MemorySnapshot.Run run : region.runs()) {
                if (address >= region.base() + run.offset() && address < region.base() + run.end()) {
                    return run.state();
                }
            }
        }
        throw new AssertionError("0x" + Long.toHexString(address) + " is in no region");
    }
}
