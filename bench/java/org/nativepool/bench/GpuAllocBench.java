package org.nativepool.bench;

import java.nio.ByteBuffer;
import org.nativepool.Features;
import org.nativepool.NativePool;
import org.nativepool.gpu.CudaStream;
import org.nativepool.gpu.Device;
import org.nativepool.gpu.DeviceBuffer;
import org.nativepool.gpu.DeviceManager;
import org.nativepool.gpu.DeviceStats;
import org.nativepool.gpu.HostMemory;
import org.nativepool.gpu.PinnedBuffer;

/**
 * The Java side of the GPU benchmark (docs/gpu.md): stream-ordered device
 * pool allocate+free per size and stream count, and host-device copy
 * bandwidth from pinned and pageable memory, through the public API (so JNI
 * and guard costs are included). Run as a single-file program against the
 * packaged JAR:
 *
 * <pre>java -cp target/nativepool-VERSION.jar bench/java/org/nativepool/bench/GpuAllocBench.java [--simulated]</pre>
 *
 * Without a CUDA device it says so and exits; {@code --simulated} runs it on
 * simulated devices, which checks the program but measures nothing about GPUs.
 */
public final class GpuAllocBench {
    private static final long MIN_NANOS = 500_000_000L;

    private GpuAllocBench() {
    }

    public static void main(String[] args) {
        boolean simulated = args.length > 0 && args[0].equals("--simulated");
        Features features = NativePool.features();
        if (!simulated && features.cudaDevices() == 0) {
            System.out.println("GpuAllocBench: skipped: no CUDA device ("
                    + (features.cudaCompiled() ? "the driver reports none" : "CUDA not compiled in") + ")");
            return;
        }
        try (DeviceManager manager = simulated ? DeviceManager.simulated(1, 1L << 30) : DeviceManager.open()) {
            System.out.println(features);
            System.out.println(manager + "; record nvidia-smi's GPU name and driver version with these figures");
            Device device = manager.device(0);
            allocation(device);
            bandwidth(manager, device);
        }
    }

    private static void allocation(Device device) {
        System.out.printf("%-14s %8s %12s %12s%n", "bytes", "streams", "ns/op", "free blocks");
        for (int streams : new int[] {1, 4}) {
            for (long size = 256; size <= (256L << 20); size *= 16) {
                CudaStream[] lanes = new CudaStream[streams];
                for (int i = 0; i < streams; i++) {
                    lanes[i] = device.createStream();
                }
                for (CudaStream lane : lanes) {  // warm: one cached block per stream
                    device.allocate(size, lane).close();
                }
                long operations = 0;
                long start = System.nanoTime();
                long elapsed;
                do {
                    for (int i = 0; i < 1000; i++) {
                        device.allocate(size, lanes[(int) (operations++ % streams)]).close();
                    }
                    elapsed = System.nanoTime() - start;
                } while (elapsed < MIN_NANOS);
                DeviceStats stats = device.stats();
                System.out.printf("%-14d %8d %12.1f %12d%n", size, streams, (double) elapsed / operations,
                        stats.poolFreeBlocks() + stats.cachedBlocks());
                for (CudaStream lane : lanes) {
                    lane.close();
                }
                device.trim();
            }
        }
    }

    private static void bandwidth(DeviceManager manager, Device device) {
        long size = 64L << 20;
        try (CudaStream stream = device.createStream();
                DeviceBuffer onDevice = device.allocate(size, stream);
                DeviceBuffer other = device.allocate(size, stream);
                PinnedBuffer pinned = manager.allocatePinned(size)) {
            HostMemory pageable = HostMemory.of(ByteBuffer.allocateDirect((int) size));
            report("H2D pinned", size, () -> stream.copy(onDevice, pinned));
            report("H2D pageable", size, () -> stream.copy(onDevice, pageable));
            report("D2H pinned", size, () -> stream.copy(pinned, onDevice));
            report("D2H pageable", size, () -> stream.copy(pageable, onDevice));
            report("D2D (device peak)", size, () -> stream.copy(other, onDevice));
        }
    }

    private static void report(String what, long size, Runnable copy) {
        copy.run();  // warm
        long copies = 0;
        long start = System.nanoTime();
        long elapsed;
        do {
            copy.run();
            copies++;
            elapsed = System.nanoTime() - start;
        } while (elapsed < MIN_NANOS);
        System.out.printf("%-18s %8.2f GB/s (%d MiB copies)%n", what, (double) size * copies / elapsed, size >> 20);
    }
}
