package org.nativepool.bench;

import java.io.IOException;
import java.text.ParseException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import jdk.jfr.Configuration;
import jdk.jfr.Recording;
import org.nativepool.FixedPool;
import org.nativepool.LeakPolicy;
import org.nativepool.MemoryBlock;
import org.nativepool.OutOfPoolMemoryException;
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
 * What nativepool's Flight Recorder events cost (issue 14 asks for none on the
 * fast path): an allocate + free pair and a refused allocation, each with no
 * recording, with a recording whose nativepool events are disabled, and with
 * one that enables them all. Each state runs in its own fork, so "none" is a
 * JVM in which the recorder never started. Both recordings use the JDK's
 * "default" configuration, as an operator's would, and differ only in
 * nativepool's events.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class JfrCostBenchmark {
    /** Every event PoolEvents defines; Recording.enable takes exact names, not patterns. */
    static final List<String> EVENTS = List.of("Trim", "CacheFlush", "OutOfMemory", "CorruptionDetected",
            "LeakReported", "PoolStatistics", "RegionMapped", "RegionUnmapped", "PersistentRecovery");

    /** Blocks of the pool kept full for the refused allocation. */
    static final int FULL_BLOCKS = 16;

    @Param({"none", "disabled", "enabled"})
    String recording;

    Recording jfr;
    FixedPool pool;
    FixedPool full;
    final long[] held = new long[FULL_BLOCKS];

    @Setup(Level.Trial)
    public void open() throws IOException, ParseException {
        if (!recording.equals("none")) {
            jfr = new Recording(Configuration.getConfiguration("default"));
            for (String event : EVENTS) {
                if (recording.equals("enabled")) {
                    jfr.enable("org.nativepool." + event);
                } else {
                    jfr.disable("org.nativepool." + event);
                }
            }
            jfr.start();
        }
        pool = FixedPool.builder(64).threadSafety(ThreadSafety.LOCK_FREE).leakPolicy(LeakPolicy.THROW).build();
        // No thread cache, so every block is in the holder's hands and the next allocation is refused.
        full = FixedPool.builder(64).threadSafety(ThreadSafety.LOCK_FREE).leakPolicy(LeakPolicy.THROW)
                .threadCache(0).maxBlocks(FULL_BLOCKS).build();
        full.allocate(FULL_BLOCKS, held);
    }

    @TearDown(Level.Trial)
    public void close() {
        full.free(held);
        full.close();
        pool.close();
        if (jfr != null) {
            jfr.close();
        }
    }

    @Benchmark
    public long raw() {
        return Allocators.nativepool(pool);
    }

    @Benchmark
    public long handle() {
        try (MemoryBlock block = pool.allocate()) {
            return block.address();
        }
    }

    /** The slow path that emits: OutOfMemory, when a recording enables it. */
    @Benchmark
    public long outOfMemory() {
        try {
            return full.allocateAddress();
        } catch (OutOfPoolMemoryException refused) {
            return refused.requestedBytes();
        }
    }
}
