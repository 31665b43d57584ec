package org.nativepool.bench;

import java.util.concurrent.TimeUnit;
import org.nativepool.BlockCache;
import org.nativepool.FixedPool;
import org.nativepool.LeakPolicy;
import org.nativepool.MemoryBlock;
import org.nativepool.ThreadSafety;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One allocation + free of a fixed size, per operation, with every allocator
 * in the same run. Run with {@code -t 1} and {@code -t 2}: the threads share
 * one LOCK_FREE pool, whose shared API goes through each thread's transparent
 * cache (and each thread also has its own explicit {@link BlockCache}), and
 * one LOCK_FREE pool built with {@code threadCache(0)}, whose every call meets
 * the shared pool.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-opens=java.base/java.nio=ALL-UNNAMED"})
public class FixedSizeBenchmark {
    static final int BATCH = 16;

    @Param({"64", "1024", "65536"})
    int size;

    FixedPool pool;
    FixedPool uncached;
    Allocators allocators;

    @Setup(Level.Trial)
    public void open() {
        pool = FixedPool.builder(size).threadSafety(ThreadSafety.LOCK_FREE).leakPolicy(LeakPolicy.THROW).build();
        uncached = FixedPool.builder(size).threadSafety(ThreadSafety.LOCK_FREE).leakPolicy(LeakPolicy.THROW)
                .threadCache(0).build();
        allocators = new Allocators();
    }

    @TearDown(Level.Trial)
    public void close() {
        pool.close();
        uncached.close();
        allocators.close();
    }

    /** What each thread owns: its cache and a batch array. */
    @State(Scope.Thread)
    public static class PerThread {
        BlockCache cache;
        final long[] batch = new long[BATCH];

        @Setup(Level.Trial)
        public void open(FixedSizeBenchmark benchmark) {
            cache = benchmark.pool.newCache(64);
        }

        @TearDown(Level.Trial)
        public void close() {
            cache.close();
        }
    }

    @Benchmark
    public long floor() {
        return Allocators.floor(size);
    }

    @Benchmark
    public long unsafe() {
        return Allocators.unsafe(size);
    }

    @Benchmark
    public int allocateDirect() {
        return Allocators.allocateDirect(size);
    }

    @Benchmark
    public int netty() {
        return allocators.netty(size);
    }

    @Benchmark
    public long arrow() {
        return allocators.arrow(size);
    }

    @Benchmark
    public long nativepoolHandle() {
        try (MemoryBlock block = pool.allocate()) {
            return block.size();
        }
    }

    @Benchmark
    public long nativepoolRaw() {
        return Allocators.nativepool(pool);
    }

    /** The shared API without thread caches: two native calls on the shared pool. */
    @Benchmark
    public long nativepoolRawUncached() {
        return Allocators.nativepool(uncached);
    }

    /** Per block: one native call allocates 16, one frees them. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long nativepoolBatch(PerThread thread) {
        pool.allocate(BATCH, thread.batch);
        pool.free(thread.batch, BATCH);
        return thread.batch[0];
    }

    @Benchmark
    public long nativepoolCache(PerThread thread) {
        long address = thread.cache.allocate();
        thread.cache.free(address);
        return address;
    }
}
