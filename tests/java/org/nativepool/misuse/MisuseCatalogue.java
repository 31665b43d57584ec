package org.nativepool.misuse;

import static org.nativepool.misuse.MisuseCase.noOp;
import static org.nativepool.misuse.MisuseCase.throwing;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.nativepool.BlockCache;
import org.nativepool.DoubleFreeException;
import org.nativepool.FixedPool;
import org.nativepool.InvalidArgumentException;
import org.nativepool.InvalidFreeException;
import org.nativepool.MemoryBlock;
import org.nativepool.OutOfPoolMemoryException;
import org.nativepool.Pool;
import org.nativepool.PoolClosedException;
import org.nativepool.ThreadSafety;
import org.nativepool.VariablePool;
import org.nativepool.gpu.CudaEvent;
import org.nativepool.gpu.CudaStream;
import org.nativepool.gpu.DeviceBuffer;
import org.nativepool.gpu.DeviceManager;
import org.nativepool.gpu.HostMemory;
import org.nativepool.gpu.PinnedBuffer;

/**
 * The bad-input catalogue: every way of misusing the public API that the
 * README promises turns into a specific exception (or, where documented, a
 * no-op) without crashing the JVM, lying in the stats or breaking the pool.
 * Generic pool cases run against every {@link PoolKind} and are named
 * {@code <KIND>/<case>}.
 */
final class MisuseCatalogue {
    private MisuseCatalogue() {
    }

    static List<MisuseCase> all() {
        List<MisuseCase> cases = new ArrayList<>();
        for (PoolKind kind : PoolKind.values()) {
            for (MisuseCase generic : poolCases(kind)) {
                cases.add(new MisuseCase(kind + "/" + generic.name(), generic.expected(), generic.message(),
                        generic.body()));
            }
        }
        cases.addAll(builderCases());
        cases.addAll(BudgetCases.all());
        cases.addAll(cacheCases());
        cases.addAll(gpuCases());
        cases.addAll(InternalCases.all());
        return List.copyOf(cases);
    }

