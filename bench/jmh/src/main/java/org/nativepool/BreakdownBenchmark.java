package org.nativepool;

import java.util.concurrent.TimeUnit;
import org.nativepool.bench.Floor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Where a raw allocation + free pair's time goes: the two JNI crossings
 * (floor), plus the pool's in-flight guard around each (guardedFloor), plus
 * the native pool in each thread-safety mode (raw). In package
 * org.nativepool to reach the real guard, which is package-private.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class BreakdownBenchmark {
    /** Only the guard of this pool is used. */
    FixedPool pool;

    @Setup(Level.Trial)
    public void open() {
        pool = FixedPool.builder(64).build();
    }

    @TearDown(Level.Trial)
    public void close() {
        pool.close();
    }

    /** A pool per mode, a state of its own so that floor and guardedFloor run once. */
    @State(Scope.Benchmark)
    public static class Modes {
        @Param({"NONE", "MUTEX", "LOCK_FREE"})
        ThreadSafety threadSafety;

        FixedPool pool;

        @Setup(Level.Trial)
        public void open() {
            pool = FixedPool.builder(64).threadSafety(threadSafety).leakPolicy(LeakPolicy.THROW).build();
        }

        @TearDown(Level.Trial)
        public void close() {
            pool.close();
        }
    }

    @Benchmark
    public long floor() {
        long address = Floor.allocate(1L, 64L, 0L);
        Floor.free(1L, address);
        return address;
    }

    @Benchmark
    public long guardedFloor() {
        long handle = pool.acquire();
        long address;
        try {
            address = Floor.allocate(handle, 64L, 0L);
        } finally {
            pool.release();
        }
        handle = pool.acquire();
        try {
            Floor.free(handle, address);
        } finally {
            pool.release();
        }
        return address;
    }

    @Benchmark
    public long raw(Modes modes) {
        long address = modes.pool.allocateAddress();
        modes.pool.free(address);
        return address;
    }
}
