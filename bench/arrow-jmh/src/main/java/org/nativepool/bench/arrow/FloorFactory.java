package org.nativepool.bench.arrow;

import org.apache.arrow.memory.AllocationManager;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ReferenceManager;
import org.apache.arrow.memory.util.MemoryUtil;

/**
 * The bookkeeping floor: a factory whose every buffer is the same
 * preallocated region, so allocating and releasing cost nothing but Arrow's
 * own bookkeeping (accounting, ledger, reference count, the manager object).
 * A manager's cost above it is what its memory source adds. Buffers overlap:
 * for benchmarks only, whose values nobody reads.
 */
final class FloorFactory implements AllocationManager.Factory {
    static final FloorFactory INSTANCE = new FloorFactory();
    /** Larger than any one buffer the benchmarks ask for. */
    private static final long REGION_SIZE = 64L << 20;
    private static final long REGION = MemoryUtil.allocateMemory(REGION_SIZE);
    private static final ArrowBuf EMPTY = new ArrowBuf(ReferenceManager.NO_OP, null, 0, REGION);

    private FloorFactory() {
    }

    @Override
    public AllocationManager create(BufferAllocator accountingAllocator, long size) {
        if (size > REGION_SIZE) {
            throw new IllegalArgumentException("the floor's region holds " + REGION_SIZE + " bytes, not " + size);
        }
        return new Manager(accountingAllocator, size);
    }

    @Override
    public ArrowBuf empty() {
        return EMPTY;
    }

    private static final class Manager extends AllocationManager {
        private final long size;

        Manager(BufferAllocator accountingAllocator, long size) {
            super(accountingAllocator);
            this.size = size;
        }

        @Override
        public long getSize() {
            return size;
        }

        @Override
        protected long memoryAddress() {
            return REGION;
        }

        @Override
        protected void release0() {
            // the region stays for the next buffer
        }
    }
}
