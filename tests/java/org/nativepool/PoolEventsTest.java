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

    private static RecordedEvent only(List<RecordedEvent> events, String type, String pool) {
        List<RecordedEvent> found = events.stream()
                .filter(e -> e.getEventType().getName().equals(type) && pool.equals(e.getString("pool")))
                .collect(Collectors.toList());
        assertEquals(1, found.size(), type + " events of " + pool + ": " + found);
        return found.get(0);
    }
}
