package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import javax.management.JMX;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A persistent pool seen from JMX, in a snapshot and its map, and in the recovery event of its open. */
class PersistentObservabilityTest {
    private static final long CAPACITY = 1 << 20;
    private static final MBeanServer SERVER = ManagementFactory.getPlatformMBeanServer();

    @TempDir
    Path directory;

    private Path file() {
        return directory.resolve("heap.np");
    }

    private ObjectName beanName() throws Exception {
        return new ObjectName("org.nativepool:type=Pool,name=" + file().toAbsolutePath().normalize());
    }

    private ObjectName bufferName() throws Exception {
        return new ObjectName("java.nio:type=BufferPool,name=nativepool-" + file().toAbsolutePath().normalize());
    }

    @Test
    void aRegisteredPoolShowsItsStatsAndGoesAtClose() throws Exception {
        ObjectName name = beanName();
        try (PersistentPool pool = PersistentPool.create(file(), CAPACITY, new PersistentPool.Options().jmx(true))) {
            assertTrue(SERVER.isRegistered(name), name.toString());
            assertEquals("persistent", SERVER.getAttribute(name, "Algorithm"));
            assertEquals(CAPACITY, SERVER.getAttribute(name, "Capacity"));
            assertEquals(0L, SERVER.getAttribute(name, "LiveBlocks"));
            pool.allocate(100, 0);
            pool.allocate(300, 1);
            assertEquals(2L, SERVER.getAttribute(name, "LiveBlocks"));
            assertEquals(400L, SERVER.getAttribute(name, "BytesInUse"));
            assertEquals(pool.stats().freeBytes(), SERVER.getAttribute(name, "FreeBytes"));
            assertEquals(pool.durability().name(), SERVER.getAttribute(name, "Durability"));
            assertEquals(false, SERVER.getAttribute(name, "GroupCommit"));
            assertTrue((long) SERVER.getAttribute(name, "PersistPoints") > 0);
            BufferPoolMXBean buffers = JMX.newMXBeanProxy(SERVER, bufferName(), BufferPoolMXBean.class);
            assertEquals("nativepool-" + file().toAbsolutePath().normalize(), buffers.getName());
            assertEquals(2, buffers.getCount());
            assertEquals(400, buffers.getTotalCapacity());
            assertEquals(CAPACITY, buffers.getMemoryUsed());
            pool.free(0);
            assertEquals(1, buffers.getCount());
            assertEquals(300, buffers.getTotalCapacity());
        }
        assertFalse(SERVER.isRegistered(name), "unregistered at close");
        assertFalse(SERVER.isRegistered(bufferName()), "the buffer-pool view too");
        try (PersistentPool pool = PersistentPool.open(file(), new PersistentPool.Options().jmx(false))) {
            assertFalse(SERVER.isRegistered(name), "jmx(false): no bean");
        }
    }

    @Test
    void aNameInUseRefusesTheOpenAndLeavesTheFileClosed() throws Exception {
        PersistentPool.create(file(), CAPACITY).close();
        String taken = file().toAbsolutePath().normalize().toString();
        try (VariablePool other = VariablePool.builder().name(taken).jmx(true).build()) {
            PoolNameInUseException refused = assertThrows(PoolNameInUseException.class,
                    () -> PersistentPool.open(file(), new PersistentPool.Options().jmx(true)));
            assertTrue(refused.getMessage().contains(taken), refused.getMessage());
            PersistentPool.open(file()).close(); // the refused open let go of the file
        }
    }

