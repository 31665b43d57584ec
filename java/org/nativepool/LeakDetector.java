package org.nativepool;

import java.lang.System.Logger.Level;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The safety net behind {@link LeakDetection}: a {@link Cleaner} notices a
 * tracked {@link MemoryBlock} handle that became unreachable without
 * {@code close()}, logs it with the stack that allocated it, records it for
 * {@link #drainLeaks()}, and frees its block unless the pool was built with
 * {@code reclaimLeakedBlocks(false)}.
 */
public final class LeakDetector {
    /** System property: one handle in this many is tracked at {@link LeakDetection#SAMPLED}. Default 128. */
    public static final String SAMPLING_PROPERTY = "nativepool.leakDetection.samplingInterval";

    private static final System.Logger LOG = System.getLogger("org.nativepool");
    private static final Cleaner CLEANER = Cleaner.create(runnable -> {
        Thread thread = new Thread(runnable, "nativepool-leak-detector");
        thread.setDaemon(true);
        return thread;
    });
    private static final int SAMPLING_INTERVAL = Math.max(1, Integer.getInteger(SAMPLING_PROPERTY, 128));
    private static final Queue<LeakedBlock> LEAKS = new ConcurrentLinkedQueue<>();

    private LeakDetector() {
    }

    /**
     * Returns and forgets the leaks found so far. Leaks are found when the
     * garbage collector notices an unreachable handle, so a caller that needs
     * every leak up to now calls {@link #collectLeaks(long)} first.
     */
    public static List<LeakedBlock> drainLeaks() {
        List<LeakedBlock> drained = new ArrayList<>();
        for (LeakedBlock leak; (leak = LEAKS.poll()) != null;) {
            drained.add(leak);
        }
        return drained;
    }

    /**
     * Runs the garbage collector and waits, up to {@code timeoutMillis}, until
     * the handles it found unreachable have been reported. Best effort: the
     * JVM does not promise that one collection finds every unreachable object.
     */
    public static void collectLeaks(long timeoutMillis) throws InterruptedException {
        // A fresh unreachable sentinel: the cleaner thread handles cleanables
        // roughly in the order the collector queues them, so once the
        // sentinel's action ran, the handles found with it were reported too.
        CountDownLatch sentinel = new CountDownLatch(1);
        CLEANER.register(new Object(), sentinel::countDown);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        do {
            System.gc();
        } while (!sentinel.await(20, TimeUnit.MILLISECONDS) && System.nanoTime() < deadline);
        // The cleaner's order is only rough, and a loaded machine shows it:
        // a few more collections let cleanables queued just behind the
        // sentinel run too.
        for (int round = 0; round < 5 && System.nanoTime() < deadline; round++) {
            System.gc();
            Thread.sleep(20);
        }
    }

    /** Starts tracking a new handle, or returns null when its pool's level does not select it. */
    static Tracker track(MemoryBlock block, Pool pool, long address, long size) {
        LeakDetection level = pool.leakDetection();
        if (level == LeakDetection.OFF
                || level == LeakDetection.SAMPLED && ThreadLocalRandom.current().nextInt(SAMPLING_INTERVAL) != 0) {
            return null;
        }
        Tracker tracker = new Tracker(pool, address, size);
        tracker.cleanable = CLEANER.register(block, tracker);
        pool.tracked.put(address, tracker);
        return tracker;
    }

    /** Where a handle was allocated; the cause of leak and corruption reports. */
    static final class AllocationStack extends Throwable {
        private static final long serialVersionUID = 1L;

        AllocationStack(String message) {
            super(message);
        }
    }

    /** The cleaning action of one tracked handle. Holds no reference to the handle itself. */
    static final class Tracker implements Runnable {
        private final Pool pool;
        private final long address;
        private final long size;
        final AllocationStack stack;
        private volatile boolean closed;
        private Cleaner.Cleanable cleanable;

        private Tracker(Pool pool, long address, long size) {
            this.pool = pool;
            this.address = address;
            this.size = size;
            this.stack = new AllocationStack("MemoryBlock 0x" + Long.toHexString(address) + " (" + size
                    + " bytes) of " + pool.name() + " was allocated here");
        }

        /** The handle was closed, or its pool was: nothing to report, and the cleaner forgets it. */
        void close() {
            closed = true;
            pool.tracked.remove(address, this);
            cleanable.clean();
        }

        @Override
        public void run() {
            if (closed) {
                return;
            }
            pool.tracked.remove(address, this);
            boolean reclaimed = false;
            String failure = "";
            if (pool.reclaimLeakedBlocks()) {
                try {
                    reclaimed = pool.freeFromHandle(address);
                } catch (NativePoolException e) {
                    failure = "; freeing it failed: " + e.getMessage();
                }
            }
            LeakedBlock leak = new LeakedBlock(pool.name(), address, size, reclaimed, stack);
            LEAKS.add(leak);
            LOG.log(Level.WARNING, leak + ": the handle became unreachable without close()" + failure, stack);
        }
    }
}
