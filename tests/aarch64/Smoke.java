import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.nativepool.Backend;
import org.nativepool.BlockCache;
import org.nativepool.Feature;
import org.nativepool.FeatureUnavailableException;
import org.nativepool.Features;
import org.nativepool.FixedPool;
import org.nativepool.MemoryBlock;
import org.nativepool.NativePool;
import org.nativepool.PoolStats;
import org.nativepool.SafetyLevel;
import org.nativepool.ThreadSafety;
import org.nativepool.VariablePool;
import org.nativepool.gpu.CudaStream;
import org.nativepool.gpu.DeviceBuffer;
import org.nativepool.gpu.DeviceManager;
import org.nativepool.gpu.HostMemory;
import org.nativepool.gpu.PinnedBuffer;

/**
 * The Java smoke test of the linux-aarch64 library (.ci/aarch64): an arm64
 * JVM under qemu-user loads the library from the JAR given on the class
 * path, allocates from every pool type, checks the stats and closes them.
 * Each check that fails is named; the exit status is the number of failures.
 */
public final class Smoke {
    private static int passed;
    private static final List<String> failures = new ArrayList<>();

    private Smoke() {
    }

    public static void main(String[] args) throws Exception {
        Features features = NativePool.features();
        System.out.print(features);
        check(features.libraryOrigin().startsWith("jar:/org/nativepool/native/linux-aarch64/libnativepool.so"),
                "loaded from the JAR's linux-aarch64 entry: " + features.libraryOrigin());
        check(!features.cudaCompiled(), "the aarch64 build has no CUDA");
        check(thrownBy(() -> features.require(Feature.CUDA)).contains("compiled without CUDA"),
                "features() says CUDA is not compiled in");
        check(thrownBy(() -> DeviceManager.open().close()).contains("CUDA"), "DeviceManager.open() refuses");

        for (ThreadSafety mode : ThreadSafety.values()) {
            for (Backend backend : List.of(Backend.malloc(), Backend.mmap())) {
                fixedPool(mode, backend);
            }
        }
        lockFreeAcrossThreads();
        variablePool();
        blockCache();
        safetyLevels();
        simulatedDevices();
        nodeLocal(features);

        System.out.println("Smoke: " + passed + " passed, " + failures.size() + " failed");
        failures.forEach(failure -> System.out.println("FAILED: " + failure));
        System.exit(failures.size());
    }

    private static void fixedPool(ThreadSafety mode, Backend backend) {
        String what = "FixedPool " + mode + " over " + backend;
        try (FixedPool pool = FixedPool.builder(64).threadSafety(mode).backend(backend).threadCache(0).build()) {
            long[] batch = new long[100];
            pool.allocate(batch.length, batch);
            try (MemoryBlock block = pool.allocate()) {
                block.putLong(56, 0x0123456789ABCDEFL);
                check(block.getLong(56) == 0x0123456789ABCDEFL, what + ": a block holds what was written");
                PoolStats stats = pool.stats();
                check(stats.liveBlocks() == 101 && stats.bytesInUse() == 101 * 64
                        && stats.allocations() == 101 && stats.frees() == 0, what + ": exact stats " + stats);
            }
            pool.free(batch);
            PoolStats stats = pool.stats();
            check(stats.liveBlocks() == 0 && stats.frees() == 101, what + ": everything freed " + stats);
        }
    }

