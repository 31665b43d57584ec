package org.nativepool;

import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A pool's automatic trim: gives memory back that stayed free for a whole
 * idle interval, as jemalloc's decay does for dirty pages. One daemon thread
 * serves every pool; it samples the pool's free bytes four times per interval
 * and, at the end of an interval in which every sample found at least a
 * region's worth free (the pool's reserved bytes over its regions), calls
 * {@link Pool#trim()}. A pool whose use keeps filling its regions, or
 * whose free space came only at the end of the interval, is left alone
 * until a later interval: a burst that repeats within the interval finds its
 * memory warm. What goes back is what {@code trim()} gives back at that
 * moment, wholly free chunks or arenas (and a variable pool's free pages);
 * blocks parked in live threads' caches keep theirs.
 *
 * <p>The sampler holds its pool weakly, so it never keeps a dropped pool
 * alive, and stops when the pool closes.
 */
final class AutoTrim {
    private static final ScheduledThreadPoolExecutor TIMER = timer();
    /** Samples per interval: the coarseness with which "free for the whole interval" is seen. */
    private static final int SAMPLES = 4;

    private final WeakReference<Pool> pool;
    private final Duration idleTime;
    private final long idleNanos;
    private final AtomicLong trims = new AtomicLong();
    private final AtomicLong bytesReturned = new AtomicLong();
    private final ScheduledFuture<?> task;
    /** The interval's start and the least free bytes sampled in it; the timer thread's alone. */
    private long windowStart = System.nanoTime();
    private long lowWater = Long.MAX_VALUE;
    /** Set while the pool closes; guarded by this. */
    private boolean paused;

    private AutoTrim(Pool pool, Duration idleTime) {
        this.pool = new WeakReference<>(pool);
        this.idleTime = idleTime;
        this.idleNanos = idleTime.toNanos();
        long period = Math.max(1, idleNanos / SAMPLES);
        this.task = TIMER.scheduleAtFixedRate(this::sample, period, period, TimeUnit.NANOSECONDS);
    }

    static AutoTrim start(Pool pool, Duration idleTime) {
        return new AutoTrim(pool, idleTime);
    }

    private static ScheduledThreadPoolExecutor timer() {
        ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, runnable -> {
            Thread thread = new Thread(runnable, "nativepool-auto-trim");
            thread.setDaemon(true);
            return thread;
        });
        timer.setRemoveOnCancelPolicy(true);
        return timer;
    }

    /** One sample; under the lock, so that {@link #pause()} waits for a sample in progress. */
    private synchronized void sample() {
        if (paused) {
            return;
        }
        Pool target = pool.get();
        if (target == null || target.isClosed()) {
            stop();
            return;
        }
        try {
            PoolStats stats = target.stats();
            lowWater = Math.min(lowWater, stats.freeBytes());
            long now = System.nanoTime();
            if (now - windowStart < idleNanos) {
                return;
            }
            if (stats.regions() > 0 && lowWater >= stats.bytesReserved() / stats.regions()) {
                long bytes = target.trim();
                if (bytes > 0) {
                    trims.incrementAndGet();
                    bytesReturned.addAndGet(bytes);
                }
            }
            windowStart = now;
            lowWater = Long.MAX_VALUE;
        } catch (PoolClosedException closed) {
            stop();
        }
    }

    void stop() {
        task.cancel(false);
    }

    /**
     * Holds the samples back, once a sample in progress is done: a pool's
     * close then never finds the trim thread in flight ({@code PoolBusyException}).
     */
    synchronized void pause() {
        paused = true;
    }

    /** Lets the samples go on, after a close that was refused. */
    synchronized void resume() {
        paused = false;
    }

    AutoTrimStats stats() {
        return new AutoTrimStats(idleTime, trims.get(), bytesReturned.get());
    }
}
