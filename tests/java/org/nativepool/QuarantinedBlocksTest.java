package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A block closed while a view of it is reachable stays allocated (issue 10); snapshots show it as
 * QUARANTINED, in the JSON form and in the map's legend, and JMX counts it, until the view is collected.
 */
class QuarantinedBlocksTest {
    @TempDir
    Path directory;

    @Test
    void aBlockClosedUnderAViewIsQuarantinedUntilTheViewGoes() throws Exception {
        ObjectName bean = new ObjectName("org.nativepool:type=Pool,name=quarantine");
        try (FixedPool pool = FixedPool.builder(64).threadCache(0).name("quarantine").jmx(true).build()) {
            MemoryBlock[] blocks = new MemoryBlock[4];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = pool.allocate();
            }
            long held = blocks[1].address();
            ByteBuffer view = blocks[1].asByteBuffer();
            blocks[1].close();
            blocks[3].close();
            assertEquals(3, pool.stats().liveBlocks(), "the quarantined block is still live");
            assertEquals(1L, ManagementFactory.getPlatformMBeanServer().getAttribute(bean, "QuarantinedBlocks"));

            MemorySnapshot snapshot = pool.snapshot();
            List<Long> quarantined = addresses(snapshot, BlockState.QUARANTINED);
            assertEquals(List.of(held), quarantined);
            assertEquals(3, snapshot.figures().liveBlocks(), "figures count it as live, as stats do");
            String json = snapshot.toJson();
            assertTrue(json.contains(",1,\"Q\"]"), json);
            assertEquals(List.of(held), addresses(MemorySnapshot.fromJson(json), BlockState.QUARANTINED));
            Path map = directory.resolve("map.html");
            MemoryMap.write(snapshot, map);
            assertTrue(Files.readString(map).contains("quarantined"), "in the legend");
            view.put(0, (byte) 1); // the view still works: its memory is kept

            view = null;
            for (int i = 0; i < 200 && pool.stats().liveBlocks() != 2; i++) {
                System.gc();
                Thread.sleep(50);
            }
            assertEquals(2, pool.stats().liveBlocks(), "freed once the view was collected");
            assertEquals(List.of(), addresses(pool.snapshot(), BlockState.QUARANTINED));
            assertEquals(0L, ManagementFactory.getPlatformMBeanServer().getAttribute(bean, "QuarantinedBlocks"));
            blocks[0].close();
            blocks[2].close();
        }
    }

    private static List<Long> addresses(MemorySnapshot snapshot, BlockState state) {
        return snapshot.regions().stream().flatMap(region -> region.runs().stream()
                .filter(run -> run.state() == state).map(run -> region.base() + run.offset()))
                .collect(Collectors.toList());
    }
}
