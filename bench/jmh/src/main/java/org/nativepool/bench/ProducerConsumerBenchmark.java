package org.nativepool.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.nativepool.FixedPool;
import org.nativepool.LeakPolicy;
import org.nativepool.ThreadSafety;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
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
import org.openjdk.jmh.infra.Control;

/**
 * A pipeline: one thread allocates blocks and hands them through a ring
 * of {@code ring} slots to a second thread, which frees them, so every free
 * is of a block another thread allocated; up to {@code ring} blocks are in
 * flight. One JMH group per allocator; the
 * producer's time per operation is the time per block (the consumer's
 * matches it in steady state). nativepool: the shared API of one LOCK_FREE
 * FixedPool through its transparent thread caches, and the same with
 * {@code threadCache(0)}.
 */
@State(Scope.Group)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-opens=java.base/java.nio=ALL-UNNAMED"})
public class ProducerConsumerBenchmark {
    @Param({"64"})
    int size;

    @Param({"1024", "65536"})
    int ring;

    private Handoff handoff;
    private FixedPool pool;
    private FixedPool uncached;
    private final PooledByteBufAllocator netty = PooledByteBufAllocator.DEFAULT;
    private BufferAllocator arrow;

    @Setup(Level.Trial)
    public void open() {
        handoff = new Handoff(ring);
        pool = FixedPool.builder(size).threadSafety(ThreadSafety.LOCK_FREE).leakPolicy(LeakPolicy.THROW).build();
        uncached = FixedPool.builder(size).threadSafety(ThreadSafety.LOCK_FREE).leakPolicy(LeakPolicy.THROW)
                .threadCache(0).build();
        arrow = new RootAllocator();
    }

    /** Frees what the ring still holds when an iteration ends; each group fills it from one allocator. */
    @TearDown(Level.Iteration)
    public void drain() {
        while (!handoff.isEmpty()) {
            free(handoff.next());
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        pool.flushThreadCache();
        pool.close();
        uncached.close();
        arrow.close();
    }

    private void free(int slot) {
        Object owner = handoff.owner(slot);
        long address = handoff.address(slot);
        handoff.done();
        free(address, owner);
    }

    private void free(long address, Object owner) {
        if (owner instanceof ByteBuf buffer) {
            buffer.release();
        } else if (owner instanceof ArrowBuf buffer) {
            buffer.close();
        } else if (owner == pool) {
            pool.free(address);
        } else if (owner == uncached) {
            uncached.free(address);
        } else {
            Allocators.UNSAFE.freeMemory(address);
        }
    }

    private void consume(Control control) {
        int slot = handoff.take(control);
        if (slot >= 0) {
            free(slot);
        }
    }

    private void produce(long address, Object owner, Control control) {
        if (!handoff.put(address, owner, control)) {
            free(address, owner); // the iteration ended with the ring full
        }
    }

    @Benchmark
    @Group("unsafe")
    @GroupThreads(1)
    public void unsafeProduce(Control control) {
        produce(Allocators.UNSAFE.allocateMemory(size), null, control);
    }

    @Benchmark
    @Group("unsafe")
    @GroupThreads(1)
    public void unsafeConsume(Control control) {
        consume(control);
    }

    @Benchmark
    @Group("nativepool")
    @GroupThreads(1)
    public void nativepoolProduce(Control control) {
        produce(pool.allocateAddress(), pool, control);
    }

    @Benchmark
    @Group("nativepool")
    @GroupThreads(1)
    public void nativepoolConsume(Control control) {
        consume(control);
    }

    @Benchmark
    @Group("nativepoolUncached")
    @GroupThreads(1)
    public void nativepoolUncachedProduce(Control control) {
        produce(uncached.allocateAddress(), uncached, control);
    }

    @Benchmark
    @Group("nativepoolUncached")
    @GroupThreads(1)
    public void nativepoolUncachedConsume(Control control) {
        consume(control);
    }

    @Benchmark
    @Group("netty")
    @GroupThreads(1)
    public void nettyProduce(Control control) {
        ByteBuf buffer = netty.directBuffer(size);
        produce(buffer.memoryAddress(), buffer, control);
    }

    @Benchmark
    @Group("netty")
    @GroupThreads(1)
    public void nettyConsume(Control control) {
        consume(control);
    }

    @Benchmark
    @Group("arrow")
    @GroupThreads(1)
    public void arrowProduce(Control control) {
        ArrowBuf buffer = arrow.buffer(size);
        produce(buffer.memoryAddress(), buffer, control);
    }

    @Benchmark
    @Group("arrow")
    @GroupThreads(1)
    public void arrowConsume(Control control) {
        consume(control);
    }
}
