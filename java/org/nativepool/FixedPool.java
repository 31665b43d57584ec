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

    /** Starts a builder for blocks of {@code blockSize} bytes. */
    public static Builder builder(long blockSize) {
        return new Builder(blockSize);
    }

    /** Allocates one block as a handle. */
    public MemoryBlock allocate() {
        return new MemoryBlock(this, allocateRaw(blockSize, 0), blockSize);
    }

    /** Allocates one block and returns its address: the fastest path, free it with {@link #free(long)}. */
    public long allocateAddress() {
        return allocateRaw(blockSize, 0);
    }

    /**
     * Allocates {@code count} blocks in one native call, storing their
     * addresses in {@code out[0..count)}. All or nothing: on failure no block
     * stays allocated.
     */
    public void allocate(int count, long[] out) {
        allocateRaw(blockSize, 0, out, count);
    }

    /**
     * A cache of this pool's blocks for the calling thread, parking up to
     * {@code capacity} free blocks: the fastest way to allocate and free
     * blocks of a pool one at a time. Close it before the thread ends.
     *
     * @see BlockCache
     */
    public BlockCache newCache(int capacity) {
        return new BlockCache(this, capacity);
    }

    /** Size of every block. */
    public long blockSize() {
        return blockSize;
    }

    /** Alignment of every block. */
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

        /** Alignment of every block, a power of two. Default 16. */
        public Builder alignment(long alignment) {
            this.alignment = alignment;
            return this;
        }

        /** Blocks reserved per growth step. Default: about 1 MiB worth. */
        public Builder blocksPerChunk(long blocksPerChunk) {
            this.blocksPerChunk = blocksPerChunk;
            return this;
        }

        /** Blocks reserved when the pool is built. Default 0. */
        public Builder initialBlocks(long initialBlocks) {
            this.initialBlocks = initialBlocks;
            return this;
        }

        /** The most blocks the pool will ever hold; 0 (the default) means no limit. */
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
