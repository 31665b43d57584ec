package org.nativepool.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.lang.reflect.Constructor;
import java.util.Arrays;
import jdk.jfr.Recording;
import org.nativepool.internal.NativeLibrary;
import org.nativepool.internal.PoolNative;

/**
 * What the Flight Recorder's region events cost (issue 14): a region cycle,
 * one growth and one trim (an allocation of 40,000 bytes that maps a 64 KiB
 * arena, its free, and the trim that unmaps it) over the malloc backend (the
 * cheapest region there is, so the events weigh most) and over mmap, and an
 * allocate + free pair of 64 bytes that maps nothing, each on a pool built
 * without region events (the glue's null sink: the pools as they were before
 * the events) and on one built with them (the sink every FixedPool and
 * VariablePool gets), first with no recording, then with a recording that
 * disables the region events, then with one that enables them. The natives are
 * called directly, so the two pools differ only in their sink. Run as a
 * single-file program against the packaged JAR:
 *
 * <pre>java -cp target/nativepool-VERSION.jar bench/java/org/nativepool/bench/RegionEventsBench.java</pre>
 *
 * Prints the median of seven rounds of ns per cycle or pair, in this thread's
 * CPU time (the machine is shared: time descheduled would swamp the figures).
 * The sink is package-private; this program reaches it by reflection, as only
 * a class-path program can.
 */
public final class RegionEventsBench {
    private static final int CYCLES = 100_000;
    private static final int PAIRS = 2_000_000;
    private static final int ROUNDS = 7;
    private static final long ARENA = 64 << 10;
    /** BackendType codes (native/include/nativepool/backends.hpp). */
    private static final int MALLOC = 0;
    private static final int MMAP = 1;
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

    private RegionEventsBench() {
    }

    public static void main(String[] args) throws ReflectiveOperationException {
        NativeLibrary.ensureLoaded();
        Constructor<?> sinks = Class.forName("org.nativepool.RegionEvents").getDeclaredConstructor(String.class);
        sinks.setAccessible(true);
        long[] plain = {pool(MALLOC, null), pool(MMAP, null)};
        long[] reporting = {pool(MALLOC, sinks.newInstance("bench")), pool(MMAP, sinks.newInstance("bench"))};
        try {
            measure("no recording", plain, reporting);
            try (Recording disabled = new Recording()) {
                disabled.disable("org.nativepool.RegionMapped");
                disabled.disable("org.nativepool.RegionUnmapped");
                disabled.start();
                measure("recording, region events disabled", plain, reporting);
            }
            try (Recording enabled = new Recording()) {
                enabled.enable("org.nativepool.RegionMapped");
                enabled.enable("org.nativepool.RegionUnmapped");
                enabled.start();
                measure("recording, region events enabled", plain, reporting);
            }
        } finally {
            for (int i = 0; i < 2; i++) {
                PoolNative.destroy(plain[i]);
                PoolNative.destroy(reporting[i]);
            }
        }
    }

    /** A MUTEX variable pool of 64 KiB arenas over {@code backend}, reporting its regions to {@code sink}. */
    private static long pool(int backend, Object sink) {
        return PoolNative.createVariable(ARENA, 16, 0, 0, 0, 1, backend, 0, 0, null, sink);
    }

    private static void measure(String state, long[] plain, long[] reporting) {
        System.out.println(state + ":");
        String[] names = {"malloc", "mmap"};
        for (int i = 0; i < 2; i++) {
            long without = plain[i];
            long with = reporting[i];
            double cycleWithout = median(CYCLES, () -> cycles(without));
            double cycleWith = median(CYCLES, () -> cycles(with));
            System.out.printf("  %s region cycle: %.1f ns without events, %.1f ns with (%.2fx)%n", names[i],
                    cycleWithout, cycleWith, cycleWith / cycleWithout);
        }
        double pairWithout = median(PAIRS, () -> pairs(plain[0]));
        double pairWith = median(PAIRS, () -> pairs(reporting[0]));
        System.out.printf("  allocate + free: %.1f ns without events, %.1f ns with (%.2fx)%n", pairWithout, pairWith,
                pairWith / pairWithout);
    }

    private static void cycles(long pool) {
        for (int i = 0; i < CYCLES; i++) {
            PoolNative.free(pool, PoolNative.allocate(pool, 40_000, 16));
            if (PoolNative.trim(pool) != ARENA) {
                throw new IllegalStateException("the cycle did not unmap its arena");
            }
        }
    }

    private static void pairs(long pool) {
        long held = PoolNative.allocate(pool, 64, 16); // keeps an arena mapped: the pairs map nothing
        for (int i = 0; i < PAIRS; i++) {
            PoolNative.free(pool, PoolNative.allocate(pool, 64, 16));
        }
        PoolNative.free(pool, held);
    }

    private static double median(int operations, Runnable work) {
        work.run(); // warm-up
        double[] nanos = new double[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            long start = CPU.getCurrentThreadCpuTime();
            work.run();
            nanos[r] = (CPU.getCurrentThreadCpuTime() - start) / (double) operations;
        }
        Arrays.sort(nanos);
        return nanos[ROUNDS / 2];
    }
}
