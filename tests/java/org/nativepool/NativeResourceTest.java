package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The in-flight guard alone, over a fake handle whose calls check that they
 * never reach it disposed: many threads calling while closes race, a close
 * during a call, many threads closing at once, calls inside calls.
 */
class NativeResourceTest {
    private static final long HANDLE = 0x5EEDL;
    private static final long TIMEOUT_SECONDS = 30;

    /** A resource over a fake handle that checks every call the guard lets through. */
    private static final class Probe extends NativeResource {
        final AtomicInteger disposals = new AtomicInteger();
        private final AtomicInteger inside = new AtomicInteger();
        private volatile boolean disposed;

        Probe() {
            super(HANDLE);
        }

        /** A native call: fails if the guard let it reach the handle disposed. */
        void call(Runnable body) {
            long handle = acquire();
            inside.incrementAndGet();
            try {
                if (handle != HANDLE || disposed) {
                    throw new AssertionError("a call reached handle " + handle + (disposed ? " after dispose" : ""));
                }
                body.run();
            } finally {
                inside.decrementAndGet();
                release();
            }
        }

        /** {@return what tryAcquire() gives now} Leaves the call at once if it got in. */
        long tryCall() {
            long handle = tryAcquire();
            if (handle != 0L) {
                release();
            }
            return handle;
        }

        @Override
        protected void dispose(long handle) {
            if (inside.get() != 0) {
                throw new AssertionError("disposed under " + inside.get() + " call(s)");
            }
            // A path inside dispose that calls back in (a leak owner freeing a block) finds it closed.
            assertEquals(0L, tryAcquire());
            disposed = true;
            disposals.incrementAndGet();
        }
    }

