package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nativepool.ChildJvm.JAR;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PersistentPool through the JNI glue: reopen, atomic operations, transactions, refusals, kill -9. */
class PersistentPoolTest {
    private static final long CAPACITY = 1 << 20;

    @TempDir
    Path directory;

    private Path file() {
        return directory.resolve("heap");
    }

    @Test
    void blocksRootsAndBytesSurviveReopening() {
        long offset;
        try (PersistentPool pool = PersistentPool.create(file(), CAPACITY)) {
            assertEquals(Durability.MSYNC, pool.durability(), "no DAX under the test's temporary directory");
            PersistentBlock block = pool.allocate(100, 5);
            assertEquals(0, block.getLong(0), "allocate zeroes");
            block.putLong(8, 0xC0FFEEL);
            block.copyFrom(16, "persistent".getBytes(StandardCharsets.US_ASCII), 0, 10);
            block.persist();
            offset = block.offset();
            assertEquals(1, pool.stats().liveBlocks());
            assertEquals(100, pool.stats().bytesInUse());
            pool.validate();
        }
        try (PersistentPool pool = PersistentPool.open(file())) {
            PersistentBlock block = pool.root(5);
            assertEquals(offset, block.offset());
            assertEquals(100, block.size());
            assertEquals(0xC0FFEEL, block.getLong(8));
            byte[] text = new byte[10];
            block.copyTo(16, text, 0, 10);
            assertEquals("persistent", new String(text, StandardCharsets.US_ASCII));
            assertEquals(block, pool.block(offset));
            assertNull(pool.root(6));
            pool.validate();
        }
    }

    @Test
    void reservationsPublishIntoFieldsAndFreesClearThem() {
        try (PersistentPool pool = PersistentPool.create(file(), CAPACITY)) {
            PersistentBlock parent = pool.allocate(64, 0);
            PersistentBlock child;
            try (PersistentReservation reservation = pool.reserve(256)) {
                reservation.block().putLong(0, 77);
                assertEquals(1, pool.stats().liveBlocks(), "reserved, not yet in the heap");
                child = reservation.publishInto(parent, 8);
            }
            assertEquals(child.offset(), parent.getLong(8));
            assertEquals(77, pool.block(parent.getLong(8)).getLong(0));
            PersistentBlock grandchild = pool.allocateInto(32, child, 16);
            assertEquals(grandchild.offset(), child.getLong(16));
            pool.freeField(child, 16);
            assertEquals(0, child.getLong(16));
            assertThrows(DoubleFreeException.class, () -> pool.freeField(child, 16));
            assertThrows(InvalidArgumentException.class, () -> pool.allocateInto(8, parent, 4));
            assertThrows(InvalidArgumentException.class, () -> pool.allocateInto(8, parent, 8), "field holds a block");
            assertThrows(InvalidArgumentException.class, () -> pool.allocate(8, 0), "root holds a block");
            assertThrows(InvalidArgumentException.class, () -> pool.allocate(8, PersistentPool.ROOTS));
            assertThrows(InvalidArgumentException.class, () -> pool.allocate(0, 1));
            assertThrows(OutOfPoolMemoryException.class, () -> pool.allocate(CAPACITY, 1));
            assertThrows(InvalidFreeException.class, () -> pool.block(parent.offset() + 8));
            assertEquals(2, pool.stats().liveBlocks(), "refusals change nothing");
            try (PersistentReservation dropped = pool.reserve(1000)) {
                dropped.block().putByte(999, (byte) 1);
            }
            pool.free(0);
            assertThrows(DoubleFreeException.class, () -> pool.free(0));
            assertEquals(1, pool.stats().liveBlocks(), "the child is still published in the freed parent's memory");
            pool.validate();
        }
    }

    @Test
    void transactionsCommitOrRollBackWithTheirAllocationsAndFrees() {
        try (PersistentPool pool = PersistentPool.create(file(), CAPACITY)) {
            PersistentBlock account = pool.allocate(64, 0);
            try (PersistentTransaction tx = pool.begin()) {
                tx.snapshot(account, 0, 8);
                account.putLong(0, 100);
                PersistentBlock log = tx.allocate(128);
                log.putLong(0, 1);
                tx.setRoot(1, log);
                assertThrows(InvalidArgumentException.class, pool::begin, "one transaction at a time");
                assertThrows(InvalidArgumentException.class, () -> pool.allocate(8, 2), "atomic operations wait");
                tx.commit();
                assertThrows(InvalidArgumentException.class, tx::commit);
            }
            assertThrows(IllegalStateException.class, () -> {
                try (PersistentTransaction tx = pool.begin()) {
                    tx.snapshot(account, 0, 8);
                    account.putLong(0, -1);
                    tx.free(pool.root(1));
                    tx.setRoot(1, null);
                    tx.allocate(64);
                    throw new IllegalStateException("the caller fails half way");
                }
            });
            assertEquals(100, account.getLong(0));
            assertEquals(1, pool.root(1).getLong(0));
            assertEquals(2, pool.stats().liveBlocks());
            try (PersistentTransaction tx = pool.begin()) {
                assertThrows(IndexOutOfBoundsException.class, () -> account.getLong(60));
                assertThrows(InvalidArgumentException.class, () -> tx.snapshot(account, 60, 8));
            }
            pool.validate();
        }
    }

