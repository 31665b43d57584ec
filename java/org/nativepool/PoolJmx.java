package org.nativepool;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.util.List;
import javax.management.InstanceAlreadyExistsException;
import javax.management.InstanceNotFoundException;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.MalformedObjectNameException;
import javax.management.ObjectName;

/**
 * A pool's two beans on the platform MBean server: {@link PoolMXBean} as
 * {@code org.nativepool:type=Pool,name=<name>}, and a
 * {@link BufferPoolMXBean} as {@code java.nio:type=BufferPool,name=nativepool-<name>}, beside the
 * JDK's {@code direct} and {@code mapped} pools, so tools that list buffer pools list this one.
 */
final class PoolJmx implements PoolMXBean {
    /** The system property that sets the default of {@link PoolBuilder#jmx(boolean)}. */
    static final String PROPERTY = "nativepool.jmx";

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
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        ObjectName poolName = name("org.nativepool:type=Pool,name=", pool.name());
        ObjectName bufferName = name("java.nio:type=BufferPool,name=", "nativepool-" + pool.name());
        PoolJmx jmx = new PoolJmx(pool, List.of(poolName, bufferName));
        try {
            server.registerMBean(jmx, poolName);
            try {
                server.registerMBean(new BufferPool(pool, bufferName), bufferName);
            } catch (InstanceAlreadyExistsException taken) {
                server.unregisterMBean(poolName);
                throw taken;
            }
        } catch (InstanceAlreadyExistsException taken) {
            throw new PoolNameInUseException("cannot register " + pool + " with JMX: another pool named \""
                    + pool.name() + "\" is registered (" + taken.getMessage() + "); give each pool its own name");
        } catch (JMException e) {
            throw new IllegalStateException("cannot register " + pool + " with JMX", e);
        }
        return jmx;
    }

    /** Unregisters both beans; one already gone (unregistered by another hand) is no error. */
    void unregister() {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        for (ObjectName name : names) {
            try {
                server.unregisterMBean(name);
            } catch (InstanceNotFoundException gone) {
                // unregistered by someone else: the aim is reached
            } catch (JMException e) {
                throw new IllegalStateException("cannot unregister " + name, e);
            }
        }
    }

    private static ObjectName name(String prefix, String value) {
        boolean plain = !value.isEmpty() && value.chars().noneMatch(c -> ",=:*?\"\\\n".indexOf(c) >= 0);
        try {
            return new ObjectName(prefix + (plain ? value : ObjectName.quote(value)));
        } catch (MalformedObjectNameException e) {
            throw new IllegalStateException("no JMX name for " + value, e);
        }
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
