package org.nativepool.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Flight Recorder's region events of a {@link DeviceManager}'s pools, on
 * the simulated runtime: each device pool and the pinned pool reports the
 * upstream regions it maps as it grows and unmaps as the manager closes, with
 * its device (-1 for pinned) and memory kind, through the path every pool's
 * regions take (native/jni/jni_region_events.cpp).
 */
class DeviceRegionEventsTest {
    private static final long ARENA = 4L << 20;
    private static final long PINNED_ARENA = 1L << 20;

    @TempDir
    Path directory;

    @Test
    void growingDevicePoolsAndThePinnedPoolRecordTheirRegions() throws Exception {
        List<RecordedEvent> events = record(() -> {
            try (DeviceManager manager = DeviceManager.builder().name("jfr-gpu").simulated(2, 64L << 20)
                    .arenaSize(ARENA).pinnedArenaSize(PINNED_ARENA).build()) {
                manager.device(1).allocate(1000).close(); // grows device 1's pool only
                manager.device(1).allocate(ARENA).close(); // a second, larger arena
                manager.allocatePinned(4096).close();
            }
        });

        List<RecordedEvent> device = of(events, "org.nativepool.RegionMapped", "jfr-gpu:device1");
        assertEquals(2, device.size(), device.toString());
        assertEquals(ARENA, device.get(0).getLong("size"));
        assertTrue(device.get(1).getLong("size") >= ARENA, device.get(1).toString());
        for (RecordedEvent event : device) {
            assertEquals("DEVICE", event.getString("memoryKind"));
            assertEquals(1, event.getInt("device"));
            assertEquals(-1, event.getInt("node"));
            assertEquals("simulated:1", event.getString("backend"));
        }
        // The growth's stack names the call that grew the pool.
        assertTrue(device.get(0).getStackTrace().getFrames().stream()
                .anyMatch(f -> f.getMethod().getName().equals("allocate")), device.get(0).toString());
        assertEquals(List.of(), of(events, "org.nativepool.RegionMapped", "jfr-gpu:device0"));

        List<RecordedEvent> pinned = of(events, "org.nativepool.RegionMapped", "jfr-gpu:pinned");
        assertEquals(1, pinned.size(), pinned.toString());
        assertEquals(PINNED_ARENA, pinned.get(0).getLong("size"));
        assertEquals("PINNED_HOST", pinned.get(0).getString("memoryKind"));
        assertEquals(-1, pinned.get(0).getInt("device"));
        assertEquals("simulated-pinned", pinned.get(0).getString("backend"));

        // close() gives every region back, each reported as unmapped with its own size.
        assertEquals(addresses(device), addresses(of(events, "org.nativepool.RegionUnmapped", "jfr-gpu:device1")));
        assertEquals(addresses(pinned), addresses(of(events, "org.nativepool.RegionUnmapped", "jfr-gpu:pinned")));
        assertEquals(device.stream().mapToLong(e -> e.getLong("size")).sum(),
                of(events, "org.nativepool.RegionUnmapped", "jfr-gpu:device1").stream()
                        .mapToLong(e -> e.getLong("size")).sum());
    }

    @Test
    void anUnnamedManagersPoolsCarryItsDefaultName() throws Exception {
        String[] name = new String[2];
        List<RecordedEvent> events = record(() -> {
            try (DeviceManager manager = DeviceManager.simulated(1, 16L << 20)) {
                name[0] = manager.name();
                name[1] = manager.device(0).poolName();
                manager.device(0).allocate(256).close();
            }
        });
        assertTrue(name[0].startsWith("simulated-"), name[0]);
        assertEquals(1, of(events, "org.nativepool.RegionMapped", name[0] + ":device0").size());
        // The glue names the events' pool itself (it learns the device count only as it creates the pools):
        // Device.poolName() must say the same.
        assertEquals(name[0] + ":device0", name[1]);
    }

    /** The region events of what {@code work} does, recorded and read back from a file. */
    private List<RecordedEvent> record(Runnable work) throws Exception {
        Path file = directory.resolve("regions.jfr");
        try (Recording recording = new Recording()) {
            recording.enable("org.nativepool.RegionMapped");
            recording.enable("org.nativepool.RegionUnmapped");
            recording.start();
            work.run();
            recording.stop();
            recording.dump(file);
        }
        return RecordingFile.readAllEvents(file);
    }

    private static List<RecordedEvent> of(List<RecordedEvent> events, String type, String pool) {
        return events.stream().filter(e -> e.getEventType().getName().equals(type))
                .filter(e -> pool.equals(e.getString("pool"))).collect(Collectors.toList());
    }

    private static Set<Long> addresses(List<RecordedEvent> events) {
        return events.stream().map(e -> e.getLong("address")).collect(Collectors.toSet());
    }
}
