package org.nativepool;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A Java object that owns one native object, reached through a {@code long}
 * handle, and makes every misuse of it an exception instead of a crash.
 *
 * <p>Each native call runs between {@link #acquire()} and {@link #release()},
 * which count the calls in flight (the shared-lock idea of zstd-jni's
 * {@code AutoCloseBase}). {@link #close()} succeeds only when no call is in
 * flight, so the native object is never freed under a running call: a call
 * after close throws {@link PoolClosedException}, a close during a call throws
 * {@link PoolBusyException}. Close is idempotent and thread-safe.
 *
 * <p>Public only so that the handles of {@code org.nativepool.gpu} share the
 * guard; it is not meant to be extended outside nativepool.
 *
 * <p>So that threads calling in a tight loop cannot starve a close, close
 * first bars new calls (they wait, they do not fail), then gives the calls in
 * flight up to {@link #CLOSE_WAIT_NANOS} to finish before it gives up with
 * {@link PoolBusyException} and lets the waiting calls in.
 */
public abstract class NativeResource implements AutoCloseable {
    private static final int CLOSED = -1;
    /** Set while a close waits for the calls in flight; the count stays in the low bits. */
    private static final int CLOSING = 1 << 30;
    private static final long CLOSE_WAIT_NANOS = 1_000_000L;
    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(NativeResource.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final long handle;
    /** Calls in flight, plus {@link #CLOSING}, or {@link #CLOSED}. Accessed only through {@link #STATE}. */
    @SuppressWarnings("unused")
    private volatile int state;

    /**
     * Takes ownership of a native object, which {@link #dispose(long)} frees.
     *
     * @param handle the native object; not 0, which {@link #tryAcquire()} returns once closed
     */
    protected NativeResource(long handle) {
        this.handle = handle;
    }

    /**
     * Enters a native call and returns the handle to use for it.
     *
     * @return the handle given to the constructor
     * @throws PoolClosedException if the resource is closed
     */
    protected final long acquire() {
        long acquired = tryAcquire();
        if (acquired == 0L) {
            throw new PoolClosedException(this + " is closed");
        }
        return acquired;
    }

    /**
     * Like {@link #acquire()}, but returns 0 instead of throwing when closed:
     * for paths where "already closed" is a normal outcome. Call {@link #release()}
     * only after it returned a handle.
     *
     * @return the handle given to the constructor, or 0 if the resource is closed
     */
    protected final long tryAcquire() {
        for (;;) {
            int current = (int) STATE.getVolatile(this);
            if (current == CLOSED) {
                return 0L;
            }
            if ((current & CLOSING) != 0) {
                Thread.onSpinWait();
            } else if (STATE.compareAndSet(this, current, current + 1)) {
                return handle;
            }
        }
    }

    /** Leaves a native call entered with {@link #acquire()}. */
    protected final void release() {
        STATE.getAndAdd(this, -1);
    }

    /** {@return true once {@link #close()} has succeeded} */
    public final boolean isClosed() {
        return (int) STATE.getVolatile(this) == CLOSED;
    }

    /**
     * Frees the native object. Later calls are no-ops.
     *
     * @throws PoolBusyException if another thread is inside a call on this resource
     */
    @Override
    public void close() {
        for (;;) {
            int current = (int) STATE.getVolatile(this);
            if (current == CLOSED) {
                return;
            }
            if ((current & CLOSING) != 0) {
                Thread.onSpinWait(); // another close is deciding
            } else if (STATE.compareAndSet(this, current, current | CLOSING)) {
                break;
            }
        }
        long deadline = System.nanoTime() + CLOSE_WAIT_NANOS;
        int inFlight;
        while ((inFlight = (int) STATE.getVolatile(this) & ~CLOSING) != 0 && System.nanoTime() < deadline) {
            Thread.yield(); // the calls in flight may need this CPU to finish
        }
        if (inFlight != 0 || !STATE.compareAndSet(this, CLOSING, CLOSED)) {
            int busy = (int) STATE.getAndAdd(this, -CLOSING) & ~CLOSING;
            throw new PoolBusyException("cannot close " + this + ": " + busy + " call(s) in flight on other threads");
        }
        dispose(handle);
    }

    /**
     * Frees the native object; runs once, with no call in flight.
     *
     * @param handle the handle given to the constructor
     */
    protected abstract void dispose(long handle);
}
