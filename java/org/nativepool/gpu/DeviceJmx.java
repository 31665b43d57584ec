package org.nativepool.gpu;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import javax.management.ObjectName;
import org.nativepool.internal.MBeans;

/** One {@link DevicePoolMXBean} of a manager: its sum over the devices, a device's pool, or the pinned pool. */
final class DeviceJmx implements DevicePoolMXBean {
    private final DeviceManager manager;
    private final String pool;
    private final Supplier<DeviceStats> stats;

    private DeviceJmx(DeviceManager manager, String pool, Supplier<DeviceStats> stats) {
        this.manager = manager;
        this.pool = pool;
        this.stats = stats;
    }

    /**
     * Registers the beans of {@code manager}: the sum, each device's pool, the pinned pool.
     *
     * @return their names, for {@link MBeans#unregister}
     * @throws org.nativepool.PoolNameInUseException if a name is taken; none is then registered
     */
    static List<ObjectName> register(DeviceManager manager) {
        String prefix = "org.nativepool:type=DeviceManager,name=";
        List<MBeans.Bean> beans = new ArrayList<>();
        beans.add(new MBeans.Bean(MBeans.name(prefix, manager.name(), ""),
                new DeviceJmx(manager, "all", manager::stats)));
        for (Device device : manager.devices()) {
            String pool = "device" + device.index();
            beans.add(new MBeans.Bean(MBeans.name(prefix, manager.name(), ",pool=" + pool),
                    new DeviceJmx(manager, pool, () -> manager.stats(device.index(), device.index()))));
        }
        beans.add(new MBeans.Bean(MBeans.name(prefix, manager.name(), ",pool=pinned"),
                new DeviceJmx(manager, "pinned", manager::pinnedStats)));
        return MBeans.register(manager.toString(), "device manager", manager.name(), beans);
    }

    @Override
    public String getManager() {
        return manager.name();
    }

    @Override
    public String getRuntime() {
        return manager.runtimeName();
    }

    @Override
    public String getPool() {
        return pool;
    }

    @Override
    public long getDeviceFreeBytes() {
        return stats.get().deviceFreeBytes();
    }

    @Override
    public long getDeviceTotalBytes() {
        return stats.get().deviceTotalBytes();
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
    public long getCachedBlocks() {
        return stats.get().cachedBlocks();
    }

    @Override
    public long getCachedBytes() {
        return stats.get().cachedBytes();
    }

    @Override
    public long getReusedSameStream() {
        return stats.get().reusedSameStream();
    }

    @Override
    public long getReusedAfterEvent() {
        return stats.get().reusedAfterEvent();
    }

    @Override
    public long getReusedAfterWait() {
        return stats.get().reusedAfterWait();
    }

    @Override
    public long getUpstreamAllocations() {
        return stats.get().upstreamAllocations();
    }

    @Override
    public long getReservedBytes() {
        return stats.get().reservedBytes();
    }

    @Override
    public long getPeakReservedBytes() {
        return stats.get().peakReservedBytes();
    }

    @Override
    public long getPoolFreeBytes() {
        return stats.get().poolFreeBytes();
    }

    @Override
    public long getLargestFreeBlock() {
        return stats.get().largestFreeBlock();
    }

    @Override
    public long getPoolFreeBlocks() {
        return stats.get().poolFreeBlocks();
    }
}
