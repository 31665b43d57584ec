package org.nativepool.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;

/**
 * Keeps native memory alive while something still reaches it: uses in
 * flight (an accessor between {@link #retain()} and {@link #release()}) and
 * views (a {@code ByteBuffer} bound with {@link #bind(Object, ViewGuard)}, until the
 * garbage collector finds it unreachable). {@link #close()} marks the memory
 * released for its owner; the action that really frees it runs once, when
 * the last use or view is gone, possibly on the views' cleaner thread.
 *
 * <p>This is how a view can never outlive its memory on JDK 17, where a
 * direct buffer cannot be revoked: instead of being freed under a live view,
 * the memory is quarantined (still reserved, counted as live) until the view
 * is unreachable. The cleaner's action holds this guard, and so whatever its
 * free action holds (a handle, a pool), strongly: the leak detector never
 * sees a handle unreachable while a view of its block lives.
 *
 * <p>State: the number of uses and views in the low 31 bits, {@code CLOSED}
 * in the sign bit; both change in one CAS, so a retain after close always
 * fails and the free action runs exactly once. Not final only for
 * {@link BlockHandle}, the guard of one block.
 */
public class ViewGuard {
    private static final int CLOSED = 1 << 31;
    private static final VarHandle STATE;
    /** One daemon thread for every view of the library. */
    private static final Cleaner VIEWS = Cleaner.create(runnable -> {
        Thread thread = new Thread(runnable, "nativepool-views");
        thread.setDaemon(true);
        return thread;
    });
    private static final System.Logger LOG = System.getLogger("org.nativepool");

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(ViewGuard.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Runnable free;
    @SuppressWarnings("unused") // through STATE
    private volatile int state;

    /**
     * A guard whose memory is freed by {@code free}.
     *
     * @param free frees the memory; runs once, after {@link #close()}, with no use or view left
     */
    public ViewGuard(Runnable free) {
        this.free = free;
    }

    /** {@return true, and one more use counted, unless the guard is closed} */
    public boolean retain() {
        for (;;) {
            int current = (int) STATE.getVolatile(this);
            if ((current & CLOSED) != 0) {
                return false;
            }
            if (STATE.compareAndSet(this, current, current + 1)) {
                return true;
            }
        }
    }

    /** Ends a use begun by a successful {@link #retain()}; the last one after close frees. */
    public void release() {
        if ((int) STATE.getAndAdd(this, -1) - 1 == CLOSED) {
            free.run();
        }
    }

    /**
     * Marks the memory released for its owner: frees it now when nothing uses
     * or views it, else when the last use or view goes. Idempotent.
     *
     * @return true if this call closed the guard (false if it was already closed)
     */
    public boolean close() {
        for (;;) {
            int current = (int) STATE.getVolatile(this);
            if ((current & CLOSED) != 0) {
                return false;
            }
            if (STATE.compareAndSet(this, current, current | CLOSED)) {
                if (current == 0) {
                    free.run();
                }
                return true;
            }
        }
    }

    /**
     * For a guard that no use or view ever held: closes it without running the free
     * action, for an owner that frees the memory itself next (a device block freed in
     * the order of a stream the caller names); if that free is refused,
     * {@link #reopen()} makes the guard open again.
     *
     * @return true if this call closed it (false if it was already closed)
     */
    public final boolean closeForFree() {
        return STATE.compareAndSet(this, 0, CLOSED);
    }

    /** Undoes {@link #closeForFree()}: the owner's free was refused, the memory is still live. */
    public final void reopen() {
        STATE.setVolatile(this, 0);
    }

    /** {@return true once {@link #close()} was called} */
    public boolean isClosed() {
        return ((int) STATE.getVolatile(this) & CLOSED) != 0;
    }

    /** {@return the uses and views that keep the memory now} */
    public int holders() {
        return (int) STATE.getVolatile(this) & ~CLOSED;
    }

    /**
     * Counts {@code view} as a holder of this memory and of {@code outer},
     * the guard of what contains it, until the view is unreachable; then
     * both let go, in that order, so the memory goes back before what
     * contains it (a block before its pool).
     *
     * @param view the view
     * @param outer the guard of what contains the memory; retained here too
     * @param <V> the view's type
     * @return {@code view}, or null if either guard is closed (nothing was counted)
     */
    public <V> V bind(V view, ViewGuard outer) {
        if (!outer.retain()) {
            return null;
        }
        if (!retain()) {
            outer.release();
            return null;
        }
        try {
            VIEWS.register(view, new Release(this, outer));
        } catch (RuntimeException | Error e) {
            release();
            outer.release();
            throw e;
        }
        Reference.reachabilityFence(view);
        return view;
    }

    /** The cleaner's action: must not reference the view, or it would never become unreachable. */
    private record Release(ViewGuard first, ViewGuard then) implements Runnable {
        @Override
        public void run() {
            try {
                first.release();
            } catch (RuntimeException e) {
                // A canary pool may report damage found when the quarantined block is finally freed.
                LOG.log(System.Logger.Level.WARNING, "nativepool: freeing memory after its last view went", e);
            } finally {
                then.release();
            }
        }
    }
}
