package org.nativepool.gpu;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.stream.Stream;
import org.nativepool.Features;
import org.nativepool.NativePool;

/**
 * The runtimes every GPU suite runs against: the simulation always, CUDA
 * when a device is present (skipped with the reason otherwise).
 */
final class GpuRuntimes {
    static final long CAPACITY = 64L << 20;

    private GpuRuntimes() {
    }

    /** Parameter source of the suites: {@code @MethodSource("org.nativepool.gpu.GpuRuntimes#names")}. */
    static Stream<String> names() {
        return Stream.of("simulated", "cuda");
    }

    /** A manager of at least {@code minDevices} devices on the named runtime, or a skipped test. */
    static DeviceManager open(String runtime, int minDevices) {
        return builder(runtime, minDevices).build();
    }

    /** The builder of {@link #open}, for suites that add settings; or a skipped test. */
    static DeviceManager.Builder builder(String runtime, int minDevices) {
        if (runtime.equals("simulated")) {
            return DeviceManager.builder().simulated(Math.max(2, minDevices), CAPACITY).arenaSize(4L << 20)
                    .pinnedArenaSize(4L << 20);
        }
        Features features = NativePool.features();
        assumeTrue(features.cudaCompiled(), "no CUDA device: CUDA is not compiled into this build");
        assumeTrue(features.cudaDevices() > 0, "no CUDA device: the driver reports none");
        assumeTrue(features.cudaDevices() >= minDevices,
                "needs " + minDevices + " CUDA devices, found " + features.cudaDevices());
        return DeviceManager.builder();
    }
}
