package org.nativepool.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import org.nativepool.FixedPool;
import org.nativepool.LeakPolicy;
import org.nativepool.ThreadSafety;

/**
 * Producer/consumer timed in each thread's CPU time, for a machine too loaded
 * for {@code ProducerConsumerBenchmark}'s wall-clock scores, which then
 * measure the two threads waiting for each other's time slice: one thread
 * allocates blocks into arrays of {@value #BATCH} addresses and hands each
 * full array to a second thread, which frees every block in it, so every free
 * is of a block the other thread allocated, with up to {@code inFlight}
 * blocks on their way. Only the allocation and free loops are timed (the
 * thread's CPU time around each array's loop); a thread that waits for an
 * array blocks in a queue, spending no CPU. Every round runs every allocator
 * in turn; the report gives, per allocator, the best and the median round's
 * CPU nanoseconds per block for the allocation, the free and both.
 *
 * <p>{@code java -cp benchmarks.jar org.nativepool.bench.CpuTimeHandoff SIZE IN_FLIGHT ROUNDS BLOCKS}
 */
public final class CpuTimeHandoff {
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();
    /** Addresses per handed-over array: enough that timing and queueing cost well under 1 ns per block. */
    private static final int BATCH = 1024;

    private CpuTimeHandoff() {
    }

    /** One allocator's two halves. */
    private interface Allocator {
        long allocate();

        void free(long address);
    }

    /** A pool's shared API: through the thread caches unless the pool was built without them. */
    private record Pool(FixedPool pool) implements Allocator {
        @Override
        public long allocate() {
            return pool.allocateAddress();
        }

        @Override
        public void free(long address) {
            pool.free(address);
        }
    }

    public static void main(String[] args) throws Exception {
        int size = Integer.parseInt(args[0]);
        int inFlight = Integer.parseInt(args[1]);
        int rounds = Integer.parseInt(args[2]);
        int blocks = Integer.parseInt(args[3]);
        try (FixedPool cached = FixedPool.builder(size).threadSafety(ThreadSafety.LOCK_FREE)
                .leakPolicy(LeakPolicy.THROW).build();
             FixedPool uncached = FixedPool.builder(size).threadSafety(ThreadSafety.LOCK_FREE)
                     .leakPolicy(LeakPolicy.THROW).threadCache(0).build()) {
            Map<String, Allocator> all = new LinkedHashMap<>();
            all.put("unsafe", new Allocator() {
                @Override
                public long allocate() {
                    return Allocators.UNSAFE.allocateMemory(size);
                }

                @Override
                public void free(long address) {
                    Allocators.UNSAFE.freeMemory(address);
                }
            });
            all.put("nativepool", new Pool(cached));
            all.put("nativepoolUncached", new Pool(uncached));
            Map<String, double[][]> perRound = new LinkedHashMap<>();
            all.keySet().forEach(name -> perRound.put(name, new double[2][rounds]));
            for (int warm = 0; warm < 3; warm++) {
                for (Allocator allocator : all.values()) {
                    run(allocator, inFlight, blocks);
                }
            }
            for (int round = 0; round < rounds; round++) {
                for (Map.Entry<String, Allocator> e : all.entrySet()) {
                    double[] ns = run(e.getValue(), inFlight, blocks);
                    perRound.get(e.getKey())[0][round] = ns[0];
                    perRound.get(e.getKey())[1][round] = ns[1];
                }
            }
            System.out.printf("size %d, %d block(s) in flight, %d rounds of %d blocks; CPU ns per block%n", size,
                    inFlight, rounds, blocks);
            System.out.printf("%-20s %8s %8s %8s %8s %8s %8s%n", "allocator", "alloc", "(median)", "free",
                    "(median)", "both", "(median)");
            for (Map.Entry<String, double[][]> e : perRound.entrySet()) {
                double[] allocate = e.getValue()[0];
                double[] free = e.getValue()[1];
                double[] both = new double[rounds];
                Arrays.setAll(both, i -> allocate[i] + free[i]);
                System.out.printf("%-20s %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f%n", e.getKey(), best(allocate),
                        median(allocate), best(free), median(free), best(both), median(both));
            }
            cached.flushThreadCache();
        }
    }

    private static double best(double[] values) {
        return Arrays.stream(values).min().orElseThrow();
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    /**
     * {@return the producer's and the consumer's CPU ns per block} {@code blocks}
     * goes through in arrays of {@link #BATCH}; {@code inFlight / BATCH} arrays
     * (at least one) circulate between the two threads.
     */
    private static double[] run(Allocator allocator, int inFlight, int blocks) throws Exception {
        int arrays = Math.max(1, inFlight / BATCH);
        int batches = blocks / BATCH;
        BlockingQueue<long[]> empty = new ArrayBlockingQueue<>(arrays);
        BlockingQueue<long[]> full = new ArrayBlockingQueue<>(arrays);
        for (int i = 0; i < arrays; i++) {
            empty.add(new long[Math.min(BATCH, inFlight)]);
        }
        long[] cpu = new long[2];
        Throwable[] failure = new Throwable[2];
        Thread producer = new Thread(() -> {
            try {
                for (int b = 0; b < batches; b++) {
                    long[] addresses = empty.take();
                    long before = CPU.getCurrentThreadCpuTime();
                    for (int i = 0; i < addresses.length; i++) {
                        addresses[i] = allocator.allocate();
                    }
                    cpu[0] += CPU.getCurrentThreadCpuTime() - before;
                    full.put(addresses);
                }
            } catch (Throwable e) {
                failure[0] = e;
            }
        });
        Thread consumer = new Thread(() -> {
            try {
                for (int b = 0; b < batches; b++) {
                    long[] addresses = full.take();
                    long before = CPU.getCurrentThreadCpuTime();
                    for (long address : addresses) {
                        allocator.free(address);
                    }
                    cpu[1] += CPU.getCurrentThreadCpuTime() - before;
                    empty.put(addresses);
                }
            } catch (Throwable e) {
                failure[1] = e;
            }
        });
        producer.start();
        consumer.start();
        producer.join();
        consumer.join();
        for (Throwable e : failure) {
            if (e != null) {
                throw new IllegalStateException(e);
            }
        }
        long handed = (long) batches * Math.min(BATCH, inFlight);
        return new double[] {(double) cpu[0] / handed, (double) cpu[1] / handed};
    }
}
