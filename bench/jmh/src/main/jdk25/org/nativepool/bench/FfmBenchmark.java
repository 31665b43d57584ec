package org.nativepool.bench;

import java.lang.foreign.Arena;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * JDK 25 only (profile jdk25): an allocation + free with the FFM API, one
 * confined arena per block, with the settings of {@link FixedSizeBenchmark}
 * and {@link MixedSizeBenchmark}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class FfmBenchmark {
    /** The fixed sizes, a state of their own so that the mixed run is not repeated per size. */
    @State(Scope.Benchmark)
    public static class Size {
        @Param({"64", "1024", "65536"})
        int size;
    }

    @Benchmark
    public long arenaOfConfined(Size size) {
        try (Arena arena = Arena.ofConfined()) {
            return arena.allocate(size.size, 16).address();
        }
    }

    @Benchmark
    public long arenaOfConfinedMixed(MixedSizeBenchmark.Sizes sizes) {
        try (Arena arena = Arena.ofConfined()) {
            return arena.allocate(sizes.next(), 16).address();
        }
    }
}
