package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Closing pools and blocks: idempotence, use after close, close during use, leaks. */
class PoolLifecycleTest {

    @Test
    void closeIsIdempotentAndUseAfterCloseThrows() {
        FixedPool pool = FixedPool.builder(64).build();
        long address = pool.allocateAddress();
        pool.free(address);
        pool.close();
        pool.close();
        assertTrue(pool.isClosed());
        assertThrows(PoolClosedException.class, pool::allocateAddress);
        assertThrows(PoolClosedException.class, pool::allocate);
        assertThrows(PoolClosedException.class, () -> pool.free(address));
        assertThrows(PoolClosedException.class, pool::stats);
        assertThrows(PoolClosedException.class, pool::validate);
        assertThrows(PoolClosedException.class, pool::trim);
        assertThrows(PoolClosedException.class, () -> pool.allocate(2, new long[2]));
    }

    @Test
    void blockCloseIsIdempotentAndAccessAfterCloseThrows() {
        try (VariablePool pool = VariablePool.builder().build()) {
            MemoryBlock block = pool.allocate(100);
            block.close();
            PoolStats once = pool.stats();
            block.close();
            assertTrue(block.isClosed());
            assertThrows(PoolClosedException.class, block::address);
            assertThrows(PoolClosedException.class, block::asByteBuffer);
            PoolStats twice = pool.stats();
            assertEquals(0, twice.liveBlocks());
            assertEquals(once.frees(), twice.frees(), "the second close did not free again");
            assertEquals(once.cachedBlocks(), twice.cachedBlocks(), "nor park the block twice");
        }
    }

    @Test
    void blocksOutlivingTheirPoolBecomeInert() {
        MemoryBlock block;
        try (FixedPool pool = FixedPool.builder(64).leakPolicy(LeakPolicy.IGNORE).build()) {
            block = pool.allocate();
        }
        assertThrows(PoolClosedException.class, block::address);
        assertDoesNotThrow(block::close, "the pool already released the memory");
    }

    @Test
    void leakPolicyThrowReportsCountAndBytesAfterReleasingEverything() {
        VariablePool pool = VariablePool.builder().leakPolicy(LeakPolicy.THROW).build();
        pool.allocateAddress(1000);
        pool.allocateAddress(24);
        PoolLeakException e = assertThrows(PoolLeakException.class, pool::close);
        assertEquals(2, e.leakedBlocks());
        assertEquals(1024 + 32, e.leakedBytes(), "sizes counted at their thread caches' classes");
        assertTrue(e.getMessage().contains("2 live block"), e.getMessage());
        assertTrue(pool.isClosed(), "the pool is closed despite the exception");
    }

    @Test
    void leakPolicyLogDoesNotThrow() {
        FixedPool pool = FixedPool.builder(64).leakPolicy(LeakPolicy.LOG).build();
        pool.allocateAddress();
        assertDoesNotThrow(pool::close);
        assertTrue(pool.isClosed());
    }

    @Test
    void closingWhileAnotherCallIsInFlightThrowsAndKeepsThePoolUsable() {
        FixedPool pool = FixedPool.builder(64).build();
        pool.acquire(); // what every native call does on entry: simulate one in flight
        try {
            PoolBusyException e = assertThrows(PoolBusyException.class, pool::close);
            assertTrue(e.getMessage().contains("1 call(s) in flight"), e.getMessage());
            assertFalse(pool.isClosed());
        } finally {
            pool.release();
        }
        pool.free(pool.allocateAddress());
        pool.close();
        assertTrue(pool.isClosed());
    }

    @Test
    void racingCloseAgainstWorkersNeverCrashes() throws Exception {
        for (int round = 0; round < 10; round++) {
            FixedPool pool = FixedPool.builder(256).threadSafety(ThreadSafety.LOCK_FREE)
                    .leakPolicy(LeakPolicy.IGNORE).build();
            int workers = 4;
            CountDownLatch started = new CountDownLatch(workers);
            AtomicReference<Throwable> unexpected = new AtomicReference<>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < workers; t++) {
                Thread thread = new Thread(() -> {
                    started.countDown();
                    for (int i = 0; i < 20_000; i++) {
                        try {
                            long address = pool.allocateAddress();
                            pool.free(address);
                        } catch (PoolClosedException expected) {
                            return;
                        } catch (Throwable t2) {
                            unexpected.set(t2);
                            return;
                        }
                    }
                });
                thread.start();
                threads.add(thread);
            }
            started.await();
            // Workers stop by themselves, so a close that keeps finding calls
            // in flight succeeds at the latest once they are done.
            boolean closed = false;
            while (!closed) {
                try {
                    pool.close();
                    closed = true;
                } catch (PoolBusyException busy) {
                    Thread.yield();
                }
            }
            for (Thread thread : threads) {
                thread.join();
            }
            if (unexpected.get() != null) {
                throw new AssertionError("worker failed", unexpected.get());
            }
            assertTrue(pool.isClosed());
        }
    }
}
