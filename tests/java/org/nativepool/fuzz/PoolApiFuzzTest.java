package org.nativepool.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.nativepool.FixedPool;
import org.nativepool.InvalidArgumentException;
import org.nativepool.InvalidFreeException;
import org.nativepool.LeakDetection;
import org.nativepool.LeakPolicy;
import org.nativepool.MemoryBlock;
import org.nativepool.OutOfPoolMemoryException;
import org.nativepool.Pool;
import org.nativepool.PoolClosedException;
import org.nativepool.SafetyLevel;
import org.nativepool.ThreadSafety;
import org.nativepool.VariablePool;

/**
 * Jazzer drives the public API with arbitrary sizes, orders, double and bad
 * frees and closes. Only documented exceptions may come out, the JVM must
 * never crash, and the statistics must always match what the test holds.
 *
 * <p>{@code mvn verify} replays the committed inputs (PoolApiFuzzTestInputs);
 * with {@code JAZZER_FUZZ=1}, .ci/run fuzzes for the configured duration.
 */
class PoolApiFuzzTest {
    private static final long MAX_SIZE = 1 << 20;

    @FuzzTest(maxDuration = "60s")
    void poolApi(FuzzedDataProvider data) {
        SafetyLevel level = data.pickValue(SafetyLevel.values());
        boolean fixed = data.consumeBoolean();
        Pool pool;
        try {
            pool = fixed
                ? FixedPool.builder(data.consumeLong(1, 4096)).maxBlocks(data.consumeLong(0, 64))
                        .blocksPerChunk(16).safetyLevel(level).threadSafety(data.pickValue(ThreadSafety.values()))
                        .leakPolicy(LeakPolicy.IGNORE).leakDetection(LeakDetection.OFF).build()
                : VariablePool.builder().arenaSize(64 << 10).maxCapacity(data.consumeLong(0, 4 << 20))
                        .safetyLevel(level).leakPolicy(LeakPolicy.IGNORE).leakDetection(LeakDetection.OFF).build();
        } catch (InvalidArgumentException badConfiguration) {
            return; // a documented outcome of an inconsistent configuration
        }
        new Session(pool, data).run();
    }

    /** One pool and the blocks the test holds in it. */
    private static final class Session {
        private final Pool pool;
        private final FuzzedDataProvider data;
        private final List<Long> raw = new ArrayList<>();
        private final List<MemoryBlock> handles = new ArrayList<>();
        private final Set<Long> freed = new HashSet<>();

        Session(Pool pool, FuzzedDataProvider data) {
            this.pool = pool;
            this.data = data;
        }

        void run() {
            try {
                while (data.remainingBytes() > 0 && !pool.isClosed()) {
                    step();
                    checkStats();
                }
            } finally {
                pool.close();
            }
            assertThrows(PoolClosedException.class, pool::stats);
            for (MemoryBlock handle : handles) {
                handle.close(); // inert after the pool closed
            }
        }

        private void step() {
            switch (data.consumeInt(0, 8)) {
                case 0 -> allocateRaw();
                case 1 -> allocateHandle();
                case 2 -> {
                    if (!raw.isEmpty()) {
                        long address = raw.remove(data.consumeInt(0, raw.size() - 1));
                        pool.free(address);
                        freed.add(address);
                    }
                }
                case 3 -> {
                    if (!handles.isEmpty()) {
                        MemoryBlock handle = handles.remove(data.consumeInt(0, handles.size() - 1));
                        handle.close();
                        handle.close();
                    }
                }
                case 4 -> {
                    for (long address : freed) {
                        if (!raw.contains(address) && !isHandle(address)) {
                            // DoubleFreeException, or InvalidFreeException once the address lies inside a newer block
                            assertThrows(InvalidFreeException.class, () -> pool.free(address));
                            break;
                        }
                    }
                }
                case 5 -> assertThrows(InvalidFreeException.class, () -> pool.free(data.consumeLong()));
                case 6 -> pool.verify();
                case 7 -> pool.trim();
                default -> {
                    if (data.consumeInt(0, 15) == 0) {
                        pool.close();
                        assertThrows(PoolClosedException.class, () -> pool.free(0L));
                    }
                }
            }
        }

        private boolean isHandle(long address) {
            for (MemoryBlock handle : handles) {
                if (!handle.isClosed() && handle.address() == address) {
                    return true;
                }
            }
            return false;
        }

        private void allocateRaw() {
            long size = data.consumeLong(-2, MAX_SIZE);
            try {
                long address = pool instanceof FixedPool fixed ? fixed.allocateAddress()
                        : ((VariablePool) pool).allocateAddress(size, 1L << data.consumeInt(0, 13));
                raw.add(address);
                freed.remove(address);
            } catch (InvalidArgumentException | OutOfPoolMemoryException expected) {
                // bad sizes and alignments, and full pools, are documented outcomes
            }
        }

        private void allocateHandle() {
            try {
                MemoryBlock block = pool instanceof FixedPool fixed ? fixed.allocate()
                        : ((VariablePool) pool).allocate(data.consumeLong(-1, MAX_SIZE));
                block.putByte(0, (byte) 1);
                handles.add(block);
                freed.remove(block.address());
            } catch (InvalidArgumentException | OutOfPoolMemoryException expected) {
                // as above
            }
        }

        private void checkStats() {
            if (pool.isClosed()) {
                return;
            }
            long open = handles.stream().filter(h -> !h.isClosed()).count();
            assertEquals(raw.size() + open, pool.stats().liveBlocks(), "live blocks differ from what the test holds");
        }
    }
}
