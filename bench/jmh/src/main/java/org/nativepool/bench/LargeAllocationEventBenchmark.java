package org.nativepool.bench;

import java.io.IOException;
import java.text.ParseException;
import java.util.concurrent.TimeUnit;
import jdk.jfr.Configuration;
import jdk.jfr.Recording;
import org.nativepool.LeakPolicy;
import org.nativepool.VariablePool;
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
 * What the allocation-size threshold event ({@code VariablePool.Builder.largeAllocationEvent})
 * costs: an {@code allocateAddress} + {@code free} pair of 64 B (served by the thread cache) and of
 * 4 KiB (a native call), on a VariablePool without the event ({@code threshold=off}) and on one
 * that reports every allocation of 4 KiB and more ({@code threshold=4096}: the 4 KiB pair is
 * watched, the 64 B pair pays the compare only), each with no recording, with a recording (the
 * JDK's {@code default} configuration) that disables the event, and with one that enables it.
 * Each state runs in its own fork, as in {@link JfrCostBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class LargeAllocationEventBenchmark {
    @Param({"none", "disabled", "enabled"})
    String recording;

    @Param({"off", "4096"})
    String threshold;

    Recording jfr;
    VariablePool pool;

    @Setup(Level.Trial)
    public void open() throws IOException, ParseException {
        if (!recording.equals("none")) {
            jfr = new Recording(Configuration.getConfiguration("default"));
            if (recording.equals("enabled")) {
                jfr.enable("org.nativepool.LargeAllocation");
            } else {
                jfr.disable("org.nativepool.LargeAllocation");
            }
            jfr.start();
        }
        VariablePool.Builder builder = VariablePool.builder().arenaSize(1 << 20).leakPolicy(LeakPolicy.THROW);
        if (!threshold.equals("off")) {
            builder.largeAllocationEvent(Long.parseLong(threshold));
        }
        pool = builder.build();
    }

    @TearDown(Level.Trial)
    public void close() {
        pool.close();
        if (jfr != null) {
            jfr.close();
        }
    }

    @Benchmark
    public long small() {
        long address = pool.allocateAddress(64);
        pool.free(address);
        return address;
    }

    @Benchmark
    public long large() {
        long address = pool.allocateAddress(4096);
        pool.free(address);
        return address;
    }
}
