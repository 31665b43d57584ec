package org.nativepool.bench;

import java.util.concurrent.TimeUnit;
import org.nativepool.FixedPool;
import org.nativepool.LeakDetection;
import org.nativepool.LeakPolicy;
import org.nativepool.MemoryBlock;
import org.nativepool.SafetyLevel;
import org.nativepool.ThreadSafety;
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
 * What the safety features cost a Java caller: a handle allocation + close of
 * 64 bytes for each native safety level and each Java leak-detection level,
 * in one run (docs/debugging.md quotes these).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SafetyCostBenchmark {
    @Param({"OFF", "CANARIES", "FULL"})
    SafetyLevel safetyLevel;

    @Param({"OFF", "SAMPLED", "ALL"})
    LeakDetection leakDetection;

    FixedPool pool;

    @Setup(Level.Trial)
    public void open() {
        pool = FixedPool.builder(64)
                .threadSafety(ThreadSafety.LOCK_FREE)
                .safetyLevel(safetyLevel)
                .leakDetection(leakDetection)
                .leakPolicy(LeakPolicy.THROW)
                .build();
    }

    @TearDown(Level.Trial)
    public void close() {
        pool.close();
    }

    @Benchmark
    public long handle() {
        try (MemoryBlock block = pool.allocate()) {
            return block.address();
        }
    }
}
