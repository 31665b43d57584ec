package org.nativepool.arrow;

import org.apache.arrow.memory.AllocationManager;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;

/**
 * A buffer of 0 bytes: no block, the address of {@link NativePoolArrow#empty()}.
 * Arrow's allocators answer {@code buffer(0)} with {@code empty()} and never
 * ask a factory for 0 bytes, but a direct {@code create(allocator, 0)} gets
 * this rather than a pool's refusal of size 0.
 */
final class EmptyManager extends AllocationManager {
    private final long address;

    EmptyManager(BufferAllocator accountingAllocator, ArrowBuf empty) {
        super(accountingAllocator);
        this.address = empty.memoryAddress();
    }

    @Override
    public long getSize() {
        return 0;
    }

    @Override
    protected long memoryAddress() {
        return address;
    }

    @Override
    protected void release0() {
        // nothing was allocated
    }
}
