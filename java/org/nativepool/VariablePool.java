package org.nativepool;

import org.nativepool.internal.PoolNative;

/**
 * A pool of blocks of any size and power-of-two alignment, with O(1)
 * allocation and free (TLSF segregated fit) and immediate coalescing of free
 * neighbours. Grows by arenas from its backend up to a maximum capacity;
 * {@link #trim()} gives wholly free arenas back.
 *
 * <pre>{@code
 * try (VariablePool pool = VariablePool.builder().arenaSize(16 << 20).build();
 *      MemoryBlock record = pool.allocate(1000)) {
 *     record.asByteBuffer().put(0, (byte) 1);
 * }
 * }</pre>
 */
public final class VariablePool extends Pool {
    private VariablePool(long handle, Builder builder) {
        super(handle, builder);
    }

    /** {@return a new builder with the defaults: 64 MiB arenas, 16-byte granularity, no limit} */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Allocates {@code size} bytes at the pool's granularity alignment.
     *
     * @param size the bytes wanted, at least 1; the block holds them rounded up to the granularity
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
        return new MemoryBlock(this, allocateRaw(size, alignment), size);
    }

    /**
     * Allocates and returns a raw address; free it with {@link #free(long)}.
     *
     * @param size the bytes wanted, at least 1
     * @return the block's address, aligned to the granularity
     * @throws OutOfPoolMemoryException if no free block fits and the pool cannot grow
     */
    public long allocateAddress(long size) {
        return allocateRaw(size, 0);
    }

    /**
     * Allocates an aligned block and returns its raw address.
     *
     * @param size the bytes wanted, at least 1
     * @param alignment a power of two; 0, or any value below the granularity, means the granularity
     * @return the block's address
     * @throws OutOfPoolMemoryException if no free block fits and the pool cannot grow
     */
    public long allocateAddress(long size, long alignment) {
        return allocateRaw(size, alignment);
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
        allocateRaw(size, 0, out, count);
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

        private Builder() {
            super("variable");
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
            long handle = PoolNative.createVariable(arenaSize, granularity, initialCapacity,
                    maxCapacity, threadSafety.code(), backend.type(), backend.parameter(),
                    resolvedSafetyLevel.code());
            return new VariablePool(handle, this);
        }
    }
}
