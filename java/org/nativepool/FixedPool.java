package org.nativepool;

import org.nativepool.internal.PoolNative;

/**
 * A pool of equal-sized blocks: O(1) allocation and free, no fragmentation.
 * Grows by chunks of blocks from its backend up to a maximum.
 *
 * <p><b>Thread caches.</b> Unless built with {@link PoolBuilder#threadCache(int) threadCache(0)},
 * each thread that allocates or frees single blocks ({@link #allocate()},
 * {@link #allocateAddress()}, {@link #free(long)}, {@link MemoryBlock#close()})
 * gets its own cache of up to {@link PoolBuilder#DEFAULT_THREAD_CACHE} free blocks, as
 * {@link BlockCache} does explicitly: most calls then cross no JNI and write
 * no memory another thread uses, and the cache refills or drains half of
 * itself with one native call. A block freed on another thread than the one
 * that allocated it goes into the freeing thread's cache. Parked blocks are
 * counted in {@link PoolStats#cachedBlocks()}, not as live blocks or leaks,
 * and so are at most {@code capacity} blocks per thread that used the pool,
 * and {@code 2 * capacity} in the pool's depot, where a full cache leaves
 * its older half for the next thread whose cache is empty (so that the
 * blocks of a producer/consumer pipeline return to the producer without a
 * native call); a pool with {@link Builder#maxBlocks(long)} should allow for
 * the caches' blocks, since one thread cannot take the blocks parked in
 * another's cache (any thread's refill takes the depot's). The caches of
 * threads that have ended return their blocks to the pool (see
 * {@link #stats()}); {@link #flushThreadCache()} returns the calling
 * thread's at once.
 *
 * <p>A free through a cache is checked as a free through the pool is: 0, an
 * address that is no block of the pool, and a block the pool holds free
 * throw {@link InvalidFreeException} or {@link DoubleFreeException}, and so
 * does a second free of a block parked in any cache, on any thread: each
 * block the caches issue has a state word that a free moves to parked with
 * one CAS, so no cache ever holds a block twice. Pools above {@link SafetyLevel#OFF} have no
 * thread caches, so that the pool checks every block's guards at its free,
 * and neither have {@link Backend#nodeLocal() node-local} pools, whose blocks
 * must go back to their own node.
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
        return new MemoryBlock(this, allocateForHandle(caches != null ? 0 : -1, blockSize, 0), blockSize);
    }

    /**
     * Allocates one block and returns its address, from the calling thread's
     * cache when the pool has thread caches. Free it with {@link #free(long)}.
     *
     * @return the block's address
     * @throws OutOfPoolMemoryException if the pool holds its maximum blocks or its backend
     *     refuses to grow it
     * @throws PoolClosedException if the pool is closed
     */
    public long allocateAddress() {
        ThreadCaches threadCaches = caches;
        return threadCaches == null ? allocateRaw(blockSize, 0) : threadCaches.allocate(0, 0L);
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
     * An explicit cache of this pool's blocks for the calling thread, parking up to
     * {@code capacity} free blocks: the fastest way to allocate and free
     * blocks of a pool one at a time, faster than the transparent thread
     * cache because it checks less (see {@link BlockCache}). Close it before the thread ends.
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
            // One setting for both layers: threadCache(0) means no cache in Java and none natively.
            long handle = PoolNative.createFixed(blockSize, alignment, blocksPerChunk, initialBlocks, maxBlocks,
                    threadCache, threadSafety.code(), backend.type(), backend.parameter(),
                    resolvedSafetyLevel.code(), charge, new RegionEvents(name));
            return new FixedPool(handle, this);
        }

        @Override
        long limitBytes() {
            return maxBlocks * ((blockSize + alignment - 1) & -alignment);
        }
    }
}
