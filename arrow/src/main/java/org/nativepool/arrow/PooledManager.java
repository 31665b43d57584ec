package org.nativepool.arrow;

import org.apache.arrow.memory.AllocationManager;
import org.apache.arrow.memory.BufferAllocator;
import org.nativepool.Pool;
import org.nativepool.TrackedAllocation;

/**
 * The memory of one Arrow buffer: a block of one of the factory's pools, at
 * exactly the size Arrow asked for. Arrow calls {@link #release0()} once, on
 * whichever thread releases the last reference.
 */
final class PooledManager extends AllocationManager {
    private final NativePoolArrow factory;
    private final Pool pool;
    private final long address;
    private final long size;
    /** What the factory charged its budget for this buffer. */
    private final long charge;
    private final TrackedAllocation tracked;

    PooledManager(BufferAllocator accountingAllocator, NativePoolArrow factory, Pool pool, long address, long size,
            long charge) {
        super(accountingAllocator);
        this.factory = factory;
        this.pool = pool;
        this.address = address;
        this.size = size;
        this.charge = charge;
        // Registered last, with this manager as the handle: it is reachable exactly as long as
        // some ArrowBuf of the block is, so a buffer dropped without release is reported.
        this.tracked = pool.trackAllocation(this, address, size);
    }

    @Override
    public long getSize() {
        return size;
    }

    @Override
    protected long memoryAddress() {
        return address;
    }

    @Override
    protected void release0() {
        tracked.close();
        pool.free(address);
        factory.uncharge(charge);
    }
}
