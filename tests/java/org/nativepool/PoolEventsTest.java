package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Flight Recorder events: a recording of the slow paths holds each event with its fields. */
class PoolEventsTest {
    @TempDir
    Path directory;

    @Test
    void aRecordingHoldsTheSlowPathEvents() throws Exception {
        Path file = directory.resolve("pool.jfr");
        try (Recording recording = new Recording()) {
            for (String event : List.of("Trim", "CacheFlush", "OutOfMemory", "CorruptionDetected", "LeakReported")) {
                recording.enable("org.nativepool." + event);
            }
            recording.enable("org.nativepool.PoolStatistics").withPeriod(Duration.ofMillis(100));
            recording.start();
            try (VariablePool pool = VariablePool.builder().name("jfr-demo").arenaSize(64 << 10)
                    .maxCapacity(128 << 10).build()) {
                long block = pool.allocateAddress(100);
                assertThrows(OutOfPoolMemoryException.class, () -> pool.allocateAddress(1 << 20));
                pool.free(block);
                pool.trim();
                Thread.sleep(1500); // periods of the statistics event, with room for a loaded machine
            }
            VariablePool leaky = VariablePool.builder().name("jfr-leak").safetyLevel(SafetyLevel.CANARIES).build();
            long address = leaky.allocateAddress(64);
            RawViews.of(leaky, address, 65).put(64, (byte) 7); // one byte past the block
            assertThrows(MemoryCorruptionException.class, leaky::close);
            recording.stop();
            recording.dump(file);
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(file);
        RecordedEvent oom = only(events, "org.nativepool.OutOfMemory", "jfr-demo");
        assertEquals(1 << 20, oom.getLong("requested"));
        assertTrue(oom.getLong("freeBytes") > 0, oom.toString());
        RecordedEvent trim = only(events, "org.nativepool.Trim", "jfr-demo");
        assertEquals(64 << 10, trim.getLong("bytesReleased"));
        RecordedEvent corruption = only(events, "org.nativepool.CorruptionDetected", "jfr-leak");
        assertEquals("BACK", corruption.getString("guard"));
        RecordedEvent leak = only(events, "org.nativepool.LeakReported", "jfr-leak");
        assertEquals(1, leak.getLong("liveBlocks"));
        assertTrue(events.stream().anyMatch(e -> e.getEventType().getName().equals("org.nativepool.PoolStatistics")
                && e.getString("pool").equals("jfr-demo")), "periodic statistics of the open pool");
    }

    @Test
    void allocationsAtOrAboveTheThresholdAreRecordedAndNoOthers() throws Exception {
        Path file = directory.resolve("large.jfr");
        try (Recording recording = new Recording()) {
            recording.enable("org.nativepool.LargeAllocation");
            recording.start();
            try (VariablePool watched = VariablePool.builder().name("jfr-large").largeAllocationEvent(4096).build();
                    VariablePool cached = VariablePool.builder().name("jfr-small").largeAllocationEvent(100).build();
                    VariablePool unwatched = VariablePool.builder().name("jfr-unwatched").build()) {
                watched.free(watched.allocateAddress(4095));
                watched.free(watched.allocateAddress(4096));
                watched.allocate(1 << 20, 4096).close();
                long[] batch = new long[3];
                watched.allocate(3, 8192, batch);
                watched.free(batch);
                cached.free(cached.allocateAddress(99));
                cached.free(cached.allocateAddress(100)); // from a thread cache: watched all the same
                unwatched.free(unwatched.allocateAddress(1 << 20));
            }
            recording.stop();
            recording.dump(file);
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(file);
        List<RecordedEvent> large = events.stream()
                .filter(e -> e.getEventType().getName().equals("org.nativepool.LargeAllocation")
                        && e.getString("pool").equals("jfr-large")).collect(Collectors.toList());
        assertEquals(List.of(4096L, 1L << 20, 8192L), large.stream().map(e -> e.getLong("size")).toList());
        assertEquals(List.of(0L, 4096L, 0L), large.stream().map(e -> e.getLong("alignment")).toList());
        assertEquals(List.of(1, 1, 3), large.stream().map(e -> e.getInt("blocks")).toList());
        assertTrue(large.get(0).getStackTrace().getFrames().stream()
                .anyMatch(f -> f.getMethod().getName().contains("allocationsAtOrAboveTheThreshold")), "the caller");
        assertEquals(100, only(events, "org.nativepool.LargeAllocation", "jfr-small").getLong("size"));
        List<RecordedEvent> unwatched = events.stream()
                .filter(e -> e.getEventType().getName().equals("org.nativepool.LargeAllocation")
                        && e.getString("pool").equals("jfr-unwatched")).collect(Collectors.toList());
        assertTrue(unwatched.isEmpty(), "off by default: " + unwatched);
        InvalidArgumentException refused = assertThrows(InvalidArgumentException.class,
                () -> VariablePool.builder().largeAllocationEvent(0).build());
        assertTrue(refused.getMessage().contains("at least 1 byte"), refused.getMessage());
    }

    private static RecordedEvent only(List<RecordedEvent> events, String type, String pool) {
        List<RecordedEvent> found = events.stream()
                .filter(e -> e.getEventType().getName().equals(type) && pool.equals(e.getString("pool")))
                .collect(Collectors.toList());
        assertEquals(1, found.size(), type + " events of " + pool + ": " + found);
        return found.get(0);
    }
}