    @Test
    void aSnapshotShowsTheTableAndTheFreeExtents() throws Exception {
        MemorySnapshot snapshot;
        PersistentStats stats;
        try (PersistentPool pool = PersistentPool.create(file(), CAPACITY)) {
            for (int i = 0; i < 6; i++) {
                pool.allocate(100 + 64 * i, i);
            }
            pool.free(1);
            pool.free(3);
            stats = pool.stats();
            snapshot = pool.snapshot();
            // The live runs, in offset order, are the blocks left in roots 0, 2, 4, 5, each as far from the
            // first as its offset in the file is.
            List<MemorySnapshot.Run> live = snapshot.regions().get(0).runs().stream()
                    .filter(r -> r.state() == BlockState.LIVE).collect(Collectors.toList());
            assertEquals(4, live.size(), live.toString());
            int[] roots = {0, 2, 4, 5};
            for (int i = 0; i < roots.length; i++) {
                PersistentBlock block = pool.root(roots[i]);
                assertEquals(block.size(), live.get(i).requestedSize());
                assertEquals(block.offset() - pool.root(0).offset(), live.get(i).offset() - live.get(0).offset());
            }
        }
        assertEquals("persistent", snapshot.algorithm());
        assertEquals(MemoryKind.PERSISTENT, snapshot.memoryKind());
        assertEquals(1, snapshot.regions().size());
        MemorySnapshot.Figures figures = snapshot.figures();
        assertEquals(stats.heapBytes(), figures.reservedBytes());
        assertEquals(stats.liveBlocks(), figures.liveBlocks());
        assertEquals(stats.unitsInUse() * 64, figures.liveBytes());
        assertEquals(stats.freeBytes(), figures.freeBytes());
        assertEquals(stats.freeExtents(), figures.holes());
        assertEquals(stats.largestFree(), figures.largestHole());
        assertEquals(snapshot.toJson(), MemorySnapshot.fromJson(snapshot.toJson()).toJson());
        Path map = directory.resolve("heap.html");
        MemoryMap.write(snapshot, map);
        assertTrue(Files.readString(map).contains("persistent pool"), "the map names the algorithm");
        PersistentPool closed = PersistentPool.open(file());
        closed.close();
        assertThrows(PoolClosedException.class, closed::snapshot);
    }

    /** Leaves a transaction open in the heap, as a crash does: its undo log holds one range. */
    static final class CrashInTransaction {
        public static void main(String[] args) {
            PersistentPool pool = PersistentPool.open(Path.of(args[0]));
            PersistentBlock block = pool.root(0);
            PersistentTransaction tx = pool.begin();
            tx.snapshot(block, 0, 8);
            block.putLong(0, 42);
            Runtime.getRuntime().halt(3); // no commit, no close
        }
    }

    @Test
    void theOpenAfterACrashRecordsItsRecovery() throws Exception {
        try (PersistentPool pool = PersistentPool.create(file(), CAPACITY)) {
            pool.allocate(64, 0).putLong(0, 7);
        }
        ChildJvm.Result crash = ChildJvm.java(directory, "-cp", System.getProperty("java.class.path"),
                CrashInTransaction.class.getName(), file().toString());
        assertEquals(3, crash.exitCode(), crash.output());
        Path recordingFile = directory.resolve("recovery.jfr");
        try (Recording recording = new Recording()) {
            recording.enable("org.nativepool.PersistentRecovery");
            recording.start();
            try (PersistentPool pool = PersistentPool.open(file(), new PersistentPool.Options().jmx(true))) {
                assertEquals(7, pool.root(0).getLong(0), "rolled back");
                assertEquals(1L, SERVER.getAttribute(beanName(), "RecoveredUndo"));
            }
            try (PersistentPool pool = PersistentPool.open(file())) {
                assertEquals(0, pool.stats().recoveredUndo(), "nothing left to recover");
            }
            recording.stop();
            recording.dump(recordingFile);
        }
        List<RecordedEvent> opens = RecordingFile.readAllEvents(recordingFile).stream()
                .filter(e -> e.getEventType().getName().equals("org.nativepool.PersistentRecovery"))
                .collect(Collectors.toList());
        assertEquals(2, opens.size(), opens.toString());
        RecordedEvent recovered = opens.get(0);
        assertEquals(file().toAbsolutePath().normalize().toString(), recovered.getString("path"));
        assertEquals(1, recovered.getLong("undoRangesRolledBack"));
        assertEquals(0, recovered.getLong("redoReplayed"));
        assertEquals(1, recovered.getLong("liveBlocks"));
        assertEquals(0, opens.get(1).getLong("undoRangesRolledBack"));
    }
}
