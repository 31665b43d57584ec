package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Leak reports for PersistentPool reservations dropped neither published nor cancelled. */
class PersistentLeakTest {
    private static final long CAPACITY = 1 << 20;

    @TempDir
    Path directory;

    private PersistentPool create(LeakPolicy policy) {
        return PersistentPool.create(directory.resolve("heap"), CAPACITY,
                new PersistentPool.Options().leakDetection(LeakDetection.ALL).leakPolicy(policy));
    }

    @Test
    void aDroppedReservationIsReportedWithItsSiteAndItsSpaceIsFreeAgain() throws Exception {
        try (PersistentPool pool = create(LeakPolicy.THROW)) {
            long free = pool.stats().freeBytes();
            LeakDetector.drainLeaks();
            long offset = reserveAndDrop(pool);
            LeakedBlock leak = awaitLeak(pool);
            assertEquals("PersistentReservation", leak.handleType());
            assertEquals(offset, leak.address(), "a reservation is named by its offset in the file");
            assertEquals(4000, leak.size());
            assertTrue(leak.reclaimed(), leak.toString());
            assertTrue(stackMentions(leak.allocationStack(), "reserveAndDrop"), "the site that reserved it");
            assertEquals(free, pool.stats().freeBytes(), "the leak detector cancelled the reservation");
            pool.validate();
        } // THROW: the reclaimed reservation is no longer open, so closing reports nothing
    }

    @Test
    void publishedAndCancelledReservationsAreNeverReported() throws Exception {
        try (PersistentPool pool = create(LeakPolicy.THROW)) {
            LeakDetector.drainLeaks();
            for (int i = 0; i < 200; i++) {
                try (PersistentReservation reservation = pool.reserve(64)) {
                    if (i % 2 == 0) {
                        reservation.publishTo(i % PersistentPool.ROOTS);
                        pool.free(i % PersistentPool.ROOTS);
                    }
                }
            }
            LeakDetector.collectLeaks(2000);
            List<LeakedBlock> leaks = LeakDetector.drainLeaks();
            assertTrue(leaks.stream().noneMatch(leak -> leak.pool().equals(pool.jmxName())), leaks.toString());
            assertEquals(0, pool.stats().liveBlocks());
        }
    }

    @Test
    void closingWithOpenReservationsThrowsUnderThrowAndGivesThemBack() {
        PersistentPool pool = create(LeakPolicy.THROW);
        PersistentReservation open = pool.reserve(100);
        pool.reserve(28).close();
        PoolLeakException e = assertThrows(PoolLeakException.class, pool::close);
        assertEquals(1, e.leakedBlocks());
        assertEquals(100, e.leakedBytes());
        assertTrue(e.getMessage().contains("offset " + open.block().offset() + ": reserved at Java "
                + PersistentLeakTest.class.getName()), e.getMessage());
        assertTrue(pool.isClosed());
        assertThrows(PoolClosedException.class, open::close, "the pool gave it back already");
        try (PersistentPool reopened = PersistentPool.open(directory.resolve("heap"))) {
            assertEquals(0, reopened.stats().liveBlocks(), "a reservation never reaches the file");
            reopened.validate();
        }
    }

    @Test
    void closingWithOpenReservationsUnderLogEmitsTheLeakEvent() throws Exception {
        Path file = directory.resolve("leak.jfr");
        String name;
        try (Recording recording = new Recording()) {
            recording.enable("org.nativepool.LeakReported");
            recording.start();
            PersistentPool pool = create(LeakPolicy.LOG);
            name = pool.jmxName();
            PersistentReservation first = pool.reserve(10);
            PersistentReservation second = pool.reserve(20);
            pool.close(); // logs, throws nothing
            recording.stop();
            recording.dump(file);
            assertTrue(first.block().offset() != second.block().offset());
        }
        List<RecordedEvent> leaks = RecordingFile.readAllEvents(file).stream()
                .filter(event -> event.getString("pool").equals(name)).toList();
        assertEquals(1, leaks.size(), leaks.toString());
        assertEquals(2, leaks.get(0).getLong("liveBlocks"));
        assertEquals(30, leaks.get(0).getLong("bytesInUse"));
        assertTrue(leaks.get(0).getString("report").contains("2 reservation(s) neither published nor cancelled"));
    }

    @Test
    void theDefaultsAreThoseOfTheOtherPools() {
        try (PersistentPool pool = PersistentPool.create(directory.resolve("heap"), CAPACITY)) {
            assertEquals(LeakPolicy.LOG, pool.leakPolicy());
            assertEquals(LeakDetection.defaultFor(SafetyLevel.defaultLevel()), pool.leakDetection());
        }
        assertThrows(NullPointerException.class, () -> new PersistentPool.Options().leakPolicy(null));
        System.setProperty(LeakDetection.PROPERTY, "bogus");
        try {
            Path refused = directory.resolve("refused");
            assertThrows(InvalidArgumentException.class, () -> PersistentPool.create(refused, CAPACITY));
            assertFalse(Files.exists(refused), "a refused create leaves no file behind");
        } finally {
            System.clearProperty(LeakDetection.PROPERTY);
        }
    }

    private static long reserveAndDrop(PersistentPool pool) {
        return pool.reserve(4000).block().offset();
    }

    private static LeakedBlock awaitLeak(PersistentPool pool) throws InterruptedException {
        for (int attempt = 0; attempt < 10; attempt++) {
            LeakDetector.collectLeaks(2000);
            for (LeakedBlock leak : LeakDetector.drainLeaks()) {
                if (leak.pool().equals(pool.jmxName())) {
                    return leak;
                }
            }
        }
        throw new AssertionError("the dropped reservation was never reported");
    }

    private static boolean stackMentions(Throwable stack, String method) {
        for (StackTraceElement frame : stack.getStackTrace()) {
            if (frame.getMethodName().equals(method)) {
                return true;
            }
        }
        return false;
    }
}
