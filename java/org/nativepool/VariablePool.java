package org.nativepool;

import java.util.function.LongSupplier;

import org.nativepool.internal.PoolNative;

/**
 * A pool of blocks of any size and power-of-two alignment, with O(1)
 * allocation and free (TLSF segregated fit) and immediate coalescing of free
 * neighbours. Grows by arenas from its backend up to a maximum capacity;
 * {@link #trim()} gives wholly free arenas back, and the pages inside other
 * free blocks over host memory.
 *
 * <p><b>Thread caches.</b> Unless built with {@link PoolBuilder#threadCache(int) threadCache(0)},
 * each thread that allocates or frees single small blocks gets, per size
 * class, its own cache of up to {@link PoolBuilder#DEFAULT_THREAD_CACHE} free
 * blocks, as {@link FixedPool} has for its one size: most calls then cross no
 * JNI. The classes are 16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768,
 * 1024, 1536, 2048 and 3072 bytes, each rounded up to the granularity (so
 * fewer classes for a coarser one); a request of up to 3 KiB at an alignment
 * no larger than the granularity is served with a block of the smallest
 * class that holds it,
 * and any other request (larger, aligned more, or a pool with a granularity
 * below 16) goes to the pool, whose own thread caches serve sizes up to
 * 4 KiB. Such a block is a block of its class
 * size: a cached allocation of 100 bytes holds 128, and counts for 128 in
 * {@link PoolStats#bytesInUse()} (the pool would count 112 for it, its size
 * rounded to the granularity), while its {@link MemoryBlock#size()} stays 100.
 * Counting the class size keeps the statistics exact about the memory the
 * pool has handed out; remembering every block's requested size would cost
 * a write on every cached operation.
 *
 * <p>A thread therefore parks at most {@code capacity} blocks of each class:
 * with the default 64 and granularity 16, 960 blocks and 636 KiB, and the
 * pool's depots, where full caches leave halves for other threads' refills
 * (as {@link FixedPool} describes), twice that, counted in
 * {@link PoolStats#cachedBlocks()} and {@link PoolStats#cachedBytes()}; a pool
 * with {@link Builder#maxCapacity(long)} should allow for them. A free finds
 * its block's class without a native call, in the set of blocks the caches
 * issued, and is checked as {@link FixedPool} describes: 0, foreign and
 * interior addresses and blocks the pool holds free are refused at once, and
 * so is a second free of a block parked in any thread's cache.
 * Batch calls ({@link #allocate(int, long, long[])}, {@link #free(long[], int)})
 * bypass the caches, and pools above {@link SafetyLevel#OFF} have none. The
 * caches of ended threads return their blocks to the pool (see
 * {@link #stats()}); {@link #flushThreadCache()} returns the calling thread's
 * at once.
 *
 * <pre>{@code
 * try (VariablePool pool = VariablePool.builder().arenaSize(16 << 20).build();
 *      MemoryBlock record = pool.allocate(1000)) {
 *     record.asByteBuffer().put(0, (byte) 1);
 * }
 * }</pre>
 */
public final class VariablePool extends Pool {
    /**
     * Allocations of at least this many bytes emit {@code org.nativepool.LargeAllocation}
     * ({@link Builder#largeAllocationEvent(long)}); {@code Long.MAX_VALUE}, the default, for none, so
     * that the allocation path pays one compare of a final field when the event is off.
     */
    private final long largeAllocation;

    private VariablePool(long handle, Builder builder) {
        super(handle, builder);
        this.largeAllocation = builder.largeAllocation;
    }

