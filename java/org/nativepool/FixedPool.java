package org.nativepool;

import org.nativepool.internal.PoolNative;

/**
 * A pool of equal-sized blocks: O(1) allocation and free, no fragmentation.
 * Grows by chunks of blocks from its backend up to a maximum.
 *
 * <pre>{@code
 * try (FixedPool pool = FixedPool.builder(4096).maxBlocks(1024).build();
 *      MemoryBlock page = pool.allocate()) {
 *     page.asByteBuffer().putLong(0, 42L);
 * }
 * }</pre>
 */
public final class FixedPool extends Pool {
    private FixedPool(long handle, Builder builder) {
        super(handle, builder);
    }

    /**
     * {@return a new builder for blocks of {@code blockSize} bytes}
     *
     * @param blockSize usable bytes per block, at least 1 ({@link PoolBuilder#build()} checks it)
     */
    public static Builder builder(long blockSize) {
        return new Builder(blockSize);
    }

    /**
     * Allocates one block as a handle, which frees it on {@code close()}.
     *
     * @return a handle to a block of {@link #blockSize()} bytes
     * @throws OutOfPoolMemoryException if the pool holds its maximum blocks or its backend
     *     refuses to grow it
     */
    public MemoryBlock allocate() {
        return new MemoryBlock(this, allocateRaw(blockSize, 0), blockSize);
    }

    /**
     * Allocates one block and returns its address: the fastest path short of a
     * {@link BlockCache}. Free it with {@link #free(long)}.
     *
     * @return the block's address
     * @throws OutOfPoolMemoryException if the pool holds its maximum blocks or its backend
     *     refuses to grow it
     */
    public long allocateAddress() {
        return allocateRaw(blockSize, 0);
    }

    /**
     * Allocates {@code count} blocks in one native call, storing their
     * addresses in {@code out[0..count)}. All or nothing: on failure no block
     * stays allocated.
     *
     * @param count how many blocks to allocate
     * @param out receives the addresses, in {@code out[0..count)}
     * @throws IndexOutOfBoundsException if {@code count} is negative or exceeds {@code out.length}
     * @throws OutOfPoolMemoryException if the pool cannot supply all {@code count} blocks
     */
    public void allocate(int count, long[] out) {
        allocateRaw(blockSize, 0, out, count);
    }

    /**
     * A cache of this pool's blocks for the calling thread, parking up to
     * {@code capacity} free blocks: the fastest way to allocate and free
     * blocks of a pool one at a time. Close it before the thread ends.
     *
     * @param capacity the most blocks the cache parks, from 2 to {@link BlockCache#MAX_CAPACITY};
     *     it refills and drains {@code capacity / 2} blocks at a time, so a pool of fewer than
     *     that many blocks cannot refill it
     * @return a new cache, usable only on the calling thread
     * @throws InvalidArgumentException if {@code capacity} is out of range
     * @throws PoolClosedException if the pool is closed
     * @see BlockCache
     */
    public BlockCache newCache(int capacity) {
        return new BlockCache(this, capacity);
    }

    /** {@return the usable size of every block, in bytes} */
    public long blockSize() {
        return blockSize;
    }

    /** {@return the alignment of every block, in bytes} */
    public long alignment() {
        return alignment;
    }

    @Override
    String describe() {
        return blockSize + "-byte blocks";
    }

    /** Configures a {@link FixedPool}. Only the block size is required. */
    public static final class Builder extends PoolBuilder<Builder, FixedPool> {
        private final long blockSize;
        private long alignment = 16;
        private long blocksPerChunk;
        private long initialBlocks;
        private long maxBlocks;

        private Builder(long blockSize) {
            super("fixed");
            this.blockSize = blockSize;
        }

        /**
         * Alignment of every block. The stride between blocks is the block size
         * rounded up to it. Default 16.
         *
         * @param alignment a power of two, in bytes
         * @return this builder
         */
        public Builder alignment(long alignment) {
            this.alignment = alignment;
            return this;
        }

        /**
         * Blocks reserved per growth step. Default: about 1 MiB worth.
         *
         * @param blocksPerChunk blocks per step, rounded up to a power of two; 0 for the default
         * @return this builder
         */
        public Builder blocksPerChunk(long blocksPerChunk) {
            this.blocksPerChunk = blocksPerChunk;
            return this;
        }

        /**
         * Blocks reserved when the pool is built. Default 0.
         *
         * @param initialBlocks blocks to reserve, rounded up to whole chunks and capped by
         *     {@link #maxBlocks(long)}
         * @return this builder
         */
        public Builder initialBlocks(long initialBlocks) {
            this.initialBlocks = initialBlocks;
            return this;
        }

        /**
         * The most blocks the pool will ever hold, honoured exactly.
         *
         * @param maxBlocks at most 2<sup>32</sup> - 2; 0 (the default) means as many as the
         *     pool's 65536 chunks hold
         * @return this builder
         */
        public Builder maxBlocks(long maxBlocks) {
            this.maxBlocks = maxBlocks;
            return this;
        }

        @Override
        FixedPool create() {
            long handle = PoolNative.createFixed(blockSize, alignment, blocksPerChunk, initialBlocks, maxBlocks,
                    threadSafety.code(), backend.type(), backend.parameter(), resolvedSafetyLevel.code());
            return new FixedPool(handle, this);
        }
    }
}
