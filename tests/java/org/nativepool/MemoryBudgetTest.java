package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Byte budgets: limits up the hierarchy, refusals that change nothing, closing, the system limits. */
class MemoryBudgetTest {

    @Test
    void reservationsCountUpTheHierarchyAndReleasesGiveBack() {
        try (MemoryBudget root = MemoryBudget.of("root", 1000)) {
            MemoryBudget query = root.child("query", 600);
            query.reserve(400);
            root.reserve(100);
            assertEquals(400, query.used());
            assertEquals(500, root.used());
            assertEquals(500, root.available());
            query.release(400);
            root.release(100);
            assertEquals(0, root.used());
            assertEquals(500, root.peak());
            assertEquals(400, query.peak());
            assertEquals(MemoryBudget.Counting.REQUESTED, query.counting());
            assertEquals(root, query.parent());
            query.close();
        }
    }

    @Test
    void aRefusalNamesTheBudgetThatRefusedAndChangesNoCounter() {
        try (MemoryBudget root = MemoryBudget.of("root", 1000)) {
            MemoryBudget query = root.child("query", 800);
            root.reserve(500);
            query.reserve(100);
            BudgetExceededException e = assertThrows(BudgetExceededException.class, () -> query.reserve(450));
            assertEquals("root", e.budget(), "the parent refused, within the child's own limit");
            assertEquals(450, e.requestedBytes());
            assertEquals(1000, e.limitBytes());
            assertEquals(600, e.usedBytes());
            assertTrue(e.getMessage().contains("'root' refused 450 bytes (asked of 'query'"), e.getMessage());
            assertEquals(100, query.used());
            assertEquals(600, root.used());
            assertEquals(100, query.peak(), "a refusal moves no peak");
            assertEquals(600, root.peak());
            BudgetExceededException own = assertThrows(BudgetExceededException.class, () -> query.reserve(701));
            assertEquals("query", own.budget());
            assertTrue(own instanceof OutOfPoolMemoryException, "callers that catch pool exhaustion catch it too");
            assertFalse(query.tryReserve(701));
            assertEquals(100, query.used());
            query.release(100);
            root.release(500);
            query.close();
        }
    }

    @Test
    void badInputIsRefusedAndChangesNothing() {
        assertThrows(InvalidArgumentException.class, () -> MemoryBudget.of("zero", 0));
        assertThrows(InvalidArgumentException.class, () -> MemoryBudget.of("negative", -1));
        assertThrows(InvalidArgumentException.class, () -> MemoryBudget.of("", 10));
        assertThrows(NullPointerException.class, () -> MemoryBudget.of(null, 10));
        try (MemoryBudget root = MemoryBudget.of("root", 1000)) {
            InvalidArgumentException larger = assertThrows(InvalidArgumentException.class,
                    () -> root.child("big", 1001));
            assertTrue(larger.getMessage().contains("cannot exceed its parent 'root'"), larger.getMessage());
            assertThrows(InvalidArgumentException.class, () -> root.child("zero", 0));
            assertThrows(InvalidArgumentException.class, () -> root.reserve(0));
            assertThrows(InvalidArgumentException.class, () -> root.reserve(-5));
            root.reserve(10);
            assertThrows(InvalidArgumentException.class, () -> root.release(11), "more than it holds");
            assertThrows(InvalidArgumentException.class, () -> root.release(0));
            assertEquals(10, root.used());
            root.release(10);
        }
    }

    @Test
    void closingABudgetInUseIsRefused() {
        MemoryBudget root = MemoryBudget.of("root", 1000);
        MemoryBudget.Attachment factory = root.attach("factory");
        BudgetInUseException attached = assertThrows(BudgetInUseException.class, root::close);
        assertTrue(attached.getMessage().contains("1 attachment(s)"), attached.getMessage());
        assertFalse(root.isClosed());
        factory.close();
        factory.close();
        MemoryBudget child = root.child("child", 10);
        assertThrows(BudgetInUseException.class, root::close, "an open child");
        child.close();
        root.reserve(5);
        BudgetInUseException reserved = assertThrows(BudgetInUseException.class, root::close);
        assertTrue(reserved.getMessage().contains("5 bytes reserved"), reserved.getMessage());
        root.release(5);
        root.close();
        root.close();
        assertTrue(root.isClosed());
        assertThrows(BudgetClosedException.class, () -> root.reserve(1));
        assertThrows(BudgetClosedException.class, () -> root.attach("late"));
        assertThrows(BudgetClosedException.class, () -> root.child("late", 1));
    }

    @Test
    void concurrentReservationsNeverPassTheLimitAndBalanceToZero() throws Exception {
        try (MemoryBudget root = MemoryBudget.of("root", 64 * 100)) {
            List<MemoryBudget> children = new ArrayList<>();
            List<Thread> threads = new ArrayList<>();
            CountDownLatch start = new CountDownLatch(1);
            for (int t = 0; t < 4; t++) {
                MemoryBudget child = root.child("worker-" + t, 64 * 60);
                children.add(child);
                threads.add(new Thread(() -> {
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        return;
                    }
                    for (int i = 0; i < 100_000; i++) {
                        if (child.tryReserve(64)) {
                            assertTrue(root.used() <= root.limit());
                            child.release(64);
                        }
                    }
                }));
            }
            threads.forEach(Thread::start);
            start.countDown();
            for (Thread thread : threads) {
                thread.join();
            }
            assertEquals(0, root.used());
            assertTrue(root.peak() <= root.limit());
            children.forEach(MemoryBudget::close);
        }
    }

    @Test
    void systemLimits(@TempDir Path dir) throws Exception {
        try (MemoryBudget direct = MemoryBudget.ofDirectMemoryLimit("direct", MemoryBudget.Counting.RESERVED)) {
            assertTrue(direct.limit() > 0);
            assertEquals(MemoryBudget.Counting.RESERVED, direct.counting());
        }
        Path limit = Files.writeString(dir.resolve("memory.max"), "1073741824\n");
        assertEquals(1L << 30, MemoryBudget.cgroupLimit(limit));
        Path unlimited = Files.writeString(dir.resolve("unlimited"), "max\n");
        assertThrows(FeatureUnavailableException.class, () -> MemoryBudget.cgroupLimit(unlimited));
        assertThrows(FeatureUnavailableException.class, () -> MemoryBudget.cgroupLimit(dir.resolve("absent")));
        Path garbage = Files.writeString(dir.resolve("garbage"), "lots");
        assertThrows(FeatureUnavailableException.class, () -> MemoryBudget.cgroupLimit(garbage));
        if (Files.isReadable(MemoryBudget.CGROUP_MEMORY_MAX)
                && !Files.readString(MemoryBudget.CGROUP_MEMORY_MAX).trim().equals("max")) {
            try (MemoryBudget cgroup = MemoryBudget.ofCgroupLimit("container", MemoryBudget.Counting.REQUESTED)) {
                assertEquals(Long.parseLong(Files.readString(MemoryBudget.CGROUP_MEMORY_MAX).trim()), cgroup.limit());
            }
        }
    }
}
