package org.nativepool.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.function.LongSupplier;
import java.util.function.LongUnaryOperator;
import org.nativepool.BlockCache;
import org.nativepool.FixedPool;
import org.nativepool.LeakPolicy;
import org.nativepool.ThreadSafety;
import org.nativepool.VariablePool;

/**
 * Allocation + free pairs timed in each thread's CPU time, for a machine too
 * loaded for JMH's wall-clock scores: time a thread spends waiting for a CPU
 * is not counted, so the figures hold up while other jobs run (cache and
 * hypervisor effects remain). Every round runs every allocator, in turn, on
 * {@code threads} threads that share one pool; the report gives, per
 * allocator, the best and the median round's CPU nanoseconds per pair and
 * per thread. Each pair is a call through an interface, the same for every
 * allocator.
 *
 * <p>{@code java -cp benchmarks.jar org.nativepool.bench.CpuTimePairs SIZE THREADS ROUNDS PAIRS}
 *
 * <p>With {@code mixed} for SIZE, the pairs take {@link MixedSizeBenchmark}'s
 * sizes (log-uniform 16 B - 64 KiB, each thread from its own point of the
 * sequence), from Unsafe and from a shared MUTEX {@code VariablePool} through
 * its thread caches ({@code nativepoolRaw}) and without them
 * ({@code nativepoolRawUncached}). CPU time leaves out a thread that sleeps
 * on a contended lock, so at 2 threads these figures understate contention,
 * which the wall-clock benchmark measures.
 */
public final class CpuTimePairs {
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

    private CpuTimePairs() {
    }

    /** One allocator as each thread sees it: a pair, built per thread (so a thread can own a cache). */
    private interface PerThread {
        LongSupplier pair();
    }

    /** A pair through an explicit cache of the thread, closed when the thread is done. */
    private record CachePair(BlockCache cache) implements LongSupplier, AutoCloseable {
        @Override
        public long getAsLong() {
            long address = cache.allocate();
            cache.free(address);
            return address;
        }

        @Override
        public void close() {
            cache.close();
        }
    }

    public static void main(String[] args) throws Exception {
        int threads = Integer.parseInt(args[1]);
        int rounds = Integer.parseInt(args[2]);
        int pairs = Integer.parseInt(args[3]);
        if (args[0].equals("mixed")) {
            try (VariablePool pool = VariablePool.builder().threadSafety(ThreadSafety.MUTEX)
                    .leakPolicy(LeakPolicy.THROW).build();
                 VariablePool uncached = VariablePool.builder().threadSafety(ThreadSafety.MUTEX)
                         .leakPolicy(LeakPolicy.THROW).threadCache(0).build()) {
                Map<String, PerThread> all = new LinkedHashMap<>();
                all.put("unsafe", () -> mixed(Allocators::unsafe));
                all.put("nativepoolRaw", () -> mixed(size -> Allocators.nativepool(pool, size)));
                all.put("nativepoolRawUncached", () -> mixed(size -> Allocators.nativepool(uncached, size)));
                report("mixed sizes", all, threads, rounds, pairs);
                pool.flushThreadCache();
            }
            return;
        }
        int size = Integer.parseInt(args[0]);
        try (FixedPool pool = FixedPool.builder(size).threadSafety(ThreadSafety.LOCK_FREE)
                .leakPolicy(LeakPolicy.THROW).build();
             Allocators allocators = new Allocators()) {
            Map<String, PerThread> all = new LinkedHashMap<>();
            all.put("floor", () -> () -> Allocators.floor(size));
            all.put("unsafe", () -> () -> Allocators.unsafe(size));
            all.put("netty", () -> () -> allocators.netty(size));
            all.put("arrow", () -> () -> allocators.arrow(size));
            all.put("nativepoolRaw", () -> () -> Allocators.nativepool(pool));
            all.put("nativepoolCache", () -> new CachePair(pool.newCache(64)));
            report("size " + size, all, threads, rounds, pairs);
            pool.flushThreadCache();
        }
    }

    /** A pair of the calling thread over the mixed sizes, as MixedSizeBenchmark's thread walks them. */
    private static LongSupplier mixed(LongUnaryOperator pair) {
        MixedSizeBenchmark.Sizes sizes = new MixedSizeBenchmark.Sizes();
        return () -> pair.applyAsLong(sizes.next());
    }

    /** Runs every allocator, warm-up rounds first, and prints each one's best and median round. */
    private static void report(String what, Map<String, PerThread> all, int threads, int rounds, int pairs)
            throws Exception {
        Map<String, double[]> perRound = new LinkedHashMap<>();
        all.keySet().forEach(name -> perRound.put(name, new double[rounds]));
        for (int warm = 0; warm < 3; warm++) {
            for (PerThread allocator : all.values()) {
                run(allocator, threads, pairs);
            }
        }
        for (int round = 0; round < rounds; round++) {
            for (Map.Entry<String, PerThread> e : all.entrySet()) {
                perRound.get(e.getKey())[round] = run(e.getValue(), threads, pairs);
            }
        }
        System.out.printf("%s, %d thread(s), %d rounds of %d pairs per thread; CPU ns per pair per thread%n",
                what, threads, rounds, pairs);
        System.out.printf("%-22s %8s %8s%n", "allocator", "best", "median");
        for (Map.Entry<String, double[]> e : perRound.entrySet()) {
            double[] sorted = e.getValue().clone();
            Arrays.sort(sorted);
            System.out.printf("%-22s %8.1f %8.1f%n", e.getKey(), sorted[0], sorted[sorted.length / 2]);
        }
    }

    /** {@return the mean over the threads of their CPU ns per pair} */
    private static double run(PerThread allocator, int threads, int pairs) throws Exception {
        CyclicBarrier start = new CyclicBarrier(threads);
        double[] nsPerPair = new double[threads];
        List<Thread> running = new ArrayList<>();
        Throwable[] failure = new Throwable[1];
        for (int t = 0; t < threads; t++) {
            int index = t;
            Thread thread = new Thread(() -> {
                try {
                    LongSupplier pair = allocator.pair();
                    start.await();
                    long sink = 0;
                    long before = CPU.getCurrentThreadCpuTime();
                    for (int i = 0; i < pairs; i++) {
                        sink += pair.getAsLong();
                    }
                    nsPerPair[index] = (double) (CPU.getCurrentThreadCpuTime() - before) / pairs + (sink & 0) * 1e-9;
                    if (pair instanceof AutoCloseable owned) {
                        owned.close();
                    }
                } catch (Throwable e) {
                    failure[0] = e;
                }
            });
            running.add(thread);
            thread.start();
        }
        for (Thread thread : running) {
            thread.join();
        }
        if (failure[0] != null) {
            throw new IllegalStateException(failure[0]);
        }
        return Arrays.stream(nsPerPair).average().orElseThrow();
    }
}
