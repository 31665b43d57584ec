package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PersistentPool.grow and auto-grow through the JNI glue: handles follow the new mapping, refusals change nothing. */
class PersistentGrowthTest {
    private static final long CAPACITY = 256 << 10;

    @TempDir
    Path directory;

    private Path file() {
        return directory.resolve("heap");
    }

    @Test
    void handlesFollowTheNewMappingAndOffsetsSurviveReopening() throws Exception {
        long big;
        try (PersistentPool pool = PersistentPool.create(file(), CAPACITY)) {
            PersistentBlock block = pool.allocate(64, 0);
            block.putLong(0, 42);
            long heapBytes = pool.stats().heapBytes();
            pool.grow(2 * CAPACITY);
            assertEquals(2 * CAPACITY, pool.stats().capacity());
            assertEquals(2 * CAPACITY, Files.size(file()));
            assertEquals(42, block.getLong(0), "the handle made before the grow reads through the new mapping");
            block.putLong(8, 43);
            assertEquals(43, pool.root(0).getLong(8));
            PersistentBlock large = pool.allocate(heapBytes, 1);
            assertTrue(large.offset() > CAPACITY, "only the new segment holds it");
            large.putLong(heapBytes - 8, 44);
            large.persist();
            big = large.offset();
            pool.validate();
        }
        try (PersistentPool pool = PersistentPool.open(file())) {
            assertEquals(2 * CAPACITY, pool.stats().capacity());
            assertEquals(43, pool.root(0).getLong(8));
            PersistentBlock large = pool.root(1);
            assertEquals(big, large.offset());
            assertEquals(44, large.getLong(large.size() - 8));
            pool.validate();
        }
    }

    @Test
    void autoGrowStopsAtTheMaximum() {
        long max = 4 * CAPACITY;
        // Group commit: a few hundred msyncs of a real disk would take seconds.
        PersistentPool.Options options = new PersistentPool.Options().maxCapacity(max).groupCommit(true);
        try (PersistentPool pool = PersistentPool.create(file(), CAPACITY, options)) {
            PersistentBlock directory = pool.allocate(8 * 128, 0);
            PersistentBlock first = pool.allocateInto(16 << 10, directory, 0);
            first.putLong(0, 7);
            int count = 1;
            OutOfPoolMemoryException full = null;
            for (; count < 128 && full == null; count++) {
                try {
                    pool.allocateInto(16 << 10, directory, 8L * count);
                } catch (OutOfPoolMemoryException e) {
                    full = e;
                }
            }
            assertTrue(full != null, "the maximum stops auto-grow");
            assertEquals(max, pool.stats().capacity());
            assertEquals(7, first.getLong(0), "a handle follows each grow");
            pool.validate();
        }
    }

    @Test
    void refusedGrowsChangeNothing() throws Exception {
        try (PersistentPool pool = PersistentPool.create(file(), CAPACITY)) {
            PersistentBlock block = pool.allocate(64, 0);
            block.putLong(0, 5);
            PersistentStats before = pool.stats();
            assertThrows(InvalidArgumentException.class, () -> pool.grow(CAPACITY + 4096));
            assertThrows(InvalidArgumentException.class, () -> pool.grow(-1));
            assertThrows(InvalidArgumentException.class, () -> pool.grow(2 * CAPACITY + 1));
            // A file system too small for it, as at create.
            NativePoolException full = assertThrows(NativePoolException.class, () -> pool.grow(1L << 50));
            assertTrue(full instanceof OutOfPoolMemoryException || full.getClass() == PersistentFileException.class,
                    full.getClass().getName());
            assertEquals(before, pool.stats());
            assertEquals(CAPACITY, Files.size(file()));
            assertEquals(5, block.getLong(0));
            pool.validate();
        }
        assertThrows(InvalidArgumentException.class,
                () -> PersistentPool.open(file(), new PersistentPool.Options().maxCapacity(CAPACITY + 1)));
    }
}
