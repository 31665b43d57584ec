package org.nativepool.bench;

import java.util.concurrent.TimeUnit;
import java.util.function.LongUnaryOperator;
import org.nativepool.FixedPool;
import org.nativepool.LeakPolicy;
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
 * Short-lived threads: each operation starts a thread that makes
 * {@value #PAIRS} allocation + free pairs and ends, as a task on a resizable
 * executor would; reported per pair, so the thread's start and end are
 * spread over its pairs. nativepool's shared pool creates a cache for each
 * new thread and takes back the caches of ended ones; the pool's reserved
 * bytes at the end of the trial are printed, to show it did not grow with
 * the number of threads.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-opens=java.base/java.nio=ALL-UNNAMED"})
public class ThreadChurnBenchmark {
    static final int PAIRS = 4096;

    @Param({"64"})
    int size;

    FixedPool pool;
    Allocators allocators;

    @Setup(Level.Trial)
    public void open() {
        pool = FixedPool.builder(size).threadSafety(ThreadSafety.LOCK_FREE).leakPolicy(LeakPolicy.THROW).build();
        allocators = new Allocators();
    }

    @TearDown(Level.Trial)
    public void close() {
        System.out.println("nativepool reserved bytes after the trial: " + pool.stats().bytesReserved());
        pool.close();
        allocators.close();
    }

    /** Runs {@link #PAIRS} pairs of {@code pair} on a new thread and waits for it to end. */
    private static long onNewThread(LongUnaryOperator pair) throws InterruptedException {
        long[] sum = new long[1];
        Thread thread = new Thread(() -> {
            for (int i = 0; i < PAIRS; i++) {
                sum[0] += pair.applyAsLong(i);
            }
        });
        thread.start();
        thread.join();
        return sum[0];
    }

    @Benchmark
    @OperationsPerInvocation(PAIRS)
    public long threadOnly() throws InterruptedException {
        return onNewThread(i -> i);
    }

    @Benchmark
    @OperationsPerInvocation(PAIRS)
    public long unsafe() throws InterruptedException {
        return onNewThread(i -> Allocators.unsafe(size));
    }

    @Benchmark
    @OperationsPerInvocation(PAIRS)
    public long netty() throws InterruptedException {
        return onNewThread(i -> allocators.netty(size));
    }

    @Benchmark
    @OperationsPerInvocation(PAIRS)
    public long arrow() throws InterruptedException {
        return onNewThread(i -> allocators.arrow(size));
    }

    @Benchmark
    @OperationsPerInvocation(PAIRS)
    public long nativepoolRaw() throws InterruptedException {
        return onNewThread(i -> Allocators.nativepool(pool));
    }
}