    @Test
    void refusedFilesAreNamedAndLeftAlone() throws Exception {
        Path text = directory.resolve("text");
        Files.writeString(text, "not a heap, just words".repeat(400));
        assertUnchangedAfter(NotAPoolException.class, text);
        PersistentPool.create(file(), CAPACITY).close();
        byte[] heap = Files.readAllBytes(file());
        Path truncated = directory.resolve("truncated");
        Files.write(truncated, java.util.Arrays.copyOf(heap, heap.length / 2));
        assertUnchangedAfter(PoolTruncatedException.class, truncated);
        Path version = directory.resolve("version");
        byte[] otherVersion = heap.clone();
        otherVersion[8] = 9;
        Files.write(version, otherVersion);
        assertUnchangedAfter(PoolVersionException.class, version);
        Path damaged = directory.resolve("damaged");
        byte[] flipped = heap.clone();
        flipped[30] ^= 4;
        Files.write(damaged, flipped);
        assertUnchangedAfter(ChecksumMismatchException.class, damaged);
        try (PersistentPool open = PersistentPool.open(file())) {
            assertUnchangedAfter(PoolAlreadyOpenException.class, file());
        }
        assertThrows(InvalidArgumentException.class, () -> PersistentPool.create(file(), CAPACITY), "exists");
        assertThrows(InvalidArgumentException.class, () -> PersistentPool.create(directory.resolve("odd"), 5000));
        assertThrows(PersistentFileException.class, () -> PersistentPool.open(directory.resolve("missing")));
    }

    private static void assertUnchangedAfter(Class<? extends PersistentFileException> expected, Path path)
            throws Exception {
        byte[] before = Files.readAllBytes(path);
        PersistentFileException e = assertThrows(expected, () -> PersistentPool.open(path));
        assertTrue(e.getMessage().contains(path.toString()) || expected == PoolTruncatedException.class,
                e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(path), "a refused file is not modified");
    }

    @Test
    void handlesThrowOnceThePoolIsClosed() {
        PersistentPool pool = PersistentPool.create(file(), CAPACITY);
        PersistentBlock block = pool.allocate(64, 0);
        PersistentTransaction tx = pool.begin();
        pool.close();
        assertThrows(PoolClosedException.class, () -> block.getLong(0));
        assertThrows(PoolClosedException.class, () -> block.putLong(0, 1));
        assertThrows(PoolClosedException.class, () -> pool.root(0));
        assertThrows(PoolClosedException.class, tx::commit);
        assertThrows(IndexOutOfBoundsException.class, () -> block.getLong(64), "bounds come first");
    }

    @Test
    void groupCommitDefersPersistPointsToFlush() {
        PersistentPool.Options options = new PersistentPool.Options().groupCommit(true).undoLogBytes(8192);
        try (PersistentPool pool = PersistentPool.create(file(), CAPACITY, options)) {
            assertTrue(pool.groupCommit());
            long before = pool.stats().persistPoints();
            for (int i = 0; i < 10; i++) {
                pool.allocate(64, i);
            }
            assertEquals(before + 1, pool.stats().persistPoints(), "only the first change marks the file unflushed");
            pool.flush();
            assertTrue(pool.stats().persistPoints() > before + 1);
        }
        try (PersistentPool pool = PersistentPool.open(file())) {
            assertEquals(10, pool.stats().liveBlocks());
        }
    }

    @Test
    void theFeatureIsReportedWithItsMechanism() {
        Features features = NativePool.features();
        assertTrue(features.has(Feature.PERSISTENT));
        assertTrue(features.toString().contains("PERSISTENT yes (MAP_SYNC + ") || features.toString()
                .contains("PERSISTENT yes (msync"), features.toString());
    }

    /**
     * A child JVM commits transactions until it is killed; the reopened pool holds every acknowledged one. One
     * round: the native suite's torture runs a thousand (persistent_crash_test); this one covers the glue.
     */
    @Test
    void killNineLosesNoAcknowledgedTransaction() throws Exception {
        PersistentPool.create(file(), CAPACITY).close();
        Path program = directory.resolve("Counter.java");
        Files.writeString(program, """
                import java.nio.file.Path;
                import org.nativepool.*;

                public class Counter {
                    public static void main(String[] args) {
                        try (PersistentPool pool = PersistentPool.open(Path.of(args[0]))) {
                            if (pool.root(0) == null) {
                                pool.allocate(64, 0);
                                pool.allocate(64, 1);
                            }
                            PersistentBlock a = pool.root(0), b = pool.root(1);
                            for (;;) {
                                try (PersistentTransaction tx = pool.begin()) {
                                    tx.snapshot(a, 0, 8);
                                    tx.snapshot(b, 0, 8);
                                    a.putLong(0, a.getLong(0) + 1);
                                    b.putLong(0, b.getLong(0) + 1);
                                    tx.commit();
                                }
                                System.out.println("committed " + a.getLong(0));
                            }
                        }
                    }
                }
                """);
        long acknowledged = 0;
        for (int round = 0; round < 1; round++) {
            Process child = ChildJvm.start(directory, "-Dnativepool.extract.dir=" + directory.resolve("x"), "-cp",
                    JAR.toString(), program.toString(), file().toString());
            try (BufferedReader lines = new BufferedReader(
                    new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                int seen = 0;
                while ((line = lines.readLine()) != null && seen < 200 + round * 150) {
                    if (line.startsWith("committed ")) {
                        acknowledged = Long.parseLong(line.substring(10));
                        seen++;
                    }
                }
                assertTrue(seen > 0, "the child committed nothing: " + line);
                child.destroyForcibly(); // SIGKILL
                child.waitFor();
            }
            try (PersistentPool pool = PersistentPool.open(file())) {
                pool.validate();
                long a = pool.root(0).getLong(0);
                assertEquals(a, pool.root(1).getLong(0), "no half transaction");
                assertTrue(a >= acknowledged, a + " < acknowledged " + acknowledged);
                assertFalse(pool.stats().liveBlocks() != 2);
            }
        }
    }
}
