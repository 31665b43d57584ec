package org.nativepool.testing;

import java.util.List;
import org.nativepool.LeakDetector;
import org.nativepool.LeakedBlock;
import org.nativepool.Pool;
import org.nativepool.gpu.Device;
import org.nativepool.gpu.DeviceManager;
import org.nativepool.gpu.DeviceStats;

/**
 * Assertions for the end of a test: no handle was dropped without
 * {@code close()}, and no pool still holds blocks. Framework-neutral: a
 * failure is an {@link AssertionError}, which JUnit, TestNG and plain
 * {@code assert} users all report.
 *
 * <pre>{@code
 * @AfterEach
 * void noLeaks() {
 *     LeakAssertions.assertNoLeaks(pool);
 * }
 * }</pre>
 *
 * Handles are only seen if their pool tracks them: build test pools with
 * {@code .leakDetection(LeakDetection.ALL)} or run with
 * {@code -Dnativepool.leakDetection=all}. The same holds for the
 * {@link org.nativepool.gpu.DeviceBuffer}s and
 * {@link org.nativepool.gpu.PinnedBuffer}s of a {@link DeviceManager}, whose
 * builder has the same option; {@link #assertNoLeaks(DeviceManager)} checks
 * its pools too.
 */
public final class LeakAssertions {
    /** How long to wait for the garbage collector to surface dropped handles. */
    private static final long COLLECT_MILLIS = 2_000;

    private LeakAssertions() {
    }

    /**
     * Fails if a tracked handle (of any pool or GPU manager) became
     * unreachable without {@code close()} since the last call, or if one of
     * {@code pools} still has live blocks. The error carries each leaked
     * handle's allocation stack as a suppressed exception, and each pool's
     * live-block report in its message.
     *
     * @param pools the pools that must hold no live blocks; closed ones are skipped
     */
    public static void assertNoLeaks(Pool... pools) {
        StringBuilder message = new StringBuilder();
        List<LeakedBlock> leaks = collect(message);
        for (Pool pool : pools) {
            if (!pool.isClosed() && pool.stats().liveBlocks() != 0) {
                message.append('\n').append(pool).append(": ").append(pool.leakReport());
            }
        }
        fail(message, leaks);
    }

    /**
     * Fails if a tracked handle (of any pool or GPU manager) became
     * unreachable without {@code close()} since the last call, or if a
     * device pool or the pinned pool of {@code manager} still has live
     * blocks (unless the manager is closed). The error carries each leaked
     * handle's allocation stack as a suppressed exception.
     *
     * @param manager the manager whose pools must hold no live blocks
     */
    public static void assertNoLeaks(DeviceManager manager) {
        StringBuilder message = new StringBuilder();
        List<LeakedBlock> leaks = collect(message);
        if (!manager.isClosed()) {
            for (Device device : manager.devices()) {
                appendLive(message, manager + ", device " + device.index(), device.stats());
            }
            appendLive(message, manager + ", pinned pool", manager.pinnedStats());
        }
        fail(message, leaks);
    }

    /** Surfaces the dropped handles and lists them in {@code message}. */
    private static List<LeakedBlock> collect(StringBuilder message) {
        try {
            LeakDetector.collectLeaks(COLLECT_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while collecting leaks", e);
        }
        List<LeakedBlock> leaks = LeakDetector.drainLeaks();
        for (LeakedBlock leak : leaks) {
            message.append('\n').append(leak);
        }
        return leaks;
    }

    private static void appendLive(StringBuilder message, String pool, DeviceStats stats) {
        if (stats.liveBlocks() != 0) {
            message.append('\n').append(pool).append(": ").append(stats.liveBlocks()).append(" live block(s), ")
                    .append(stats.bytesInUse()).append(" bytes still allocated");
        }
    }

    private static void fail(StringBuilder message, List<LeakedBlock> leaks) {
        if (message.length() > 0) {
            AssertionError error = new AssertionError("nativepool leaks:" + message);
            for (LeakedBlock leak : leaks) {
                error.addSuppressed(leak.allocationStack());
            }
            throw error;
        }
    }
}