    /** What every pool must refuse, whatever its algorithm, thread safety and safety level. */
    private static List<MisuseCase> poolCases(PoolKind kind) {
        List<MisuseCase> cases = new ArrayList<>(List.of(
                throwing("free-zero", InvalidFreeException.class, "cannot free a null pointer", f -> f.pool.free(0L)),
                throwing("free-minus-one", InvalidFreeException.class, "", f -> f.pool.free(-1L)),
                throwing("free-one", InvalidFreeException.class, "", f -> f.pool.free(1L)),
                throwing("free-interior-plus-one", InvalidFreeException.class, "", f -> f.pool.free(f.allocate() + 1)),
                throwing("free-interior-plus-16", InvalidFreeException.class, "", f -> f.pool.free(f.allocate() + 16)),
                throwing("free-twice", DoubleFreeException.class, "", f -> {
                    long block = f.allocate();
                    f.pool.free(block);
                    f.pool.free(block);
                }),
                throwing("free-foreign-block", InvalidFreeException.class, "",
                        f -> f.pool.free(f.allocateForeign())),
                throwing("free-pinned-buffer-address", InvalidFreeException.class, "",
                        f -> f.pool.free(f.keep(DeviceManager.simulated(1, 1 << 20)).allocatePinned(64).address())),
                throwing("free-block-of-a-closed-pool", InvalidFreeException.class, "", f -> {
                    long stale = f.allocateForeign();
                    f.other.close();
                    f.pool.free(stale);
                }),
                throwing("free-batch-null", NullPointerException.class, "addresses", f -> f.pool.free(null, 1)),
                throwing("free-batch-negative-count", IndexOutOfBoundsException.class, "",
                        f -> f.pool.free(new long[2], -1)),
                throwing("free-batch-count-past-array", IndexOutOfBoundsException.class, "",
                        f -> f.pool.free(new long[2], 3)),
                throwing("free-batch-bad-address-in-the-middle", InvalidFreeException.class, "addresses[1]", f -> {
                    long[] batch = {f.allocate(), 12345L, f.allocate()};
                    try {
                        f.pool.free(batch);
                    } finally {
                        f.pool.free(batch[2]); // the one after the bad address stays live
                    }
                }),
                throwing("free-batch-same-address-twice", DoubleFreeException.class, "addresses[1]", f -> {
                    long block = f.allocate();
                    f.pool.free(new long[] {block, block});
                }),
                noOp("free-batch-empty", f -> f.pool.free(new long[0])),
                throwing("raw-free-of-an-open-handle", InvalidFreeException.class, "is owned by a MemoryBlock",
                        f -> f.pool.free(handle(f.pool).address())),
                throwing("batch-free-with-an-open-handle", InvalidFreeException.class, "addresses[1]", f -> {
                    long raw = f.allocate();
                    f.pool.free(new long[] {raw, handle(f.pool).address()});
                }),
                noOp("handle-close-after-refused-raw-free", f -> {
                    MemoryBlock first = handle(f.pool);
                    long address = first.address();
                    try {
                        f.pool.free(address);
                        throw new AssertionError("a raw free of a handle's block was accepted");
                    } catch (InvalidFreeException expected) {
                        // the block stays the handle's
                    }
                    try (MemoryBlock second = handle(f.pool)) {
                        if (second.address() == address) {
                            throw new AssertionError("the block of an open handle was handed out again");
                        }
                        second.putLong(0, 42L);
                        first.close();
                        if (second.isClosed() || second.getLong(0) != 42L) {
                            throw new AssertionError("closing the first handle touched the second");
                        }
                    }
                }),
                noOp("handle-close-twice", f -> {
                    MemoryBlock block = handle(f.pool);
                    block.close();
                    block.close();
                }),
                throwing("handle-address-after-close", PoolClosedException.class, "is closed", f -> {
                    MemoryBlock block = handle(f.pool);
                    block.close();
                    block.address();
                }),
                throwing("handle-view-after-close", PoolClosedException.class, "is closed", f -> {
                    MemoryBlock block = handle(f.pool);
                    block.close();
                    block.asByteBuffer();
                }),
                noOp("handle-close-after-pool-close", f -> {
                    MemoryBlock block = handle(f.pool);
                    f.pool.close();
                    block.close();
                }),
                throwing("handle-address-after-pool-close", PoolClosedException.class, "closed", f -> {
                    MemoryBlock block = handle(f.pool);
                    f.pool.close();
                    block.address();
                }),
                noOp("view-used-after-block-close", f -> {
                    MemoryBlock block = handle(f.pool);
                    long address = block.address();
                    ByteBuffer view = block.asByteBuffer();
                    block.close();
                    long next = f.allocate(); // must not be the block the view still reaches
                    view.putLong(0, -1L);
                    f.pool.free(next);
                    if (next == address) {
                        throw new AssertionError("a closed block still viewed was handed out again");
                    }
                }),
                noOp("view-used-after-pool-close", f -> {
                    ByteBuffer view = handle(f.pool).asByteBuffer();
                    f.pool.close();
                    view.putLong(0, 42L);
                    if (view.getLong(0) != 42L) {
                        throw new AssertionError("the view lost its memory");
                    }
                }),
                noOp("view-used-after-block-close-and-trim", f -> {
                    MemoryBlock block = handle(f.pool);
                    ByteBuffer view = block.asByteBuffer();
                    block.close();
                    f.pool.trim();
                    view.putLong(0, 7L);
                }),
                throwing("view-of-a-closed-block", PoolClosedException.class, "is closed", f -> {
                    MemoryBlock block = handle(f.pool);
                    block.close();
                    block.asByteBuffer();
                }),
                throwing("accessor-after-close", PoolClosedException.class, "is closed", f -> {
                    MemoryBlock block = handle(f.pool);
                    block.close();
                    block.getLong(0);
                }),
                throwing("accessor-after-pool-close", PoolClosedException.class, "closed", f -> {
                    MemoryBlock block = handle(f.pool);
                    f.pool.close();
                    block.putLong(0, 1L);
                }),
                throwing("accessor-past-the-end", IndexOutOfBoundsException.class, "",
                        f -> handle(f.pool).getLong(60)),
                throwing("accessor-negative-offset", IndexOutOfBoundsException.class, "",
                        f -> handle(f.pool).putByte(-1, (byte) 0)),
                throwing("accessor-offset-overflow", IndexOutOfBoundsException.class, "",
                        f -> handle(f.pool).getInt(Long.MAX_VALUE - 1)),
                throwing("copy-from-past-the-end", IndexOutOfBoundsException.class, "",
                        f -> handle(f.pool).copyFrom(32, new byte[64], 0, 64)),
                throwing("copy-to-past-the-array", IndexOutOfBoundsException.class, "",
                        f -> handle(f.pool).copyTo(0, new byte[16], 8, 16)),
                throwing("copy-from-null-array", NullPointerException.class, "src",
                        f -> handle(f.pool).copyFrom(0, (byte[]) null, 0, 1)),
                throwing("copy-to-null-buffer", NullPointerException.class, "dst",
                        f -> handle(f.pool).copyTo(0, (ByteBuffer) null)),
                noOp("pool-close-twice", f -> {
                    f.pool.close();
                    f.pool.close();
                }),
                throwing("allocate-after-close", PoolClosedException.class, "is closed", f -> {
                    f.pool.close();
                    f.allocate();
                }),
                throwing("free-after-close", PoolClosedException.class, "is closed", f -> {
                    long block = f.allocate();
                    f.pool.close();
                    f.pool.free(block);
                }),
                throwing("free-batch-after-close", PoolClosedException.class, "is closed", f -> {
                    long block = f.allocate();
                    f.pool.close();
                    f.pool.free(new long[] {block});
                }),
                throwing("stats-after-close", PoolClosedException.class, "is closed", f -> {
                    f.pool.close();
                    f.pool.stats();
                }),
                throwing("validate-after-close", PoolClosedException.class, "is closed", f -> {
                    f.pool.close();
                    f.pool.validate();
                }),
                throwing("verify-after-close", PoolClosedException.class, "is closed", f -> {
                    f.pool.close();
                    f.pool.verify();
                }),
                throwing("trim-after-close", PoolClosedException.class, "is closed", f -> {
                    f.pool.close();
                    f.pool.trim();
                }),
                throwing("leak-report-after-close", PoolClosedException.class, "is closed", f -> {
                    f.pool.close();
                    f.pool.leakReport();
                }),
                throwing("batch-allocate-negative-count", IndexOutOfBoundsException.class, "",
                        f -> batch(f.pool, -1, new long[4])),
                throwing("batch-allocate-count-past-array", IndexOutOfBoundsException.class, "",
                        f -> batch(f.pool, 5, new long[4])),
                throwing("batch-allocate-null-array", NullPointerException.class, "out",
                        f -> batch(f.pool, 1, null)),
                noOp("batch-allocate-zero", f -> batch(f.pool, 0, new long[0])),
                throwing("exhaustion", OutOfPoolMemoryException.class, "", f -> {
                    List<Long> held = new ArrayList<>();
                    try {
                        for (int i = 0; i < 100_000; i++) {
                            held.add(f.allocate());
                        }
                    } finally {
                        for (long block : held) {
                            f.pool.free(block);
                        }
                    }
                })));
        cases.addAll(BudgetCases.poolCases(kind));
        if (kind.fixed) {
            cases.addAll(List.of(
                    throwing("cache-free-of-an-open-handle", InvalidFreeException.class,
                            "is owned by a MemoryBlock", f -> {
                                try (BlockCache cache = f.fixed().newCache(8)) {
                                    cache.free(f.fixed().allocate().address());
                                }
                            }),
                    throwing("new-cache-capacity-1", InvalidArgumentException.class, "capacity",
                            f -> f.fixed().newCache(1)),
                    throwing("new-cache-capacity-0", InvalidArgumentException.class, "capacity",
                            f -> f.fixed().newCache(0)),
                    throwing("new-cache-capacity-negative", InvalidArgumentException.class, "capacity",
                            f -> f.fixed().newCache(-5)),
                    throwing("new-cache-capacity-too-large", InvalidArgumentException.class, "capacity",
                            f -> f.fixed().newCache(BlockCache.MAX_CAPACITY + 1))));
        } else {
            cases.addAll(List.of(
                    throwing("raw-free-of-an-open-large-handle", InvalidFreeException.class,
                            "is owned by a MemoryBlock", f -> f.pool.free(f.variable().allocate(4096).address())),
                    throwing("raw-free-of-an-open-aligned-handle", InvalidFreeException.class,
                            "is owned by a MemoryBlock",
                            f -> f.pool.free(f.variable().allocate(64, 256).address())),
                    throwing("free-into-free-space", InvalidFreeException.class, "", f -> {
                        long block = f.allocate();
                        f.pool.free(block + 4096); // never handed out: no double free to claim
                    }),
                    throwing("allocate-size-zero", InvalidArgumentException.class, "at least 1 byte",
                            f -> f.variable().allocateAddress(0)),
                    throwing("allocate-size-negative", InvalidArgumentException.class, "negative",
                            f -> f.variable().allocateAddress(-1)),
                    throwing("allocate-size-long-min", InvalidArgumentException.class, "negative",
                            f -> f.variable().allocateAddress(Long.MIN_VALUE)),
                    throwing("allocate-size-long-max", OutOfPoolMemoryException.class, "9223372036854775807 bytes",
                            f -> f.variable().allocateAddress(Long.MAX_VALUE)),
                    throwing("allocate-size-beyond-capacity", OutOfPoolMemoryException.class, "307200",
                            f -> f.variable().allocateAddress(300 << 10)),
                    throwing("allocate-alignment-three", InvalidArgumentException.class, "power of two",
                            f -> f.variable().allocateAddress(64, 3)),
                    throwing("allocate-alignment-negative", InvalidArgumentException.class, "negative",
                            f -> f.variable().allocateAddress(64, -8)),
                    throwing("allocate-handle-size-zero", InvalidArgumentException.class, "at least 1 byte",
                            f -> f.variable().allocate(0)),
                    throwing("batch-allocate-size-zero", InvalidArgumentException.class, "at least 1 byte",
                            f -> f.variable().allocate(2, 0, new long[2]))));
        }
        return cases;
    }

