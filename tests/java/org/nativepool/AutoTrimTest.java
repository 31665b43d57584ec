package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Automatic trim: memory free for a whole interval goes back, counted; memory in use stays. */
class AutoTrimTest {

    @Test
    void memoryIdleForTheIntervalGoesBackAndIsCounted() throws Exception {
        try (VariablePool pool = VariablePool.builder().arenaSize(1 << 20).threadCache(0)
                .autoTrim(Duration.ofMillis(100)).build()) {
            long[] blocks = new long[8];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = pool.allocateAddress(900_000);
            }
            long kept = pool.allocateAddress(64);
            assertEquals(8, pool.stats().regions(), "an arena each; the small block fits beside one");
            for (long block : blocks) {
                pool.free(block);
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (pool.autoTrimStats().bytesReturned() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            AutoTrimStats trimmed = pool.autoTrimStats();
            assertEquals(Duration.ofMillis(100), trimmed.idleTime());
            assertTrue(trimmed.trims() >= 1, trimmed.toString());
            PoolStats after = pool.stats();
            assertEquals(1, after.regions(), "the arena of the live block stays");
            assertEquals(1, after.liveBlocks());
            pool.free(kept);
        }
    }

    @Test
    void memoryInUseStaysAndAPoolWithoutAutoTrimReportsNothing() throws Exception {
        try (FixedPool pool = FixedPool.builder(4096).threadCache(0).autoTrim(Duration.ofMillis(40)).build();
             FixedPool plain = FixedPool.builder(64).build()) {
            long block = pool.allocateAddress();
            Thread.sleep(200);
            assertEquals(0, pool.autoTrimStats().bytesReturned(), "less than a chunk's worth free");
            assertEquals(1, pool.stats().regions());
            pool.free(block);
            assertEquals(new AutoTrimStats(Duration.ZERO, 0, 0), plain.autoTrimStats());
        }
    }

    @Test
    void badIntervalsAndUnsharedPoolsAreRefused() {
        assertThrows(InvalidArgumentException.class, () -> VariablePool.builder().autoTrim(Duration.ZERO));
        assertThrows(InvalidArgumentException.class, () -> FixedPool.builder(64).autoTrim(Duration.ofMillis(-1)));
        assertThrows(NullPointerException.class, () -> FixedPool.builder(64).autoTrim(null));
        InvalidArgumentException unshared = assertThrows(InvalidArgumentException.class,
                () -> FixedPool.builder(64).threadSafety(ThreadSafety.NONE).autoTrim(Duration.ofSeconds(1)).build());
        assertTrue(unshared.getMessage().contains("ThreadSafety.NONE"), unshared.getMessage());
    }

    @Test
    void closingNeverFindsTheTrimThreadInFlight() throws Exception {
        // A sample every 250 us: the closes below race it, and must not throw PoolBusyException.
        for (int i = 0; i < 100; i++) {
            FixedPool pool = FixedPool.builder(4096).autoTrim(Duration.ofMillis(1)).build();
            pool.free(pool.allocateAddress());
            Thread.sleep(0, 200_000);
            pool.close();
            assertTrue(pool.isClosed());
        }
    }

    @Test
    void aClosedPoolStopsItsTrim() throws Exception {
        VariablePool pool = VariablePool.builder().autoTrim(Duration.ofMillis(20)).build();
        pool.free(pool.allocateAddress(4096));
        pool.close();
        Thread.sleep(100);
        assertTrue(pool.isClosed());
        assertEquals(Duration.ofMillis(20), pool.autoTrimStats().idleTime(), "its figures stay readable");
    }
}
