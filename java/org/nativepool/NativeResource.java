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
 *
 * <p>The count is split into stripes, one per thread as far as the number of
 * processors goes, each on cache lines of its own: a call writes only its
 * thread's stripe, so threads calling one resource at once do not bounce a
 * shared line; {@link #close()}, which is rare, pays by reading every stripe.
 */
public abstract class NativeResource implements AutoCloseable {
    /*
     * Why no call runs on a freed handle: a Dekker handshake. A call adds 1 to
     * its stripe (getAndAdd), then reads the state (getVolatile); a close
     * stores CLOSING (compareAndSet), then reads the stripes (getVolatile).
     * These are all volatile accesses, which the Java memory model puts in one
     * total order that keeps each thread's program order, so no explicit
     * fullFence is needed (on x86 the add is a LOCK XADD, itself the
     * store-load fence). If the call read OPEN, its read, hence its add, came
     * before the close's store, which comes before the close's reads: the
     * close counts the call. Otherwise the call sees the close, takes its add
     * back and waits for the decision. Either way the close sees the call or
     * the call sees the close, never neither.
     *
     * The close sums the stripes instead of asking each to be 0, so threads
     * sharing a stripe, or a release on another thread than its acquire, cannot
     * fool it. The sum never counts too few: the add of every call that got in
     * precedes the CLOSING store, and is only undone by that call's release.
     * It may count a call that has just seen CLOSING and not yet taken its add
     * back; that delays the decision by a few instructions (or, should that
     * thread be descheduled just there for the whole wait, makes the close
     * give up as if the call were in flight). A release
     * happens-before the close's read that sees it, so the native work of every
     * finished call happens-before dispose.
     */
    private static final int OPEN = 0;
    /** Set while a close waits for the calls in flight; only that close changes it again. */
    private static final int CLOSING = 1;
    private static final int CLOSED = 2;
    private static final long CLOSE_WAIT_NANOS = 1_000_000L;
    /**
     * Stripes per resource: the processor count rounded up to a power of two,
     * 4 to 64. From 4 on, the Fibonacci hashing in {@link #stripe()} gives
     * threads with consecutive ids (made one after the other) different stripes.
     */
    private static final int STRIPES =
            Integer.highestOneBit(Math.max(4, Math.min(64, Runtime.getRuntime().availableProcessors())) * 2 - 1);
    private static final int STRIPE_SHIFT = Long.SIZE - Integer.numberOfTrailingZeros(STRIPES);
    /** Ints from a stripe to its neighbours: 128 bytes, the pair of lines adjacent-line prefetch fetches together. */
    private static final int PAD = 32;
    private static final VarHandle STATE;
    private static final VarHandle COUNT = MethodHandles.arrayElementVarHandle(int[].class);

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(NativeResource.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final long handle;
    /** {@link #OPEN}, {@link #CLOSING} or {@link #CLOSED}. Accessed only through {@link #STATE}. */
    @SuppressWarnings("unused")
    private volatile int state;
    /**
     * The calls in flight, by stripe: stripe {@code s} at {@code (s + 1) * PAD},
     * so that the array header and the objects around it are as far away as
     * two stripes are from each other. Accessed only through {@link #COUNT}.
     */
    private final int[] inFlight = new int[(STRIPES + 2) * PAD];

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
        int stripe = stripe();
        COUNT.getAndAdd(inFlight, stripe, 1);
        if ((int) STATE.getVolatile(this) != OPEN) {
            return enterAfterClose(stripe);
        }
        return handle;
    }

    /** {@link #tryAcquire()} when it met a close: steps back out, waits for the close to decide, tries again. */
    private long enterAfterClose(int stripe) {
        do {
            COUNT.getAndAdd(inFlight, stripe, -1);
            int current;
            while ((current = (int) STATE.getVolatile(this)) == CLOSING) {
                Thread.yield(); // a decision takes up to CLOSE_WAIT_NANOS; the calls it waits for may need this CPU
            }
            if (current == CLOSED) {
                return 0L;
            }
            COUNT.getAndAdd(inFlight, stripe, 1);
        } while ((int) STATE.getVolatile(this) != OPEN);
        return handle;
    }

    /** Leaves a native call entered with {@link #acquire()}. */
    protected final void release() {
        COUNT.getAndAdd(inFlight, stripe(), -1);
    }

    /**
     * The calling thread's stripe, as an index into {@link #inFlight}: a
     * Fibonacci hash of its id, so no thread-local lookup and no state per thread.
     */
    private static int stripe() {
        long id = Thread.currentThread().getId(); // what JDK 19's threadId() returns
        return ((int) (id * 0x9E3779B97F4A7C15L >>> STRIPE_SHIFT) + 1) * PAD;
    }

    /** {@return the calls in flight now, summed over the stripes} */
    private int callsInFlight() {
        int calls = 0;
        for (int stripe = PAD; stripe <= STRIPES * PAD; stripe += PAD) {
            calls += (int) COUNT.getVolatile(inFlight, stripe);
        }
        return calls;
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
            if (current == CLOSING) {
                Thread.onSpinWait(); // another close is deciding
            } else if (STATE.compareAndSet(this, OPEN, CLOSING)) {
                break;
            }
        }
        long deadline = System.nanoTime() + CLOSE_WAIT_NANOS;
        int calls;
        while ((calls = callsInFlight()) != 0 && System.nanoTime() < deadline) {
            Thread.yield(); // the calls in flight may need this CPU to finish
        }
        if (calls != 0) {
            STATE.setVolatile(this, OPEN); // the waiting calls go in
            throw new PoolBusyException("cannot close " + this + ": " + calls + " call(s) in flight on other threads");
        }
        STATE.setVolatile(this, CLOSED);
        dispose(handle);
    }

    /**
     * Frees the native object; runs once, with no call in flight.
     *
     * @param handle the handle given to the constructor
     */
    protected abstract void dispose(long handle);
}