    private static MemoryBlock handle(Pool pool) {
        return pool instanceof FixedPool fixed ? fixed.allocate() : ((VariablePool) pool).allocate(64);
    }

    private static void batch(Pool pool, int count, long[] out) {
        if (pool instanceof FixedPool fixed) {
            fixed.allocate(count, out);
        } else {
            ((VariablePool) pool).allocate(count, 64, out);
        }
    }

    /** Settings every builder must refuse at build(), before any native pool exists. */
    private static List<MisuseCase> builderCases() {
        return List.of(
                throwing("builder/fixed-block-size-zero", InvalidArgumentException.class, "",
                        f -> FixedPool.builder(0).build()),
                throwing("builder/fixed-block-size-negative", InvalidArgumentException.class, "",
                        f -> FixedPool.builder(-1).build()),
                throwing("builder/fixed-block-size-huge", InvalidArgumentException.class, "",
                        f -> FixedPool.builder(1L << 50).build()),
                throwing("builder/fixed-alignment-three", InvalidArgumentException.class, "power of two",
                        f -> FixedPool.builder(64).alignment(3).build()),
                throwing("builder/fixed-alignment-negative", InvalidArgumentException.class, "",
                        f -> FixedPool.builder(64).alignment(-16).build()),
                throwing("builder/fixed-max-blocks-negative", InvalidArgumentException.class, "",
                        f -> FixedPool.builder(64).maxBlocks(-1).build()),
                throwing("builder/fixed-max-blocks-beyond-32-bit", InvalidArgumentException.class, "",
                        f -> FixedPool.builder(64).maxBlocks(1L << 33).build()),
                throwing("builder/fixed-blocks-per-chunk-negative", InvalidArgumentException.class, "",
                        f -> FixedPool.builder(64).blocksPerChunk(-1).build()),
                throwing("builder/fixed-initial-blocks-negative", InvalidArgumentException.class, "",
                        f -> FixedPool.builder(64).initialBlocks(-1).build()),
                throwing("builder/fixed-initial-beyond-memory", OutOfPoolMemoryException.class, "",
                        f -> FixedPool.builder(1L << 40).initialBlocks(1L << 20).build()),
                throwing("builder/variable-arena-zero", InvalidArgumentException.class, "",
                        f -> VariablePool.builder().arenaSize(0).build()),
                throwing("builder/variable-arena-negative", InvalidArgumentException.class, "",
                        f -> VariablePool.builder().arenaSize(-1).build()),
                throwing("builder/variable-arena-not-a-granule-multiple", InvalidArgumentException.class, "",
                        f -> VariablePool.builder().arenaSize(1000).build()),
                throwing("builder/variable-granularity-three", InvalidArgumentException.class, "power of two",
                        f -> VariablePool.builder().granularity(3).build()),
                throwing("builder/variable-granularity-zero", InvalidArgumentException.class, "",
                        f -> VariablePool.builder().granularity(0).build()),
                throwing("builder/variable-initial-negative", InvalidArgumentException.class, "",
                        f -> VariablePool.builder().initialCapacity(-1).build()),
                throwing("builder/variable-max-negative", InvalidArgumentException.class, "",
                        f -> VariablePool.builder().maxCapacity(-1).build()),
                throwing("builder/variable-initial-above-max", InvalidArgumentException.class, "",
                        f -> VariablePool.builder().arenaSize(1 << 20).initialCapacity(8 << 20)
                                .maxCapacity(4 << 20).build()),
                throwing("builder/variable-lock-free", InvalidArgumentException.class, "LOCK_FREE",
                        f -> VariablePool.builder().threadSafety(ThreadSafety.LOCK_FREE).build()),
                throwing("builder/name-null", NullPointerException.class, "name",
                        f -> FixedPool.builder(64).name(null)),
                throwing("builder/thread-safety-null", NullPointerException.class, "threadSafety",
                        f -> FixedPool.builder(64).threadSafety(null)),
                throwing("builder/backend-null", NullPointerException.class, "backend",
                        f -> VariablePool.builder().backend(null)),
                throwing("builder/leak-policy-null", NullPointerException.class, "leakPolicy",
                        f -> VariablePool.builder().leakPolicy(null)),
                throwing("builder/safety-level-null", NullPointerException.class, "safetyLevel",
                        f -> FixedPool.builder(64).safetyLevel(null)),
                throwing("builder/leak-detection-null", NullPointerException.class, "leakDetection",
                        f -> FixedPool.builder(64).leakDetection(null)));
    }

