package org.nativepool.arrow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.arrow.memory.AllocationManager;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.OutOfMemoryException;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.util.TransferPair;
import org.junit.jupiter.api.Test;
import org.nativepool.BudgetExceededException;
import org.nativepool.BudgetInUseException;
import org.nativepool.InvalidArgumentException;
import org.nativepool.LeakDetection;
import org.nativepool.LeakDetector;
import org.nativepool.LeakedBlock;
import org.nativepool.MemoryBudget;
import org.nativepool.Pool;
import org.nativepool.PoolClosedException;
import org.nativepool.PoolStats;

/**
 * Arrow's own workloads through the factory: exact results, no leak on
 * Arrow's side or the pools', and Arrow's exceptions where Arrow expects them.
 */
class NativePoolArrowTest {
    private static final int ROWS = 1 << 20;

    private static RootAllocator rootOf(NativePoolArrow factory) {
        return new RootAllocator(RootAllocator.configBuilder().allocationManagerFactory(factory).build());
    }

    /** Closes the allocator (Arrow throws if it leaked), then checks that no pool holds a live block. */
    private static void closeClean(BufferAllocator allocator, NativePoolArrow factory) {
        assertEquals(0, allocator.getAllocatedMemory(), "Arrow counts no memory");
        allocator.close();
        for (Pool pool : factory.pools()) {
            PoolStats stats = pool.stats();
            assertEquals(0, stats.liveBlocks(), pool + ": " + stats);
            assertEquals(0, stats.bytesInUse(), pool + ": " + stats);
        }
        assertEquals(0, factory.bytesInUse());
    }

    @Test
    void millionRowVectorsSurviveIpcExactlyAndLeaveBothSidesClean() throws Exception {
        try (NativePoolArrow factory = NativePoolArrow.builder().leakDetection(LeakDetection.ALL).build()) {
            RootAllocator root = rootOf(factory);
            BufferAllocator writing = root.newChildAllocator("writing", 0, Long.MAX_VALUE);
            BufferAllocator reading = root.newChildAllocator("reading", 0, Long.MAX_VALUE);
            ByteArrayOutputStream stream = new ByteArrayOutputStream();
            try (VectorSchemaRoot batch = Workload.build(writing, ROWS)) {
                Workload.verify(batch, 0, ROWS);
                assertTrue(factory.bytesInUse() >= writing.getAllocatedMemory(), "the pools hold Arrow's buffers");
                try (ArrowStreamWriter writer = new ArrowStreamWriter(batch, null, Channels.newChannel(stream))) {
                    writer.start();
                    writer.writeBatch();
                    writer.end();
                }
            }
            assertEquals(0, writing.getAllocatedMemory());
            try (ArrowStreamReader reader = new ArrowStreamReader(new ByteArrayInputStream(stream.toByteArray()),
                    reading)) {
                assertTrue(reader.loadNextBatch());
                Workload.verify(reader.getVectorSchemaRoot(), 0, ROWS);
                assertTrue(!reader.loadNextBatch());
            }
            writing.close();
            reading.close();
            closeClean(root, factory);
            assertTrue(LeakDetector.drainLeaks().stream().noneMatch(leak -> leak.pool().startsWith("arrow")));
        }
    }

    @Test
    void slicesAndTransfersBetweenChildAllocatorsKeepTheirValues() {
        try (NativePoolArrow factory = NativePoolArrow.factory()) {
            RootAllocator root = rootOf(factory);
            BufferAllocator first = root.newChildAllocator("first", 0, Long.MAX_VALUE);
            BufferAllocator second = root.newChildAllocator("second", 0, Long.MAX_VALUE);
            try (ArrowBuf buffer = first.buffer(4096)) {
                for (int i = 0; i < 512; i++) {
                    buffer.setLong(i * 8L, i * 31L);
                }
                ArrowBuf slice = buffer.slice(800, 800);
                assertEquals(100 * 31L, slice.getLong(0));
                assertEquals(199 * 31L, slice.getLong(792));
                assertEquals(buffer.memoryAddress() + 800, slice.memoryAddress());
            }
            int rows = ROWS / 4;
            try (VectorSchemaRoot batch = Workload.build(first, rows)) {
                List<org.apache.arrow.vector.FieldVector> moved = new ArrayList<>();
                List<org.apache.arrow.vector.FieldVector> sliced = new ArrayList<>();
                for (org.apache.arrow.vector.FieldVector vector : batch.getFieldVectors()) {
                    TransferPair split = vector.getTransferPair(second);
                    split.splitAndTransfer(1000, 5000);
                    sliced.add((org.apache.arrow.vector.FieldVector) split.getTo());
                    TransferPair whole = vector.getTransferPair(second);
                    whole.transfer();
                    moved.add((org.apache.arrow.vector.FieldVector) whole.getTo());
                }
                assertEquals(0, first.getAllocatedMemory(), "every buffer moved to the second allocator");
                try (VectorSchemaRoot movedRoot = new VectorSchemaRoot(moved);
                     VectorSchemaRoot slicedRoot = new VectorSchemaRoot(sliced)) {
                    Workload.verify(movedRoot, 0, rows);
                    Workload.verify(slicedRoot, 1000, 5000);
                }
            }
            first.close();
            second.close();
            closeClean(root, factory);
        }
    }

