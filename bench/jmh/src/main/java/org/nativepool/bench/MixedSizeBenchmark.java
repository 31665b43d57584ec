package org.nativepool.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.nativepool.LeakPolicy;
import org.nativepool.MemoryBlock;
import org.nativepool.ThreadSafety;
import org.nativepool.VariablePool;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One allocation + free per operation, of sizes log-uniform in 16 B - 64 KiB
 * (a fixed, seeded sequence), against a shared MUTEX variable pool: through
 * its thread caches, which serve the sizes up to 3 KiB (63 % of them), and on a
 * pool built with {@code threadCache(0)} ({@code ...Uncached}). The
 * {@code ...Small} variants draw log-uniform sizes in 16 B - 1 KiB, all of
 * which the caches serve.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-opens=java.base/java.nio=ALL-UNNAMED"})
public class MixedSizeBenchmark {
    static final int[] SIZES = new SplittableRandom(42).doubles(4096, 4.0, 16.0)
            .mapToInt(exponent -> (int) Math.pow(2.0, exponent)).toArray();
    static final int[] SMALL_SIZES = new SplittableRandom(43).doubles(4096, 4.0, 10.0)
            .mapToInt(exponent -> (int) Math.pow(2.0, exponent)).toArray();

    VariablePool pool;
    VariablePool uncached;
    Allocators allocators;

    @Setup(Level.Trial)
    public void open() {
        pool = VariablePool.builder().threadSafety(ThreadSafety.MUTEX).leakPolicy(LeakPolicy.THROW).build();
        uncached = VariablePool.builder().threadSafety(ThreadSafety.MUTEX).leakPolicy(LeakPolicy.THROW).threadCache(0)
                .build();
        allocators = new Allocators();
    }

    @TearDown(Level.Trial)
    public void close() {
        pool.close();
        uncached.close();
        allocators.close();
    }

    /** Each thread walks the size sequence from its own point. */
    @State(Scope.Thread)
    public static class Sizes {
        int next = (int) (Thread.currentThread().getId() * 977);

        int next() {
            return SIZES[next++ & (SIZES.length - 1)];
        }

        int nextSmall() {
            return SMALL_SIZES[next++ & (SMALL_SIZES.length - 1)];
        }
    }

    @Benchmark
    public long floor(Sizes sizes) {
        return Allocators.floor(sizes.next());
    }

    @Benchmark
    public long unsafe(Sizes sizes) {
        return Allocators.unsafe(sizes.next());
    }

    @Benchmark
    public int allocateDirect(Sizes sizes) {
        return Allocators.allocateDirect(sizes.next());
    }

    @Benchmark
    public int netty(Sizes sizes) {
        return allocators.netty(sizes.next());
    }

    @Benchmark
    public long arrow(Sizes sizes) {
        return allocators.arrow(sizes.next());
    }

    @Benchmark
    public long nativepoolHandle(Sizes sizes) {
        try (MemoryBlock block = pool.allocate(sizes.next())) {
            return block.size();
        }
    }

    @Benchmark
    public long nativepoolRaw(Sizes sizes) {
        return Allocators.nativepool(pool, sizes.next());
    }

    @Benchmark
    public long nativepoolRawUncached(Sizes sizes) {
        return Allocators.nativepool(uncached, sizes.next());
    }

    @Benchmark
    public long nativepoolRawSmall(Sizes sizes) {
        return Allocators.nativepool(pool, sizes.nextSmall());
    }

    @Benchmark
    public long nativepoolRawSmallUncached(Sizes sizes) {
        return Allocators.nativepool(uncached, sizes.nextSmall());
    }
}
