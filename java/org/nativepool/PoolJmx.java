package org.nativepool;

import java.lang.management.BufferPoolMXBean;
import java.util.List;
import javax.management.ObjectName;
import org.nativepool.internal.MBeans;

/**
 * A pool's two beans on the platform MBean server: {@link PoolMXBean} as
 * {@code org.nativepool:type=Pool,name=<name>}, and a
 * {@link BufferPoolMXBean} as {@code java.nio:type=BufferPool,name=nativepool-<name>}, beside the
 * JDK's {@code direct} and {@code mapped} pools, so tools that list buffer pools list this one.
 */
final class PoolJmx implements PoolMXBean {
    /** The system property that sets the default of {@link PoolBuilder#jmx(boolean)}. */
    static final String PROPERTY = MBeans.PROPERTY;

    private final Pool pool;
    private final List<ObjectName> names;

    private PoolJmx(Pool pool, List<ObjectName> names) {
        this.pool = pool;
        this.names = names;
    }

    /** The buffer-pool view: blocks as buffers, bytes in use as their capacity, reserved bytes as memory used. */
    private static final class BufferPool implements BufferPoolMXBean {
        private final Pool pool;
        private final ObjectName name;

        BufferPool(Pool pool, ObjectName name) {
            this.pool = pool;
            this.name = name;
        }

        @Override
        public String getName() {
            return name.getKeyProperty("name");
        }

        @Override
        public long getCount() {
            return pool.stats().liveBlocks();
        }

        @Override
        public long getTotalCapacity() {
            return pool.stats().bytesInUse();
        }

        @Override
        public long getMemoryUsed() {
            return pool.stats().bytesReserved();
        }

        @Override
        public ObjectName getObjectName() {
            return name;
        }
    }

    /**
     * Registers both beans of {@code pool}.
     *
     * @throws PoolNameInUseException if either name is taken; neither bean is then registered
     */
    static PoolJmx register(Pool pool) {
        ObjectName poolName = MBeans.name("org.nativepool:type=Pool,name=", pool.name());
        ObjectName bufferName = MBeans.name("java.nio:type=BufferPool,name=", "nativepool-" + pool.name());
        PoolJmx jmx = new PoolJmx(pool, List.of(poolName, bufferName));
        MBeans.register(pool.toString(), "pool", pool.name(), List.of(new MBeans.Bean(poolName, jmx),
                new MBeans.Bean(bufferName, new BufferPool(pool, bufferName))));
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
        return pool.stats().allocations();
    }

    @Override
    public long getFrees() {
        return pool.stats().frees();
    }

    @Override
    public long getFailures() {
        return pool.stats().failures();
    }

    @Override
    public long getLiveBlocks() {
        return pool.stats().liveBlocks();
    }

    @Override
    public long getBytesInUse() {
        return pool.stats().bytesInUse();
    }

    @Override
    public long getPeakBytesInUse() {
        return pool.stats().peakBytesInUse();
    }

    @Override
    public long getBytesReserved() {
        return pool.stats().bytesReserved();
    }

    @Override
    public long getPeakBytesReserved() {
        return pool.stats().peakBytesReserved();
    }

    @Override
    public long getRegions() {
        return pool.stats().regions();
    }

    @Override
    public long getFreeBytes() {
        return pool.stats().freeBytes();
    }

    @Override
    public long getLargestFreeBlock() {
        return pool.stats().largestFreeBlock();
    }

    @Override
    public long getFreeBlocks() {
        return pool.stats().freeBlocks();
    }

    @Override
    public double getExternalFragmentation() {
        return pool.stats().externalFragmentation();
    }

    @Override
    public long getCachedBlocks() {
        return pool.stats().cachedBlocks();
    }

    @Override
    public long getCachedBytes() {
        return pool.stats().cachedBytes();
    }

    @Override
    public double getUtilization() {
        return pool.stats().utilization();
    }
}
