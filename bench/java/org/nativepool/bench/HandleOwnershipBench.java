package org.nativepool.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.function.LongSupplier;
import org.nativepool.FixedPool;
import org.nativepool.MemoryBlock;
import org.nativepool.Pool;
import org.nativepool.VariablePool;

/**
 * What marking a handle's block as the handle's costs: a raw pair
 * ({@code allocateAddress} + {@code free}) and a handle pair ({@code allocate}
 * + {@code close}) on fixed and variable pools, with thread caches and
 * without, and a variable size the caches do not serve. Run as a single-file
 * program against two packaged JARs, alternating, to compare builds side by
 * side on a loaded machine:
 *
 * <pre>java -cp target/nativepool-VERSION.jar bench/java/org/nativepool/bench/HandleOwnershipBench.java</pre>
 *
 * Prints the median of five rounds of ns per pair, in this thread's CPU time.
 * An argument runs only the lines whose name contains it, so that each can
 * have a JVM (and a JIT profile) of its own.
 */
public final class HandleOwnershipBench {
    private static final int PAIRS = 2_000_000;
    private static final int ROUNDS = 5;
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

    private HandleOwnershipBench() {
    }

    private static String only = "";

    public static void main(String[] args) {
        only = args.length > 0 ? args[0] : "";
        try (FixedPool cached = FixedPool.builder(64).build();
             FixedPool uncached = FixedPool.builder(64).threadCache(0).build();
             VariablePool variable = VariablePool.builder().build();
             VariablePool variableUncached = VariablePool.builder().threadCache(0).build()) {
            pairs("fixed 64, cached", cached, cached::allocateAddress, cached::allocate);
            pairs("fixed 64, threadCache 0", uncached, uncached::allocateAddress, uncached::allocate);
            pairs("variable 64, cached", variable, () -> variable.allocateAddress(64), () -> variable.allocate(64));
            pairs("variable 64, threadCache 0", variableUncached, () -> variableUncached.allocateAddress(64),
                    () -> variableUncached.allocate(64));
            pairs("variable 4096 (no class)", variable, () -> variable.allocateAddress(4096),
                    () -> variable.allocate(4096));
        }
    }

    /** A handle source, as {@code FixedPool::allocate} or a variable pool's sized call. */
    private interface Handles {
        MemoryBlock allocate();
    }

    private static void pairs(String name, Pool pool, LongSupplier raw, Handles handles) {
        if (!name.contains(only)) {
            return;
        }
        double rawPair = median(() -> {
            for (int i = 0; i < PAIRS; i++) {
                pool.free(raw.getAsLong());
            }
        });
        double handlePair = median(() -> {
            for (int i = 0; i < PAIRS; i++) {
                handles.allocate().close();
            }
        });
        System.out.printf("%-28s raw pair %6.1f ns   handle pair %6.1f ns%n", name, rawPair, handlePair);
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