    /** The explicit thread-confined cache of a fixed pool. */
    private static List<MisuseCase> cacheCases() {
        return List.of(
                throwing("cache/free-zero", InvalidFreeException.class, "", f -> cache(f).free(0L)),
                throwing("cache/free-misaligned", InvalidFreeException.class, "aligned",
                        f -> cache(f).free(f.allocate() + 1)),
                throwing("cache/other-thread", IllegalStateException.class, "thread", f -> {
                    BlockCache cache = cache(f);
                    rethrow(CompletableFuture.runAsync(cache::allocate));
                }),
                throwing("cache/allocate-after-pool-close", PoolClosedException.class, "closed", f -> {
                    BlockCache cache = cache(f);
                    f.pool.close();
                    cache.allocate();
                }),
                throwing("cache/allocate-after-close", PoolClosedException.class, "closed", f -> {
                    BlockCache cache = cache(f);
                    cache.close();
                    cache.allocate();
                }),
                noOp("cache/close-twice", f -> {
                    BlockCache cache = cache(f);
                    cache.close();
                    cache.close();
                }),
                noOp("cache/close-after-pool-close", f -> {
                    BlockCache cache = cache(f);
                    cache.free(cache.allocate());
                    f.pool.close();
                    cache.close();
                }),
                throwing("cache/free-twice", DoubleFreeException.class, "parked in a cache", f -> {
                    BlockCache cache = cache(f);
                    long block = cache.allocate();
                    cache.free(block);
                    cache.free(block);
                }),
                throwing("cache/free-then-pool-free", DoubleFreeException.class, "parked in a cache", f -> {
                    BlockCache cache = cache(f);
                    long block = cache.allocate();
                    cache.free(block);
                    f.pool.free(block);
                }),
                throwing("cache/pool-free-then-cache-free", DoubleFreeException.class, "already free", f -> {
                    long block = f.allocate();
                    f.pool.free(block);
                    cache(f).free(block);
                }),
                throwing("cache/free-then-batch-free", DoubleFreeException.class, "addresses[0]", f -> {
                    BlockCache cache = cache(f);
                    long block = cache.allocate();
                    cache.free(block);
                    f.pool.free(new long[] {block});
                }),
                throwing("cache/free-foreign-block", InvalidFreeException.class, "",
                        f -> cache(f).free(f.allocateForeign())),
                throwing("cache/free-parked-in-another-threads-cache", DoubleFreeException.class, "parked in a cache",
                        f -> {
                            long block = CompletableFuture.supplyAsync(() -> {
                                long b = f.allocate();
                                f.pool.free(b); // parked in that thread's cache
                                return b;
                            }).get();
                            cache(f).free(block);
                        }),
                throwing("cache/thread-cache-free-parked-in-another-thread", DoubleFreeException.class,
                        "parked in a cache", f -> {
                            long block = f.allocate();
                            f.pool.free(block); // parked in this thread's cache
                            rethrow(CompletableFuture.runAsync(() -> f.pool.free(block)));
                        }),
                noOp("cache/close-after-refused-frees-returns-every-block", f -> {
                    BlockCache cache = f.fixed().newCache(8);
                    long[] blocks = new long[6];
                    for (int i = 0; i < blocks.length; i++) {
                        blocks[i] = cache.allocate();
                    }
                    cache.free(blocks[0]);
                    refused(() -> cache.free(blocks[0]));
                    refused(() -> cache.free(f.allocateForeign()));
                    for (int i = 1; i < blocks.length; i++) {
                        cache.free(blocks[i]); // parked after the bad ones, and drained past them
                    }
                    cache.close();
                    if (f.pool.stats().liveBlocks() != 0 || f.pool.stats().cachedBlocks() != 0) {
                        throw new AssertionError("blocks stranded by the cache: " + f.pool.stats());
                    }
                }));
    }

