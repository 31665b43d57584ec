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
import org.nativepool.internal.LeakOwner;
import org.nativepool.internal.LeakTracker;

/**
 * The safety net behind {@link LeakDetection}: a {@link Cleaner} notices a
 * tracked handle that became unreachable without {@code close()}, logs it
 * with the stack that allocated it, records it for {@link #drainLeaks()}, and
 * frees its block unless its pool was built with
 * {@code reclaimLeakedBlocks(false)}. Tracked handles are the
 * {@link MemoryBlock}s of host pools and the
 * {@link org.nativepool.gpu.DeviceBuffer}s and
 * {@link org.nativepool.gpu.PinnedBuffer}s of a
 * {@link org.nativepool.gpu.DeviceManager}, and the
 * {@link PersistentReservation}s of a {@link PersistentPool} (reclaimed by
 * cancelling them).
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
     *
     * @return a new list of the leaks found since the last call, in the order they were found
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
     *
     * @param timeoutMillis the longest wait, in milliseconds
     * @throws InterruptedException if the thread is interrupted while it waits
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

    /**
     * Not API: how the handles of nativepool, those of
     * {@code org.nativepool.gpu} included, start being tracked.
     *
     * <p>Starts tracking a new handle, or returns null when its owner's level
     * does not select it. The tracker holds no reference to {@code handle};
     * the handle must close the tracker when it frees its block.
     *
     * @param <C> what the owner needs to free a leaked block
     * @param handle the handle to watch
     * @param owner the owner of the block, as the leak detector sees it
     * @param address address of the block
     * @param size size of the block in bytes
     * @param context what {@link LeakOwner#freeLeaked} needs to free the block later
     * @return the tracker to close when the handle frees its block, or null when the
     *     handle is not tracked
     */
    public static <C> LeakTracker track(Object handle, LeakOwner<C> owner, long address, long size, C context) {
        LeakDetection level = owner.leakDetection();
        if (level == LeakDetection.OFF
                || level == LeakDetection.SAMPLED && ThreadLocalRandom.current().nextInt(SAMPLING_INTERVAL) != 0) {
            return null;
        }
        Tracker<C> tracker = new Tracker<>(owner, handle.getClass().getSimpleName(), address, size, context);
        tracker.cleanable = CLEANER.register(handle, tracker);
        owner.trackedHandles().put(address, tracker);
        // A handle made while its owner closed (its block allocated just before): the owner
        // released the block, and closeAll() may have run before the put. Either it saw the
        // tracker or this sees the flag.
        if (owner.isClosed()) {
            tracker.close();
        }
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
    static final class Tracker<C> implements Runnable, LeakTracker {
        private final LeakOwner<C> owner;
        private final String handleType;
        private final long address;
        private final long size;
        private final C context;
        final AllocationStack stack;
        private volatile boolean closed;
        private Cleaner.Cleanable cleanable;

        private Tracker(LeakOwner<C> owner, String handleType, long address, long size, C context) {
            this.owner = owner;
            this.handleType = handleType;
            this.address = address;
            this.size = size;
            this.context = context;
            this.stack = new AllocationStack(handleType + " 0x" + Long.toHexString(address) + " (" + size
                    + " bytes) of " + owner.leakOwnerName() + " was allocated here");
        }

        @Override
        public void close() {
            closed = true;
            owner.trackedHandles().remove(address, this);
            cleanable.clean();
        }

        @Override
        public Throwable allocationStack() {
            return stack;
        }

        @Override
        public void run() {
            if (closed) {
                return;
            }
            owner.trackedHandles().remove(address, this);
            if (owner.isClosed()) {
                return; // the owner released and reported its blocks: no leak of the handle's own
            }
            boolean reclaimed = false;
            String failure = "";
            if (owner.reclaimLeakedBlocks()) {
                try {
                    reclaimed = owner.freeLeaked(address, context);
                } catch (RuntimeException e) {
                    failure = "; freeing it failed: " + e.getMessage();
                }
            }
            if (!reclaimed && (closed || owner.isClosed())) {
                return; // the owner closed meanwhile and released the block: no leak of the handle's own
            }
            LeakedBlock leak = new LeakedBlock(owner.leakOwnerName(), address, size, reclaimed, stack, handleType);
            LEAKS.add(leak);
            LOG.log(Level.WARNING, leak + ": the handle became unreachable without close()" + failure, stack);
        }
    }
}
