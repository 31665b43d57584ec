package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nativepool.internal.PoolNative;

/**
 * The Flight Recorder's region events, reported by the native core through
 * the region-listener path: every region a pool maps, by a build, a growth
 * or a batch growth, and every region it unmaps, by a trim or its close.
 */
class RegionEventsTest {
    @TempDir
    Path directory;

    @Test
    void everyRegionMappedAndUnmappedIsRecorded() throws Exception {
        Path file = directory.resolve("regions.jfr");
        long reservedAtPeak;
        long fixedRegions;
        try (Recording recording = new Recording()) {
            recording.enable("org.nativepool.RegionMapped");
            recording.enable("org.nativepool.RegionUnmapped");
            recording.start();
            try (VariablePool pool = VariablePool.builder().name("jfr-regions").backend(Backend.mmap())
                    .arenaSize(64 << 10).initialCapacity(64 << 10).threadCache(0).build()) {
                long a = pool.allocateAddress(40_000);
                long b = pool.allocateAddress(40_000); // a second arena
                reservedAtPeak = pool.stats().bytesReserved();
                pool.free(b);
                assertEquals(64 << 10, pool.trim());
                pool.free(a);
            }
            try (FixedPool pool = FixedPool.builder(64).name("jfr-batch").blocksPerChunk(64).threadCache(0)
                    .build()) {
                long[] blocks = new long[200];
                pool.allocate(blocks.length, blocks); // grows inside the batch call
                fixedRegions = pool.stats().regions();
                pool.free(blocks);
            }
            recording.stop();
            recording.dump(file);
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(file);

        List<RecordedEvent> mapped = of(events, "org.nativepool.RegionMapped", "jfr-regions");
        List<RecordedEvent> unmapped = of(events, "org.nativepool.RegionUnmapped", "jfr-regions");
        assertEquals(2, mapped.size(), mapped.toString());
        assertEquals(reservedAtPeak, mapped.stream().mapToLong(e -> e.getLong("size")).sum());
        for (RecordedEvent event : mapped) {
            assertEquals(64 << 10, event.getLong("size"));
            assertEquals("mmap", event.getString("backend"));
            assertEquals("HOST", event.getString("memoryKind"));
            assertEquals(-1, event.getInt("node"));
            assertEquals(-1, event.getInt("device"));
            assertTrue(event.getLong("address") != 0, event.toString());
        }
        // The growth's stack names the call that grew the pool.
        assertTrue(mapped.get(1).getStackTrace().getFrames().stream()
                .anyMatch(f -> f.getMethod().getName().equals("allocateAddress")), mapped.get(1).toString());
        // One unmapped by trim(), the other by close(): each a region that was mapped.
        assertEquals(2, unmapped.size(), unmapped.toString());
        assertEquals(addresses(mapped), addresses(unmapped));

        List<RecordedEvent> batch = of(events, "org.nativepool.RegionMapped", "jfr-batch");
        assertEquals(fixedRegions, batch.size(), batch.toString());
        assertTrue(fixedRegions >= 4, "200 blocks of chunks of 64: " + fixedRegions);
        assertEquals(addresses(batch), addresses(of(events, "org.nativepool.RegionUnmapped", "jfr-batch")));
    }

    /**
     * The JNI rule a batch call keeps: no Java runs while it holds the critical
     * array it allocates into, so the events of its growth, and a user's
     * {@link RegionListener}, wait for the array's release. {@code -Xcheck:jni}
     * reports any JNI call made inside the critical section.
     */
    @Test
    void aBatchThatGrowsRunsNoJavaInsideItsCriticalSection() throws Exception {
        ChildJvm.Result result = ChildJvm.java(directory, "-Xcheck:jni", "-XX:StartFlightRecording",
                "-cp", System.getProperty("java.class.path"), BatchGrowth.class.getName());
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("listener saw 4 regions"), result.output());
        assertFalse(result.output().contains("Critical"), result.output());
    }

    /** Grows a listened pool, with a recording running, inside batch allocations. */
    static final class BatchGrowth {
        public static void main(String[] args) {
            List<Long> seen = new ArrayList<>();
            Backend listened = Backend.malloc().withRegionListener(new RegionListener() {
                @Override
                public void mapped(long address, long bytes) {
                    seen.add(bytes); // allocates on the Java heap, as a registration cache would
                }

                @Override
                public void unmapped(long address, long bytes) {
                }
            });
            try (FixedPool fixed = FixedPool.builder(64).backend(listened).blocksPerChunk(64).threadCache(0)
                    .build(); VariablePool variable = VariablePool.builder().backend(listened).arenaSize(64 << 10)
                    .threadCache(0).build()) {
                long[] blocks = new long[128];
                fixed.allocate(blocks.length, blocks);
                fixed.free(blocks);
                variable.allocate(2, 40_000, blocks);
                variable.free(blocks, 2);
            }
            System.out.println("listener saw " + seen.size() + " regions");
        }
    }

    @Test
    void theGlueRefusesASinkOfAnotherClass() {
        InvalidArgumentException refused = assertThrows(InvalidArgumentException.class,
                () -> PoolNative.createFixed(64, 16, 64, 0, 0, 0, 0, 0, 0, 0, null, "not a sink"));
        assertTrue(refused.getMessage().contains("region event sink"), refused.getMessage());
    }

    private static List<RecordedEvent> of(List<RecordedEvent> events, String type, String pool) {
        return events.stream().filter(e -> e.getEventType().getName().equals(type) && pool.equals(e.getString("pool")))
                .collect(Collectors.toList());
    }

    private static Map<Long, Long> addresses(List<RecordedEvent> events) {
        return events.stream().collect(Collectors.toMap(e -> e.getLong("address"), e -> e.getLong("size")));
    }
}
