package org.nativepool.bench.arrow;

import java.time.Duration;
import org.apache.arrow.memory.AllocationManager;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.memory.netty.NettyAllocationManager;
import org.apache.arrow.memory.unsafe.UnsafeAllocationManager;
import org.nativepool.arrow.NativePoolArrow;

/**
 * The allocation managers every benchmark compares, by the name of its
 * {@code manager} parameter, and a root allocator on each.
 */
final class Managers implements AutoCloseable {
    static {
        // Arrow's allocator classes first: initialising UnsafeAllocationManager first, with
        // Unsafe as the default manager, reads its FACTORY while it is still null.
        RootAllocator.configBuilder();
    }

    private final NativePoolArrow nativePool;
    final RootAllocator root;

    Managers(String manager) {
        AllocationManager.Factory factory;
        switch (manager) {
            case "netty" -> {
                nativePool = null;
                factory = NettyAllocationManager.FACTORY;
            }
            case "unsafe" -> {
                nativePool = null;
                factory = UnsafeAllocationManager.FACTORY;
            }
            case "floor" -> {
                nativePool = null;
                factory = FloorFactory.INSTANCE;
            }
            // the default: automatic trim after 10 s of idle memory
            case "nativepool" -> factory = nativePool = NativePoolArrow.factory();
            case "nativepool-notrim" -> factory = nativePool = NativePoolArrow.builder().autoTrim(null).build();
            // a trim that fires within a benchmark iteration: what giving memory back costs
            case "nativepool-trim50ms" -> factory = nativePool = NativePoolArrow.builder()
                    .autoTrim(Duration.ofMillis(50)).build();
            default -> throw new IllegalArgumentException("unknown manager " + manager);
        }
        root = new RootAllocator(RootAllocator.configBuilder().allocationManagerFactory(factory).build());
    }

    @Override
    public void close() {
        root.close();
        if (nativePool != null) {
            nativePool.close();
        }
    }
}
