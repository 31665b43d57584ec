package org.nativepool.testing;

import java.util.List;
import org.nativepool.LeakDetector;
import org.nativepool.LeakedBlock;
import org.nativepool.Pool;

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
 * {@code -Dnativepool.leakDetection=all}.
 */
public final class LeakAssertions {
    /** How long to wait for the garbage collector to surface dropped handles. */
    private static final long COLLECT_MILLIS = 2_000;

    private LeakAssertions() {
    }

    /**
     * Fails if a tracked handle became unreachable without {@code close()}
     * since the last call, or if one of {@code pools} still has live blocks.
     * The error carries each leaked handle's allocation stack as a suppressed
     * exception, and each pool's live-block report in its message.
     */
    public static void assertNoLeaks(Pool... pools) {
        try {
            LeakDetector.collectLeaks(COLLECT_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while collecting leaks", e);
        }
        StringBuilder message = new StringBuilder();
        List<LeakedBlock> leaks = LeakDetector.drainLeaks();
        for (LeakedBlock leak : leaks) {
            message.append('\n').append(leak);
        }
        for (Pool pool : pools) {
            if (!pool.isClosed() && pool.stats().liveBlocks() != 0) {
                message.append('\n').append(pool).append(": ").append(pool.leakReport());
            }
        }
        if (message.length() > 0) {
            AssertionError error = new AssertionError("nativepool leaks:" + message);
            for (LeakedBlock leak : leaks) {
                error.addSuppressed(leak.allocationStack());
            }
            throw error;
        }
    }
}