    @Test
    void buffersReleasedOnOtherThreadsGoBackExactly() throws Exception {
        try (NativePoolArrow factory = NativePoolArrow.factory()) {
            RootAllocator root = rootOf(factory);
            List<ArrowBuf> buffers = new ArrayList<>();
            for (int i = 0; i < 20_000; i++) {
                ArrowBuf buffer = root.buffer(4 + ThreadLocalRandom.current().nextInt(20_000));
                assertEquals(0, buffer.memoryAddress() % NativePoolArrow.DEFAULT_ALIGNMENT);
                buffer.setInt(0, i);
                buffers.add(buffer);
            }
            ExecutorService threads = Executors.newFixedThreadPool(4);
            try {
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    int first = t;
                    done.add(threads.submit(() -> {
                        for (int i = first; i < buffers.size(); i += 4) {
                            assertEquals(i, buffers.get(i).getInt(0));
                            buffers.get(i).close();
                        }
                        // and allocate + release on this thread, while the others release
                        for (int i = 0; i < 10_000; i++) {
                            try (ArrowBuf own = root.buffer(64 << (i % 8))) {
                                own.setLong(0, i);
                                assertEquals(i, own.getLong(0));
                            }
                        }
                    }));
                }
                for (Future<?> future : done) {
                    future.get();
                }
            } finally {
                threads.shutdown();
            }
            closeClean(root, factory);
        }
    }

    @Test
    void aBudgetSmallerThanTheWorkloadGivesArrowsOutOfMemoryAndLeavesBothClean() {
        try (MemoryBudget budget = MemoryBudget.of("query-7", 4 << 20)) {
            try (NativePoolArrow factory = NativePoolArrow.factory(budget)) {
                RootAllocator root = rootOf(factory);
                try (ArrowBuf fits = root.buffer(1000)) {
                    assertEquals(root.getAllocatedMemory(), budget.used(), "exact: what Arrow counts");
                    assertTrue(fits.capacity() >= 1000);
                }
                OutOfMemoryException e = assertThrows(OutOfMemoryException.class, () -> Workload.build(root, ROWS));
                BudgetExceededException cause = assertInstanceOf(BudgetExceededException.class, e.getCause());
                assertEquals("query-7", cause.budget());
                assertTrue(e.getMessage().contains("budget 'query-7' refused"), e.getMessage());
                assertEquals(0, budget.used());
                BudgetInUseException inUse = assertThrows(BudgetInUseException.class, budget::close);
                assertTrue(inUse.getMessage().contains("1 attachment"), inUse.getMessage());
                closeClean(root, factory);
            }
            assertEquals(0, budget.used());
        }
    }

    @Test
    void reservedCountingChargesWholeBlocksAndChildBudgetsCountUpward() {
        try (MemoryBudget all = MemoryBudget.of("all", 64 << 20, MemoryBudget.Counting.RESERVED)) {
            MemoryBudget operator = all.child("operator", 1 << 20);
            try (NativePoolArrow factory = NativePoolArrow.factory(operator)) {
                RootAllocator root = rootOf(factory);
                try (ArrowBuf small = root.buffer(20); ArrowBuf large = root.buffer(10_000)) {
                    assertEquals(64 + 16384, operator.used(), "a 64-byte class and 10000 rounded by Arrow to 16 KiB");
                    assertEquals(operator.used(), all.used());
                    assertTrue(small.capacity() >= 20 && large.capacity() >= 10_000);
                }
                assertThrows(OutOfMemoryException.class, () -> root.buffer(2 << 20));
                assertEquals(0, all.used());
                closeClean(root, factory);
            }
            operator.close();
        }
    }

    @Test
    void emptyBuffersNeedNoMemory() throws Exception {
        try (NativePoolArrow factory = NativePoolArrow.factory()) {
            RootAllocator root = rootOf(factory);
            ArrowBuf empty = root.buffer(0);
            assertEquals(0, empty.capacity());
            assertSame(factory.empty(), empty);
            empty.close();
            AllocationManager zero = factory.create(root, 0);
            assertEquals(0, zero.getSize());
            try (IntVector none = new IntVector("none", root)) {
                none.allocateNew(0);
                none.setValueCount(0);
                ByteArrayOutputStream stream = new ByteArrayOutputStream();
                try (VectorSchemaRoot batch = VectorSchemaRoot.of(none);
                     ArrowStreamWriter writer = new ArrowStreamWriter(batch, null, Channels.newChannel(stream))) {
                    writer.start();
                    writer.writeBatch();
                    writer.end();
                }
                try (ArrowStreamReader reader = new ArrowStreamReader(
                        new ByteArrayInputStream(stream.toByteArray()), root)) {
                    assertTrue(reader.loadNextBatch());
                    assertEquals(0, reader.getVectorSchemaRoot().getRowCount());
                }
            }
            assertThrows(InvalidArgumentException.class, () -> factory.create(root, -1));
            closeClean(root, factory);
        }
    }

    @Test
    void aDroppedBufferIsReportedWithItsAllocationStack() throws Exception {
        NativePoolArrow factory = NativePoolArrow.builder().leakDetection(LeakDetection.ALL).build();
        RootAllocator root = rootOf(factory);
        LeakDetector.drainLeaks();
        long address = allocateAndDrop(root);
        LeakDetector.collectLeaks(5000);
        List<LeakedBlock> leaks = LeakDetector.drainLeaks();
        LeakedBlock leak = leaks.stream().filter(l -> l.address() == address).findFirst()
                .orElseThrow(() -> new AssertionError("no report of the dropped buffer: " + leaks));
        assertEquals(4096, leak.size(), "3000 bytes, as Arrow's rounding asked the factory for them");
        assertTrue(List.of(leak.allocationStack().getStackTrace()).stream()
                .anyMatch(frame -> frame.getMethodName().equals("allocateAndDrop")), "the stack names the caller");
        assertThrows(IllegalStateException.class, root::close, "Arrow still counts the buffer and says so");
        factory.close(); // releases the block, and logs it as leaked
    }

    private static long allocateAndDrop(BufferAllocator allocator) {
        ArrowBuf buffer = allocator.buffer(3000);
        buffer.setByte(0, 1);
        return buffer.memoryAddress();
    }

    @Test
    void automaticTrimGivesTheWorkloadsMemoryBack() throws Exception {
        try (NativePoolArrow factory = NativePoolArrow.builder().autoTrim(Duration.ofMillis(100)).build()) {
            RootAllocator root = rootOf(factory);
            try (BigIntVector longs = new BigIntVector("longs", root)) {
                longs.allocateNew(ROWS);
                longs.setValueCount(ROWS);
                assertTrue(factory.bytesReserved() >= 8L * ROWS);
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (factory.bytesReserved() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(0, factory.bytesReserved(), "every region went back");
            assertTrue(factory.bytesTrimmed() >= 8L * ROWS, "counted: " + factory.bytesTrimmed());
            closeClean(root, factory);
        }
    }

    @Test
    void misuseIsRefusedWithSpecificExceptionsAndChangesNothing() {
        assertThrows(InvalidArgumentException.class, () -> NativePoolArrow.builder().autoTrim(Duration.ZERO).build());
        assertThrows(InvalidArgumentException.class,
                () -> NativePoolArrow.builder().autoTrim(Duration.ofSeconds(-1)).build());
        assertThrows(InvalidArgumentException.class, () -> NativePoolArrow.builder().alignment(48));
        assertThrows(InvalidArgumentException.class, () -> NativePoolArrow.builder().alignment(8));
        assertThrows(InvalidArgumentException.class, () -> MemoryBudget.of("zero", 0));
        assertThrows(InvalidArgumentException.class, () -> MemoryBudget.of("negative", -1));
        try (MemoryBudget parent = MemoryBudget.of("parent", 1 << 20)) {
            assertThrows(InvalidArgumentException.class, () -> parent.child("child", 2 << 20));
        }
        NativePoolArrow factory = NativePoolArrow.factory();
        RootAllocator root = rootOf(factory);
        ArrowBuf buffer = root.buffer(100);
        buffer.close();
        assertThrows(IllegalStateException.class, buffer::close, "Arrow refuses a second release");
        closeClean(root, factory);
        factory.close();
        factory.close();
        RootAllocator late = rootOf(factory);
        assertThrows(PoolClosedException.class, () -> late.buffer(64));
        assertEquals(0, late.getAllocatedMemory(), "Arrow took its accounting back");
        late.close();
        MemoryBudget closed = MemoryBudget.of("closed", 100);
        closed.close();
        assertThrows(org.nativepool.BudgetClosedException.class, () -> NativePoolArrow.factory(closed));
    }
}
