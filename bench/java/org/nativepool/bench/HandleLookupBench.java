package org.nativepool.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import org.nativepool.FixedPool;
import org.nativepool.internal.PoolNative;

/**
 * What the handle table costs a raw pair: allocate + free of 64 bytes through
 * the public API with no thread cache (two JNI crossings, each looking its pool
 * handle up), the same pair through a {@code MemoryBlock} (allocate + close: the
 * handle object and its block state on top), and the same two natives called
 * directly (the glue alone). Run
 * as a single-file program against two packaged JARs, alternating, to compare
 * builds side by side on a loaded machine:
 *
 * <pre>java -cp target/nativepool-VERSION.jar bench/java/org/nativepool/bench/HandleLookupBench.java</pre>
 *
 * Prints the median of seven rounds of ns per pair for each, in this thread's
 * CPU time rather than wall time: on a machine other jobs load, time spent
 * descheduled would otherwise swamp a difference of a few nanoseconds.
 */
public final class HandleLookupBench {
    private static final int PAIRS = 5_000_000;
    private static final int ROUNDS = 7;
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

    private HandleLookupBench() {
    }

    public static void main(String[] args) {
        try (FixedPool pool = FixedPool.builder(64).threadCache(0).build()) {
            System.out.printf("api pair (threadCache 0): %.1f ns%n", median(() -> {
                for (int i = 0; i < PAIRS; i++) {
                    pool.free(pool.allocateAddress());
                }
            }));
            System.out.printf("handle pair (threadCache 0): %.1f ns%n", median(() -> {
                for (int i = 0; i < PAIRS; i++) {
                    pool.allocate().close();
                }
            }));
        }
        long handle = PoolNative.createFixed(64, 16, 0, 0, 0, 0, 0, 0, 0, 0, null, null);
        try {
            System.out.printf("native pair: %.1f ns%n", median(() -> {
                for (int i = 0; i < PAIRS; i++) {
                    PoolNative.free(handle, PoolNative.allocate(handle, 64, 16));
                }
            }));
        } finally {
            PoolNative.destroy(handle);
        }
    }

    private static double median(Runnable pairs) {
        pairs.run(); // warm-up
        double[] nanos = new double[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            long start = CPU.getCurrentThreadCpuTime();
            pairs.run();
            nanos[r] = (CPU.getCurrentThreadCpuTime() - start) / (double) PAIRS;
        }
        Arrays.sort(nanos);
        return nanos[ROUNDS / 2];
    }
}
