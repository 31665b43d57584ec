package org.nativepool;

import java.util.List;
import javax.management.ObjectName;
import org.nativepool.internal.MBeans;

/**
 * A persistent pool's two beans on the platform MBean server: {@link PersistentPoolMXBean} as
 * {@code org.nativepool:type=Pool,name=<path>}, and its {@link BufferPoolView} as
 * {@code java.nio:type=BufferPool,name=nativepool-<path>}, beside the JDK's {@code mapped} pool.
 */
final class PersistentJmx implements PersistentPoolMXBean {
    private final PersistentPool pool;
    private final List<ObjectName> names;

    private PersistentJmx(PersistentPool pool, List<ObjectName> names) {
        this.pool = pool;
        this.names = names;
    }

    /**
     * Registers both beans of {@code pool}.
     *
     * @throws PoolNameInUseException if a name is taken (a pool named as this file's path); none of the
     *     beans is then registered
     */
    static PersistentJmx register(PersistentPool pool) {
        String name = pool.jmxName();
        ObjectName objectName = MBeans.name("org.nativepool:type=Pool,name=", name, "");
        // Blocks as buffers, the bytes they were requested with as their capacity, the file as the memory used.
        MBeans.Bean buffers = new BufferPoolView(name, () -> pool.stats().liveBlocks(),
                () -> pool.stats().bytesInUse(), () -> pool.stats().capacity()).bean();
        PersistentJmx jmx = new PersistentJmx(pool, List.of(objectName, buffers.name()));
        MBeans.register(pool.toString(), "pool", name, List.of(new MBeans.Bean(objectName, jmx), buffers));
        return jmx;
    }

    void unregister() {
        MBeans.unregister(names);
    }

    @Override
    public String getName() {
        return pool.jmxName();
    }

    @Override
    public String getAlgorithm() {
        return "persistent";
    }

    @Override
    public String getDurability() {
        return pool.durability().name();
    }

    @Override
    public boolean isGroupCommit() {
        return pool.groupCommit();
    }

    @Override
    public long getCapacity() {
        return pool.stats().capacity();
    }

    @Override
    public long getHeapBytes() {
        return pool.stats().heapBytes();
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
    public long getUnitsInUse() {
        return pool.stats().unitsInUse();
    }

    @Override
    public long getFreeBytes() {
        return pool.stats().freeBytes();
    }

    @Override
    public long getLargestFree() {
        return pool.stats().largestFree();
    }

    @Override
    public long getFreeExtents() {
        return pool.stats().freeExtents();
    }

    @Override
    public double getExternalFragmentation() {
        return pool.stats().externalFragmentation();
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
    public long getFlushedBytes() {
        return pool.stats().flushedBytes();
    }

    @Override
    public long getPersistPoints() {
        return pool.stats().persistPoints();
    }

    @Override
    public long getRecoveredRedo() {
        return pool.stats().recoveredRedo();
    }

    @Override
    public long getRecoveredUndo() {
        return pool.stats().recoveredUndo();
    }
}