    @Test
    void closesRacingManyCallersFreeOnceAndNeverUnderACall() throws Exception {
        for (int round = 0; round < 10; round++) {
            Probe probe = new Probe();
            AtomicReference<Throwable> unexpected = new AtomicReference<>();
            AtomicInteger refused = new AtomicInteger();
            AtomicInteger busy = new AtomicInteger();
            int callers = 8; // more than the stripes on small machines: some share one
            CountDownLatch started = new CountDownLatch(callers);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < callers; t++) {
                // Calls in a tight loop until closed: a close must get through anyway.
                threads.add(start(() -> {
                    started.countDown();
                    for (;;) {
                        try {
                            probe.call(() -> { });
                        } catch (PoolClosedException expected) {
                            refused.incrementAndGet();
                            return;
                        } catch (Throwable e) {
                            unexpected.compareAndSet(null, e);
                            return;
                        }
                    }
                }));
            }
            started.await();
            for (int t = 0; t < 3; t++) {
                threads.add(start(() -> {
                    while (!probe.isClosed()) {
                        try {
                            probe.close();
                        } catch (PoolBusyException expected) {
                            busy.incrementAndGet();
                        } catch (Throwable e) {
                            unexpected.compareAndSet(null, e);
                            return;
                        }
                    }
                }));
            }
            joinAll(threads);
            int r = round;
            assertNull(unexpected.get(), () -> "round " + r + ", after " + busy.get() + " refused close(s): "
                    + unexpected.get());
            assertEquals(callers, refused.get(), "every caller ended on PoolClosedException");
            assertEquals(1, probe.disposals.get(), "freed exactly once");
            assertTrue(probe.isClosed());
        }
    }

    @Test
    void closeDuringABlockedCallRefusesNamingItAndLetsWaitingCallsIn() throws Exception {
        Probe probe = new Probe();
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch finish = new CountDownLatch(1);
        Thread blocked = start(() -> probe.call(() -> {
            entered.countDown();
            await(finish);
        }));
        entered.await();
        PoolBusyException e = assertThrows(PoolBusyException.class, probe::close);
        assertTrue(e.getMessage().contains(": 1 call(s) in flight"), e.getMessage());
        assertFalse(probe.isClosed());

        // Calls made while a close decides wait for it, then go in when it gives up.
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger calls = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread caller = start(() -> {
            while (!stop.get()) {
                try {
                    probe.call(calls::incrementAndGet);
                } catch (Throwable t) {
                    failure.set(t);
                    return;
                }
            }
        });
        for (int attempt = 0; attempt < 20; attempt++) {
            assertThrows(PoolBusyException.class, probe::close);
        }
        int callsAfterClose = calls.get();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
        while (calls.get() == callsAfterClose && failure.get() == null && System.nanoTime() < deadline) {
            Thread.yield();
        }
        stop.set(true);
        finish.countDown();
        joinAll(List.of(blocked, caller));
        assertNull(failure.get(), () -> "a call failed: " + failure.get());
        assertTrue(calls.get() > callsAfterClose, "calls go on after a refused close");
        assertEquals(0, probe.disposals.get());

        probe.close();
        assertEquals(1, probe.disposals.get());
    }

    @Test
    void closeCountsEveryCallWhenThreadsShareStripes() throws Exception {
        Probe probe = new Probe();
        int holders = 100; // more threads than the most stripes a resource has
        CountDownLatch entered = new CountDownLatch(holders);
        CountDownLatch finish = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < holders; t++) {
            threads.add(start(() -> probe.call(() -> {
                entered.countDown();
                await(finish);
            })));
        }
        entered.await();
        PoolBusyException e = assertThrows(PoolBusyException.class, probe::close);
        assertTrue(e.getMessage().contains(": " + holders + " call(s) in flight"), e.getMessage());
        finish.countDown();
        joinAll(threads);
        probe.close();
        assertEquals(1, probe.disposals.get());
    }

    @Test
    void closeFromManyThreadsAtOnceFreesOnceAndThenRefusesCalls() throws Exception {
        Probe probe = new Probe();
        int closers = 8;
        CountDownLatch ready = new CountDownLatch(closers);
        AtomicReference<Throwable> unexpected = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < closers; t++) {
            threads.add(start(() -> {
                ready.countDown();
                await(ready);
                try {
                    probe.close();
                } catch (Throwable e) {
                    unexpected.compareAndSet(null, e);
                }
            }));
        }
        joinAll(threads);
        assertNull(unexpected.get(), () -> "close threw " + unexpected.get());
        assertEquals(1, probe.disposals.get(), "freed exactly once");
        assertTrue(probe.isClosed());
        probe.close();
        assertEquals(1, probe.disposals.get(), "a later close is a no-op");
        assertEquals(0L, probe.tryCall(), "tryAcquire returns 0 once closed");
        PoolClosedException e = assertThrows(PoolClosedException.class, () -> probe.call(() -> { }));
        assertTrue(e.getMessage().endsWith(" is closed"), e.getMessage());
    }

    @Test
    void callsInsideCallsNest() {
        Probe probe = new Probe();
        AtomicInteger innermost = new AtomicInteger();
        probe.call(() -> probe.call(() -> probe.call(innermost::incrementAndGet)));
        assertEquals(1, innermost.get());
        assertEquals(HANDLE, probe.tryCall());
        probe.close();
        assertEquals(1, probe.disposals.get(), "the nested calls all left");
    }

    @Test
    void aCallInsideACallWhileACloseDecidesWaitsThenGoesIn() throws Exception {
        Probe probe = new Probe();
        AtomicReference<Throwable> closeOutcome = new AtomicReference<>();
        AtomicInteger nested = new AtomicInteger();
        probe.call(() -> {
            Thread closer = start(() -> {
                try {
                    probe.close();
                } catch (Throwable e) {
                    closeOutcome.set(e);
                }
            });
            // This thread's outer call keeps the close from succeeding; the nested
            // calls made while it decides wait for it instead of deadlocking.
            while (closer.isAlive()) {
                probe.call(nested::incrementAndGet);
            }
        });
        assertInstanceOf(PoolBusyException.class, closeOutcome.get());
        assertTrue(nested.get() > 0);
        assertFalse(probe.isClosed());
        probe.close();
        assertEquals(1, probe.disposals.get());
    }

    private static Thread start(Runnable body) {
        Thread thread = new Thread(body);
        thread.setDaemon(true); // a starved close fails the test instead of keeping the JVM alive
        thread.start();
        return thread;
    }

    private static void joinAll(List<Thread> threads) throws InterruptedException {
        for (Thread thread : threads) {
            thread.join(TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS));
            assertFalse(thread.isAlive(), thread + " still running after " + TIMEOUT_SECONDS + " s");
        }
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
