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

    /** Starts a builder with the defaults: 64 MiB arenas, 16-byte granularity, no limit. */
    public static Builder builder() {
        return new Builder();
    }

    /** Allocates {@code size} bytes at the pool's granularity alignment. */
    public MemoryBlock allocate(long size) {
        return allocate(size, 0);
    }

    /** Allocates {@code size} bytes aligned to {@code alignment} (a power of two, 0 for the default). */
    public MemoryBlock allocate(long size, long alignment) {
        return new MemoryBlock(this, allocateRaw(size, alignment), size);
    }

    /** Allocates and returns a raw address; free it with {@link #free(long)}. */
    public long allocateAddress(long size) {
        return allocateRaw(size, 0);
    }

    /** Allocates an aligned block and returns its raw address. */
    public long allocateAddress(long size, long alignment) {
        return allocateRaw(size, alignment);
    }

    /**
     * Allocates {@code count} blocks of {@code size} bytes in one native call,
     * storing their addresses in {@code out[0..count)}. All or nothing.
     */
    public void allocate(int count, long size, long[] out) {
        allocateRaw(size, 0, out, count);
    }

    /** Minimum block size and default alignment. */
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

        /** Bytes reserved per growth step. Larger requests get an arena of their own. Default 64 MiB. */
        public Builder arenaSize(long arenaSize) {
            this.arenaSize = arenaSize;
            return this;
        }

        /** Minimum block size and default alignment, a power of two. Default 16. */
        public Builder granularity(long granularity) {
            this.granularity = granularity;
            return this;
        }

        /** Bytes reserved when the pool is built (whole arenas). Default 0. */
        public Builder initialCapacity(long initialCapacity) {
            this.initialCapacity = initialCapacity;
            return this;
        }

        /** The most bytes the pool may reserve; 0 (the default) means no limit. */
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
