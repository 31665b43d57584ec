package org.nativepool;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import javax.management.ObjectName;
import org.nativepool.internal.MBeans;

/**
 * A pool's two beans on the platform MBean server: {@link PoolMXBean} as
 * {@code org.nativepool:type=Pool,name=<name>}, and its {@link BufferPoolView} as
 * {@code java.nio:type=BufferPool,name=nativepool-<name>}.
 */
final class PoolJmx implements PoolMXBean {
    private final Pool pool;
    /** The figures the attributes read: the pool's, or one node's of a node-local group. */
    private final Supplier<PoolStats> stats;
    /** What {@link #unregister()} removes: the pool's beans, those of its nodes too; empty for a node's bean. */
    private final List<ObjectName> names;

    private PoolJmx(Pool pool, Supplier<PoolStats> stats, List<ObjectName> names) {
        this.pool = pool;
        this.stats = stats;
        this.names = names;
    }

    /**
     * Registers both beans of {@code pool}, and for a {@link Backend#nodeLocal() node-local} group one
     * {@link PoolMXBean} per node, {@code org.nativepool:type=Pool,name=<name>,node=<node>}, whose figures
     * are {@link NativePool#nodeStats(Pool, int)}.
     *
     * @throws PoolNameInUseException if a name is taken; none of the beans is then registered
     */
    static PoolJmx register(Pool pool) {
        ObjectName poolName = MBeans.name("org.nativepool:type=Pool,name=", pool.name(), "");
        List<MBeans.Bean> beans = new ArrayList<>();
        // Blocks as buffers, bytes in use as their capacity, reserved bytes as the memory used.
        beans.add(new BufferPoolView(pool.name(), () -> pool.stats().liveBlocks(), () -> pool.stats().bytesInUse(),
                () -> pool.stats().bytesReserved()).bean());
        for (int node : NativePool.nodes(pool)) {
            ObjectName nodeName = MBeans.name("org.nativepool:type=Pool,name=", pool.name(), ",node=" + node);
            beans.add(new MBeans.Bean(nodeName, new PoolJmx(pool, () -> NativePool.nodeStats(pool, node),
                    List.of())));
        }
        List<ObjectName> names = new ArrayList<>(List.of(poolName));
        beans.forEach(bean -> names.add(bean.name()));
        PoolJmx jmx = new PoolJmx(pool, pool::stats, List.copyOf(names));
        beans.add(0, new MBeans.Bean(poolName, jmx));
        MBeans.register(pool.toString(), "pool", pool.name(), beans);
        return jmx;
    }

    /** Unregisters both beans; one already gone (unregistered by another hand) is no error. */
    void unregister() {
        MBeans.unregister(names);
    }

    @Override
    public String getName() {
        return pool.name();
    }

    @Override
    public String getAlgorithm() {
        return pool.blockSize != 0 ? "fixed" : "variable";
    }

    @Override
    public long getBlockSize() {
        return pool.blockSize;
    }

    @Override
    public String getMemoryKind() {
        return pool.memoryKind().name();
    }

    @Override
    public String getBackend() {
        return pool.backendName();
    }

    @Override
    public String getThreadSafety() {
        return pool.threadSafety().name();
    }

    @Override
    public String getSafetyLevel() {
        return pool.safetyLevel().name();
    }

    @Override
    public String getLeakDetection() {
        return pool.leakDetection().name();
    }

    @Override
    public String getLeakPolicy() {
        return pool.leakPolicy().name();
    }

    @Override
    public int getThreadCacheCapacity() {
        return pool.threadCacheCapacity();
    }

    @Override
    public long getAllocations() {
        return stats.get().allocations();
    }

    @Override
    public long getFrees() {
        return stats.get().frees();
    }

    @Override
    public long getFailures() {
        return stats.get().failures();
    }

    @Override
    public long getLiveBlocks() {
        return stats.get().liveBlocks();
    }

    @Override
    public long getBytesInUse() {
        return stats.get().bytesInUse();
    }

    @Override
    public long getPeakBytesInUse() {
        return stats.get().peakBytesInUse();
    }

    @Override
    public long getBytesReserved() {
        return stats.get().bytesReserved();
    }

    @Override
    public long getPeakBytesReserved() {
        return stats.get().peakBytesReserved();
    }

    @Override
    public long getRegions() {
        return stats.get().regions();
    }

    @Override
    public long getFreeBytes() {
        return stats.get().freeBytes();
    }

    @Override
    public long getLargestFreeBlock() {
        return stats.get().largestFreeBlock();
    }

    @Override
    public long getFreeBlocks() {
        return stats.get().freeBlocks();
    }

    @Override
    public double getExternalFragmentation() {
        return stats.get().externalFragmentation();
    }

    @Override
    public long getCachedBlocks() {
        return stats.get().cachedBlocks();
    }

    @Override
    public long getCachedBytes() {
        return stats.get().cachedBytes();
    }

    @Override
    public double getUtilization() {
        return stats.get().utilization();
    }

    @Override
    public long getQuarantinedBlocks() {
        return pool.quarantined.count();
    }
}