    /** {@return a new builder with the defaults: 64 MiB arenas, 16-byte granularity, no limit} */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Allocates {@code size} bytes at the pool's granularity alignment.
     *
     * @param size the bytes wanted, at least 1; the block holds them rounded up to the granularity, and
     *     and up to 3 KiB to its thread caches' class (above); without them, or above 3 KiB, it is rounded
     *     above 1 KiB and up to 4 KiB to the pool's size class (eight to a doubling: 1152, 1280, ..., 4096)
     * @return a handle whose {@link MemoryBlock#size()} is {@code size}
     * @throws OutOfPoolMemoryException if no free block fits and the pool cannot grow
     */
    public MemoryBlock allocate(long size) {
        return allocate(size, 0);
    }

    /**
     * Allocates {@code size} bytes aligned to {@code alignment}.
     *
     * @param size the bytes wanted, at least 1
     * @param alignment a power of two; 0, or any value below the granularity, means the granularity
     * @return a handle whose {@link MemoryBlock#size()} is {@code size}
     * @throws InvalidArgumentException if {@code size} is 0 or {@code alignment} is not a power
     *     of two
     * @throws OutOfPoolMemoryException if no free block fits and the pool cannot grow
     */
    public MemoryBlock allocate(long size, long alignment) {
        ThreadCaches threadCaches = caches;
        int cls = threadCaches == null ? -1 : threadCaches.classes.of(size, alignment);
        long address = size >= largeAllocation ? watched(size, alignment, () -> allocateForHandle(cls, size, alignment))
                : allocateForHandle(cls, size, alignment);
        return new MemoryBlock(this, address, size);
    }

    /**
     * Allocates and returns a raw address, from the calling thread's cache of
     * its size class when the pool has thread caches; free it with {@link #free(long)}.
     *
     * @param size the bytes wanted, at least 1
     * @return the block's address, aligned to the granularity
     * @throws OutOfPoolMemoryException if no free block fits and the pool cannot grow
     */
    public long allocateAddress(long size) {
        return allocateAddress(size, 0);
    }

    /**
     * Allocates an aligned block and returns its raw address, from the calling
     * thread's cache of its size class when the pool has thread caches and
     * {@code alignment} is at most the granularity.
     *
     * @param size the bytes wanted, at least 1
     * @param alignment a power of two; 0, or any value below the granularity, means the granularity
     * @return the block's address
     * @throws OutOfPoolMemoryException if no free block fits and the pool cannot grow
     */
    public long allocateAddress(long size, long alignment) {
        return size >= largeAllocation ? watched(size, alignment, () -> allocateUnwatched(size, alignment))
                : allocateUnwatched(size, alignment);
    }

    private long allocateUnwatched(long size, long alignment) {
        ThreadCaches threadCaches = caches;
        int cls;
        return threadCaches == null || (cls = threadCaches.classes.of(size, alignment)) < 0
                ? allocateRaw(size, alignment) : threadCaches.allocate(cls, 0L);
    }

    /**
     * Allocates {@code count} blocks of {@code size} bytes in one native call,
     * storing their addresses in {@code out[0..count)}. All or nothing.
     *
     * @param count how many blocks to allocate
     * @param size the bytes wanted for each, at least 1
     * @param out receives the addresses, in {@code out[0..count)}
     * @throws IndexOutOfBoundsException if {@code count} is negative or exceeds {@code out.length}
     * @throws OutOfPoolMemoryException if the pool cannot supply all {@code count} blocks
     */
    public void allocate(int count, long size, long[] out) {
        if (size >= largeAllocation && count > 0) {
            PoolEvents.LargeAllocation event = new PoolEvents.LargeAllocation();
            event.begin();
            allocateRaw(size, 0, out, count);
            PoolEvents.largeAllocation(this, event, size, 0, count, out[0]);
            return;
        }
        allocateRaw(size, 0, out, count);
    }

    /** The slow path of a watched size: {@code allocation}, timed, then the event when a recording wants it. */
    private long watched(long size, long alignment, LongSupplier allocation) {
        PoolEvents.LargeAllocation event = new PoolEvents.LargeAllocation();
        event.begin();
        long address = allocation.getAsLong();
        PoolEvents.largeAllocation(this, event, size, alignment, 1, address);
        return address;
    }

    /** {@return the minimum block size and default alignment, in bytes} */
    public long granularity() {
        return alignment;
    }

    @Override
    String describe() {
        return "variable sizes, granularity " + alignment;
    }

    /** Configures a {@link VariablePool}. */
    public static final class Builder extends PoolBuilder<Builder, VariablePool> {
        private long arenaSize = 64L << 20;
        private long granularity = 16;
        private long initialCapacity;
        private long maxCapacity;
        private long largeAllocation = Long.MAX_VALUE;

        private Builder() {
            super("variable");
        }

        /**
         * Emits a Flight Recorder {@code org.nativepool.LargeAllocation} event, with the allocation's
         * stack, for every allocation of at least {@code minBytes} (a batch: one event). Off by default:
         * the allocation path then pays one compare. A recording must also enable the event.
         *
         * @param minBytes the smallest size reported, at least 1; {@link #build()} refuses less
         * @return this builder
         */
        public Builder largeAllocationEvent(long minBytes) {
            this.largeAllocation = minBytes;
            return this;
        }

        /**
         * Bytes reserved per growth step. Larger requests get an arena of their own.
         * Default 64 MiB.
         *
         * @param arenaSize a positive multiple of the granularity, in bytes
         * @return this builder
         */
        public Builder arenaSize(long arenaSize) {
            this.arenaSize = arenaSize;
            return this;
        }

        /**
         * Minimum block size and default alignment; every block size is rounded
         * up to it. Default 16.
         *
         * @param granularity a power of two, in bytes
         * @return this builder
         */
        public Builder granularity(long granularity) {
            this.granularity = granularity;
            return this;
        }

        /**
         * Bytes reserved when the pool is built (whole arenas). Default 0.
         *
         * @param initialCapacity bytes to reserve, rounded up to whole arenas, the last one
         *     capped by {@link #maxCapacity(long)}; {@link #build()} refuses more than a set maximum
         * @return this builder
         */
        public Builder initialCapacity(long initialCapacity) {
            this.initialCapacity = initialCapacity;
            return this;
        }

        /**
         * The most bytes the pool may reserve from its backend.
         *
         * @param maxCapacity a byte count, or 0 (the default) for no limit
         * @return this builder
         */
        public Builder maxCapacity(long maxCapacity) {
            this.maxCapacity = maxCapacity;
            return this;
        }

        @Override
        VariablePool create() {
            if (largeAllocation < 1) {
                throw new InvalidArgumentException("the large-allocation event's threshold must be at least 1 byte, not "
                        + largeAllocation);
            }
            // One setting for both layers, as for fixed pools: with native caches the pool is sharded
            // by thread, so Java's refills and drains and the sizes above its classes take a lock of
            // their own thread's shard. Native caches serve only what Java's do not: small sizes at an
            // alignment above the granularity, and single frees of blocks Java's caches never listed
            // (those of allocate(count, size, out)).
            long handle = PoolNative.createVariable(arenaSize, granularity, initialCapacity,
                    maxCapacity, threadCache, threadSafety.code(), backend.type(), backend.parameter(),
                    resolvedSafetyLevel.code(), charge, new RegionEvents(name));
            return new VariablePool(handle, this);
        }

        @Override
        long limitBytes() {
            return maxCapacity;
        }
    }
}
