package org.nativepool;

import java.lang.management.BufferPoolMXBean;
import java.util.function.LongSupplier;
import javax.management.ObjectName;
import org.nativepool.internal.MBeans;

/**
 * A pool seen as a {@link BufferPoolMXBean}, registered as
 * {@code java.nio:type=BufferPool,name=nativepool-<name>} beside the JDK's {@code direct} and
 * {@code mapped} pools, so that tools listing buffer pools (JConsole's and VisualVM's views,
 * exporters reading {@code java.nio:type=BufferPool,*}) list the pool too: its blocks as the
 * buffers. Each attribute is read fresh from the pool's statistics.
 */
final class BufferPoolView implements BufferPoolMXBean {
    private final String name;
    private final ObjectName objectName;
    private final LongSupplier count;
    private final LongSupplier totalCapacity;
    private final LongSupplier memoryUsed;

    /**
     * @param poolName the pool's name, which the bean's follows {@code nativepool-}
     * @param count the live blocks
     * @param totalCapacity the bytes those blocks hold
     * @param memoryUsed the bytes the pool holds for them, free space included
     */
    BufferPoolView(String poolName, LongSupplier count, LongSupplier totalCapacity, LongSupplier memoryUsed) {
        this.name = "nativepool-" + poolName;
        this.objectName = MBeans.name("java.nio:type=BufferPool,name=", name, "");
        this.count = count;
        this.totalCapacity = totalCapacity;
        this.memoryUsed = memoryUsed;
    }

    /** {@return the bean as {@link MBeans#register} takes it} */
    MBeans.Bean bean() {
        return new MBeans.Bean(objectName, this);
    }

    @Override
    public String getName() {
        return name;
    }

    @Override
    public long getCount() {
        return count.getAsLong();
    }

    @Override
    public long getTotalCapacity() {
        return totalCapacity.getAsLong();
    }

    @Override
    public long getMemoryUsed() {
        return memoryUsed.getAsLong();
    }

    @Override
    public ObjectName getObjectName() {
        return objectName;
    }
}
