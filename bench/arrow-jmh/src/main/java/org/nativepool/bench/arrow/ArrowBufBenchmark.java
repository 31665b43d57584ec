package org.nativepool.bench.arrow;

import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.ArrowBuf;
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
 * One {@code ArrowBuf} allocate + release pair per operation, through a root
 * allocator on each manager, every manager in the same run. Run with
 * {@code -t 1} and {@code -t 2}: the threads share the allocator, as the
 * operators of one query do. {@code floor} is Arrow's bookkeeping alone.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-opens=java.base/java.nio=ALL-UNNAMED"})
public class ArrowBufBenchmark {
    @Param({"floor", "netty", "unsafe", "nativepool", "nativepool-notrim", "nativepool-trim50ms"})
    String manager;

    @Param({"64", "4096", "1048576"})
    long size;

    Managers managers;

    @Setup(Level.Trial)
    public void open() {
        managers = new Managers(manager);
    }

    @TearDown(Level.Trial)
    public void close() {
        managers.close();
    }

    @Benchmark
    public long pair() {
        ArrowBuf buffer = managers.root.buffer(size);
        long address = buffer.memoryAddress();
        buffer.close();
        return address;
    }
}