    /** Runs a free that must be refused with an {@link InvalidFreeException}. */
    private static void refused(Runnable free) {
        try {
            free.run();
        } catch (InvalidFreeException expected) {
            return;
        }
        throw new AssertionError("a bad free was accepted");
    }

    private static BlockCache cache(Fixture f) {
        return f.keep(f.fixed().newCache(16));
    }

    /** Waits for {@code future} and throws what it threw, as it was. */
    private static void rethrow(CompletableFuture<?> future) throws Exception {
        try {
            future.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException cause) {
                throw cause;
            }
            throw e;
        }
    }

    /** Device managers over simulated devices: the same checks as with CUDA, on any machine. */
    private static List<MisuseCase> gpuCases() {
        return List.of(
                throwing("gpu/simulated-zero-devices", InvalidArgumentException.class, "at least one device",
                        f -> DeviceManager.simulated(0, 1 << 20).close()),
                throwing("gpu/simulated-negative-devices", InvalidArgumentException.class, "at least one device",
                        f -> DeviceManager.simulated(-3, 1 << 20).close()),
                throwing("gpu/simulated-65-devices", InvalidArgumentException.class, "at most 64",
                        f -> DeviceManager.simulated(65, 1 << 20).close()),
                throwing("gpu/simulated-zero-capacity", InvalidArgumentException.class, "",
                        f -> DeviceManager.simulated(1, 0).close()),
                throwing("gpu/simulated-totals-overflow", InvalidArgumentException.class, "exceed",
                        f -> DeviceManager.simulated(2, Long.MAX_VALUE).close()),
                throwing("gpu/arena-not-a-multiple-of-256", InvalidArgumentException.class, "256",
                        f -> DeviceManager.builder().simulated(1, 1 << 20).arenaSize(1000).build().close()),
                throwing("gpu/allocate-zero", InvalidArgumentException.class, "",
                        f -> gpu(f).device(0).allocate(0)),
                throwing("gpu/allocate-negative", InvalidArgumentException.class, "",
                        f -> gpu(f).device(0).allocate(-1)),
                throwing("gpu/allocate-beyond-device", OutOfPoolMemoryException.class, "",
                        f -> gpu(f).device(0).allocate(2L << 20)),
                throwing("gpu/device-index-negative", IndexOutOfBoundsException.class, "",
                        f -> gpu(f).device(-1)),
                throwing("gpu/device-index-past-count", IndexOutOfBoundsException.class, "",
                        f -> gpu(f).device(1)),
                throwing("gpu/free-on-null-stream", NullPointerException.class, "stream",
                        f -> f.keep(gpu(f).device(0).allocate(256)).free(null)),
                throwing("gpu/free-on-foreign-stream", InvalidArgumentException.class, "belongs to", f -> {
                    DeviceBuffer buffer = f.keep(gpu(f).device(0).allocate(256));
                    CudaStream foreign = f.keep(gpu(f).device(0).createStream());
                    buffer.free(f.keep(DeviceManager.simulated(1, 1 << 20)).device(0).createStream());
                    foreign.synchronize();
                }),
                throwing("gpu/free-twice", PoolClosedException.class, "already closed", f -> {
                    DeviceManager manager = gpu(f);
                    CudaStream stream = f.keep(manager.device(0).createStream());
                    DeviceBuffer buffer = manager.device(0).allocate(256, stream);
                    buffer.free(stream);
                    buffer.free(stream);
                }),
                throwing("gpu/copy-negative-offset", InvalidArgumentException.class, "", f -> {
                    DeviceManager manager = gpu(f);
                    CudaStream stream = f.keep(manager.device(0).createStream());
                    DeviceBuffer a = f.keep(manager.device(0).allocate(256));
                    stream.copy(a, -1, a, 0, 16);
                }),
                throwing("gpu/copy-past-the-end", InvalidArgumentException.class, "", f -> {
                    DeviceManager manager = gpu(f);
                    CudaStream stream = f.keep(manager.device(0).createStream());
                    DeviceBuffer a = f.keep(manager.device(0).allocate(256));
                    DeviceBuffer b = f.keep(manager.device(0).allocate(256));
                    stream.copy(a, 200, b, 0, 100);
                }),
                throwing("gpu/copy-offset-overflow", InvalidArgumentException.class, "", f -> {
                    DeviceManager manager = gpu(f);
                    CudaStream stream = f.keep(manager.device(0).createStream());
                    DeviceBuffer a = f.keep(manager.device(0).allocate(256));
                    stream.copy(a, Long.MAX_VALUE, a, 0, 16);
                }),
                throwing("gpu/copy-negative-bytes", InvalidArgumentException.class, "", f -> {
                    DeviceManager manager = gpu(f);
                    CudaStream stream = f.keep(manager.device(0).createStream());
                    DeviceBuffer a = f.keep(manager.device(0).allocate(256));
                    stream.copy(a, 0, a, 0, -1);
                }),
                throwing("gpu/copy-from-closed-buffer", PoolClosedException.class, "", f -> {
                    DeviceManager manager = gpu(f);
                    CudaStream stream = f.keep(manager.device(0).createStream());
                    DeviceBuffer a = f.keep(manager.device(0).allocate(256));
                    DeviceBuffer b = manager.device(0).allocate(256);
                    b.close();
                    stream.copy(a, b);
                }),
                throwing("gpu/copy-null-source", NullPointerException.class, "src", f -> {
                    DeviceManager manager = gpu(f);
                    CudaStream stream = f.keep(manager.device(0).createStream());
                    stream.copy(f.keep(manager.device(0).allocate(256)), null);
                }),
                throwing("gpu/stream-after-close", PoolClosedException.class, "", f -> {
                    CudaStream stream = gpu(f).device(0).createStream();
                    stream.close();
                    stream.synchronize();
                }),
                throwing("gpu/event-after-close", PoolClosedException.class, "", f -> {
                    CudaEvent event = gpu(f).device(0).createEvent();
                    event.close();
                    event.synchronize();
                }),
                throwing("gpu/record-foreign-event", InvalidArgumentException.class, "belongs to", f -> {
                    CudaStream stream = f.keep(gpu(f).device(0).createStream());
                    stream.record(f.keep(f.keep(DeviceManager.simulated(1, 1 << 20)).device(0).createEvent()));
                }),
                throwing("gpu/device-pointer-after-close", PoolClosedException.class, "", f -> {
                    DeviceBuffer buffer = gpu(f).device(0).allocate(256);
                    buffer.close();
                    buffer.devicePointer();
                }),
                throwing("gpu/pinned-view-after-close", PoolClosedException.class, "", f -> {
                    PinnedBuffer pinned = gpu(f).allocatePinned(64);
                    pinned.close();
                    pinned.asByteBuffer();
                }),
                noOp("gpu/pinned-view-used-after-close", f -> {
                    DeviceManager manager = gpu(f);
                    PinnedBuffer pinned = manager.allocatePinned(64);
                    long address = pinned.address();
                    ByteBuffer view = pinned.asByteBuffer();
                    pinned.close();
                    PinnedBuffer next = f.keep(manager.allocatePinned(64));
                    view.putLong(0, 3L);
                    if (next.address() == address) {
                        throw new AssertionError("a closed pinned buffer still viewed was handed out again");
                    }
                }),
                noOp("gpu/pinned-view-used-after-stream-free", f -> {
                    DeviceManager manager = gpu(f);
                    CudaStream stream = f.keep(manager.device(0).createStream());
                    PinnedBuffer pinned = manager.allocatePinned(64, stream);
                    ByteBuffer view = pinned.asByteBuffer();
                    pinned.free(stream);
                    view.putLong(8, 4L);
                }),
                noOp("gpu/pinned-view-used-after-manager-close", f -> {
                    DeviceManager manager = DeviceManager.simulated(1, 1 << 20);
                    ByteBuffer view = manager.allocatePinned(64).asByteBuffer();
                    manager.close();
                    view.putLong(0, 5L);
                    if (view.getLong(0) != 5L) {
                        throw new AssertionError("the view lost its memory");
                    }
                }),
                throwing("gpu/pinned-free-twice", PoolClosedException.class, "already closed", f -> {
                    DeviceManager manager = gpu(f);
                    CudaStream stream = f.keep(manager.device(0).createStream());
                    PinnedBuffer pinned = manager.allocatePinned(64, stream);
                    pinned.free(stream);
                    pinned.free(stream);
                }),
                throwing("gpu/pinned-free-on-closed-stream", PoolClosedException.class, "closed", f -> {
                    DeviceManager manager = gpu(f);
                    CudaStream stream = manager.device(0).createStream();
                    PinnedBuffer pinned = f.keep(manager.allocatePinned(64));
                    stream.close();
                    pinned.free(stream);
                }),
                throwing("gpu/allocate-after-manager-close", PoolClosedException.class, "", f -> {
                    DeviceManager manager = DeviceManager.simulated(1, 1 << 20);
                    manager.close();
                    manager.device(0).allocate(256);
                }),
                noOp("gpu/buffer-close-after-manager-close", f -> {
                    DeviceManager manager = DeviceManager.simulated(1, 1 << 20);
                    DeviceBuffer buffer = manager.device(0).allocate(256);
                    manager.close();
                    buffer.close();
                }),
                throwing("gpu/host-memory-heap-buffer", InvalidArgumentException.class, "direct",
                        f -> HostMemory.of(ByteBuffer.allocate(64))),
                throwing("gpu/host-memory-read-only", InvalidArgumentException.class, "read-only",
                        f -> HostMemory.of(ByteBuffer.allocateDirect(64).asReadOnlyBuffer())),
                throwing("gpu/host-memory-null-buffer", NullPointerException.class, "buffer",
                        f -> HostMemory.of((ByteBuffer) null)),
                throwing("gpu/host-memory-closed-block", PoolClosedException.class, "", f -> {
                    MemoryBlock block = f.fixed().allocate();
                    block.close();
                    HostMemory.of(block);
                }));
    }

    private static DeviceManager gpu(Fixture f) {
        return f.keep(DeviceManager.simulated(1, 1 << 20));
    }
}
