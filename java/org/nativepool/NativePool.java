package org.nativepool;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.nativepool.internal.NumaNative;
import org.nativepool.internal.NativeLibrary;

/**
 * Entry point of nativepool: memory pools whose blocks and bookkeeping live
 * in a native C++ core.
 *
 * <ul>
 *   <li>{@link FixedPool}: equal-sized blocks, O(1), optionally lock-free;</li>
 *   <li>{@link VariablePool}: any size, O(1) TLSF with coalescing;</li>
 *   <li>{@link #features()}: which optional parts are usable here;</li>
 *   <li>{@link #numa()} and {@link #placement(MemoryBlock)}: the NUMA nodes, and
 *       where a block's pages lie ({@link Backend#numa(int, NumaPolicy)} places them).</li>
 * </ul>
 */
public final class NativePool {
    private NativePool() {
    }

    /**
     * Probes which optional components are compiled in and usable now. Loads the library.
     *
     * @return what the probe found; a later call probes again
     * @throws NativeLibraryUnavailableException if the native library cannot be loaded
     */
    public static Features features() {
        return Features.probe();
    }

    /**
     * Reads the machine's NUMA nodes: their CPUs, distances, memory, and the
     * node the calling thread runs on. Loads the library.
     *
     * @return a snapshot; a later call reads again
     * @throws FeatureUnavailableException if NUMA is unavailable here, with the reason
     *     ({@link Features#numaUnavailableReason()})
     * @throws NativeLibraryUnavailableException if the native library cannot be loaded
     */
    public static NumaTopology numa() {
        NativeLibrary.ensureLoaded();
        return NumaTopology.probe();
    }

    /**
     * Counts, without moving anything, the pages of a block on each NUMA node.
     * Untouched pages are on no node yet ({@link NumaPlacement#notPresent()}).
     *
     * @param block a live block of host memory
     * @return where its pages lie now
     * @throws PoolClosedException if the block was freed or its pool closed
     * @throws FeatureUnavailableException if NUMA is unavailable here, with the reason
     */
    public static NumaPlacement placement(MemoryBlock block) {
        Objects.requireNonNull(block, "block");
        if (block.isClosed()) {
            throw new PoolClosedException("the block was freed: its pages have no placement to report");
        }
        return placement(block.address(), block.size());
    }

    /**
     * Counts, without moving anything, the pages of {@code [address, address +
     * bytes)} on each NUMA node; the range is widened to whole pages.
     *
     * @param address start of a mapped range of host memory
     * @param bytes its length, at least 1
     * @return where its pages lie now
     * @throws InvalidArgumentException if {@code bytes} is not positive or part of the range is not mapped
     * @throws FeatureUnavailableException if NUMA is unavailable here, with the reason
     */
    public static NumaPlacement placement(long address, long bytes) {
        NativeLibrary.ensureLoaded();
        return NumaPlacement.of(address, bytes);
    }

    /**
     * {@return one node's share of a {@link Backend#nodeLocal() node-local}
     * pool: the blocks its pool handed out, its reservation and free space}
     * {@link Pool#stats()} is the sum over the nodes.
     *
     * @param pool a pool built over {@link Backend#nodeLocal()}
     * @param node one of {@link #nodes(Pool)}
     * @throws InvalidArgumentException if the pool is not node-local or has no pool on {@code node}
     * @throws PoolClosedException if the pool is closed
     */
    public static PoolStats nodeStats(Pool pool, int node) {
        long[] fields = new long[PoolStats.FIELD_COUNT];
        long handle = pool.acquire();
        try {
            NumaNative.nodeStats(handle, node, fields);
        } finally {
            pool.release();
        }
        return PoolStats.fromNative(fields);
    }

    /**
     * {@return the nodes a {@link Backend#nodeLocal() node-local} pool has a
     * pool on, ascending; empty for any other pool}
     *
     * @param pool a pool
     * @throws PoolClosedException if the pool is closed
     */
    public static List<Integer> nodes(Pool pool) {
        long handle = pool.acquire();
        try {
            return Arrays.stream(NumaNative.poolNodes(handle)).boxed().toList();
        } finally {
            pool.release();
        }
    }

    /**
     * Shorthand for {@link FixedPool#builder(long)}.
     *
     * @param blockSize usable bytes per block, at least 1
     * @return a new builder for blocks of {@code blockSize} bytes
     */
    public static FixedPool.Builder fixedPool(long blockSize) {
        return FixedPool.builder(blockSize);
    }

    /** {@return a new builder with the defaults: shorthand for {@link VariablePool#builder()}} */
    public static VariablePool.Builder variablePool() {
        return VariablePool.builder();
    }
}