    /** The tagged lock-free stack on a weaker memory model than x86: no block is handed out twice. */
    private static void lockFreeAcrossThreads() throws InterruptedException {
        int threads = 4;
        int rounds = 2000;
        try (FixedPool pool = FixedPool.builder(64).maxBlocks(16).threadSafety(ThreadSafety.LOCK_FREE)
                .threadCache(0).build()) {
            CountDownLatch start = new CountDownLatch(1);
            List<Throwable> errors = new ArrayList<>();
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long stamp = t + 1;
                Thread worker = new Thread(() -> {
                    try {
                        start.await();
                        for (int i = 0; i < rounds; i++) {
                            try (MemoryBlock a = pool.allocate(); MemoryBlock b = pool.allocate();
                                 MemoryBlock c = pool.allocate()) {
                                for (MemoryBlock held : List.of(a, b, c)) {
                                    held.putLong(0, stamp);
                                }
                                for (MemoryBlock held : List.of(a, b, c)) {
                                    if (held.getLong(0) != stamp) {
                                        throw new AssertionError("block 0x" + Long.toHexString(held.address())
                                                + " was handed to another thread while held");
                                    }
                                }
                            }
                        }
                    } catch (Throwable e) {
                        synchronized (errors) {
                            errors.add(e);
                        }
                    }
                });
                workers.add(worker);
                worker.start();
            }
            start.countDown();
            for (Thread worker : workers) {
                worker.join();
            }
            PoolStats stats = pool.stats();
            check(errors.isEmpty(), "LOCK_FREE across " + threads + " threads: " + errors);
            check(stats.allocations() == (long) threads * rounds * 3 && stats.frees() == stats.allocations()
                    && stats.liveBlocks() == 0, "LOCK_FREE across threads: exact stats " + stats);
        }
    }

    private static void variablePool() {
        try (VariablePool heap = VariablePool.builder().arenaSize(1 << 20).threadCache(0).build()) {
            List<MemoryBlock> blocks = new ArrayList<>();
            long expected = 0;
            for (int i = 0; i < 200; i++) {
                long size = 16L << (i % 8);
                blocks.add(heap.allocate(size, 64));
                expected += size;
            }
            boolean aligned = blocks.stream().allMatch(block -> block.address() % 64 == 0);
            check(aligned, "VariablePool honours a 64-byte alignment");
            PoolStats stats = heap.stats();
            check(stats.liveBlocks() == 200 && stats.bytesInUse() == expected,
                    "VariablePool: exact stats " + stats + ", expected " + expected + " bytes in use");
            blocks.forEach(MemoryBlock::close);
            check(heap.stats().liveBlocks() == 0 && heap.stats().bytesInUse() == 0, "VariablePool: all freed");
            check(heap.trim() >= 0 && heap.stats().freeBytes() == heap.stats().bytesReserved(),
                    "VariablePool: trimmed, every reserved byte free " + heap.stats());
        }
    }

    private static void blockCache() {
        try (FixedPool pool = FixedPool.builder(128).threadSafety(ThreadSafety.MUTEX).threadCache(0).build()) {
            try (BlockCache cache = pool.newCache(16)) {
                long first = cache.allocate();
                long second = cache.allocate();
                check(first != second, "BlockCache hands out distinct blocks");
                cache.free(first);
                cache.free(second);
                PoolStats stats = pool.stats();
                check(stats.liveBlocks() == 0 && stats.cachedBlocks() == cache.size(),
                        "BlockCache: parked blocks count as cached " + stats);
            }
            check(pool.stats().cachedBlocks() == 0, "BlockCache: closing gives its blocks back");
        }
    }

    private static void safetyLevels() {
        for (SafetyLevel level : SafetyLevel.values()) {
            try (FixedPool pool = FixedPool.builder(48).safetyLevel(level).build();
                 VariablePool heap = VariablePool.builder().safetyLevel(level).build()) {
                try (MemoryBlock a = pool.allocate(); MemoryBlock b = heap.allocate(100)) {
                    a.putInt(44, 7);
                    b.putByte(99, (byte) 7);
                }
                pool.validate();
                heap.validate();
                check(pool.stats().liveBlocks() == 0 && heap.stats().liveBlocks() == 0,
                        "SafetyLevel " + level + ": pools validate and end empty");
            }
        }
    }

    private static void simulatedDevices() {
        try (DeviceManager gpus = DeviceManager.simulated(2, 1L << 20);
             CudaStream stream = gpus.device(1).createStream()) {
            try (PinnedBuffer first = gpus.allocatePinned(4096); PinnedBuffer second = gpus.allocatePinned(100)) {
                check(first.address() != second.address() && gpus.pinnedStats().liveBlocks() == 2
                        && gpus.pinnedStats().bytesInUse() == 4096 + 256,
                        "simulated pinned pool: exact stats " + gpus.pinnedStats());
            }
            check(gpus.pinnedStats().liveBlocks() == 0, "simulated pinned pool: both freed " + gpus.pinnedStats());

            ByteBuffer out = ByteBuffer.allocateDirect(4096).putLong(0, 42L);
            ByteBuffer in = ByteBuffer.allocateDirect(4096);
            try (DeviceBuffer data = gpus.device(1).allocate(4096, stream)) {
                stream.copyAsync(data, HostMemory.of(out));
                stream.copyAsync(HostMemory.of(in), data);
                stream.synchronize();
                check(in.getLong(0) == 42L, "simulated device: a round trip through device memory");
                check(gpus.device(1).stats().liveBlocks() == 1 && gpus.device(1).stats().bytesInUse() == 4096,
                        "simulated device: exact stats " + gpus.device(1).stats());
            }
            check(gpus.device(1).stats().liveBlocks() == 0 && gpus.device(1).stats().cachedBlocks() == 1,
                    "simulated device: the stream-ordered free parks the block on its stream "
                            + gpus.device(1).stats());
        }
    }

    /** qemu-user implements no NUMA system calls, so there the pool must be refused with the reason. */
    private static void nodeLocal(Features features) {
        if (!features.has(Feature.NUMA)) {
            check(thrownBy(() -> FixedPool.builder(64).backend(Backend.nodeLocal()).build().close())
                    .contains(features.numaUnavailableReason()), "a node-local pool is refused with the reason "
                    + features.numaUnavailableReason());
            return;
        }
        try (FixedPool pool = FixedPool.builder(64).backend(Backend.nodeLocal()).build();
             MemoryBlock block = pool.allocate()) {
            block.putLong(0, 1L);
            check(pool.stats().liveBlocks() == 1, "node-local pool: exact stats " + pool.stats());
        }
    }

    private static String thrownBy(Runnable action) {
        try {
            action.run();
            return "nothing thrown";
        } catch (FeatureUnavailableException e) {
            return e.getMessage();
        } catch (RuntimeException e) {
            return e.getClass().getSimpleName() + ": " + e.getMessage();
        }
    }

    private static void check(boolean condition, String what) {
        if (condition) {
            passed++;
            System.out.println("ok: " + what);
        } else {
            failures.add(what);
        }
    }
}
