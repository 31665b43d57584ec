package org.nativepool.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.nativepool.PoolBusyException;
import org.nativepool.PoolClosedException;

/**
 * The in-flight guard of one native object: counts the native calls in
 * flight on it, so that it is never freed under a running call, and makes
 * every call after close an exception instead of a crash.
 *
 * <p>Each native call runs between {@link #acquire()} and {@link #release()}
 * (the shared-lock idea of zstd-jni's {@code AutoCloseBase}). {@link #close()}
 * succeeds only when no call is in flight: a call after close throws
 * {@link PoolClosedException}, a close during a call throws
 * {@link PoolBusyException}. Close is idempotent and thread-safe.
 *
 * <p>One class for every native object the library hands out: pools (through
 * {@link org.nativepool.NativeResource}), device managers, and their streams
 * and events, whose calls hold one another's guards. Public for that,
 * in a package the module does not export; on the class path, where nothing
 * is sealed, a guard in the wrong hands still only counts: it frees nothing
 * (its owner does, once {@link #close()} says so), and every handle it
 * returns is validated again by the native side.
 *
 * <p>So that threads calling in a tight loop cannot starve a close, close
 * first bars new calls (they wait, they do not fail), then gives the calls in
 * flight up to {@link #CLOSE_WAIT_NANOS} to finish before it gives up with
 * {@link PoolBusyException} and lets the waiting calls in.
 *
 * <p>The count is split into stripes, one per thread as far as the number of
 * processors goes, each on cache lines of its own: a call writes only its
 * thread's stripe, so threads calling one object at once do not bounce a
 * shared line; {@link #close()}, which is rare, pays by reading every stripe.
 */
public final class InFlightGuard {
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
     * finished call happens-before the owner frees the object.
     */
    private static final int OPEN = 0;
    /** Set while a close waits for the calls in flight; only that close changes it again. */
    private static final int CLOSING = 1;
    private static final int CLOSED = 2;
    private static final long CLOSE_WAIT_NANOS = 1_000_000L;
    /**
     * Stripes per guard: the processor count rounded up to a power of two,
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
            STATE = MethodHandles.lookup().findVarHandle(InFlightGuard.class, "state", int.class);
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

    /** What the guard protects, for messages; its toString() runs only on the way to an exception. */
    private final Object owner;

    /**
     * A guard over a native object, open.
     *
     * @param owner what the guard protects, named in exception messages
     * @param handle the native object; not 0, which {@link #tryAcquire()} returns once closed
     */
    public InFlightGuard(Object owner, long handle) {
        this.owner = owner;
        this.handle = handle;
    }

    /** {@return what the guard protects, as messages name it} */
    public Object owner() {
        return owner;
    }

    /**
     * Enters a native call and returns the handle to use for it.
     *
     * @return the handle given to the constructor
     * @throws PoolClosedException if the guard is closed
     */
    public long acquire() {
        long acquired = tryAcquire();
        if (acquired == 0L) {
            throw new PoolClosedException(owner + " is closed");
        }
        return acquired;
    }

    /**
     * Like {@link #acquire()}, but returns 0 instead of throwing when closed:
     * for paths where "already closed" is a normal outcome. Call {@link #release()}
     * only after it returned a handle.
     *
     * @return the handle given to the constructor, or 0 if the guard is closed
     */
    public long tryAcquire() {
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
    public void release() {
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
    public boolean isClosed() {
        return (int) STATE.getVolatile(this) == CLOSED;
    }

    /**
     * Closes the guard once no call is in flight; later calls return false.
     *
     * @return true when this call closed it: the caller, and only it, then frees the native object
     * @throws PoolBusyException if another thread is inside a call on the object
     */
    public boolean close() {
        for (;;) {
            int current = (int) STATE.getVolatile(this);
            if (current == CLOSED) {
                return false;
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
            throw new PoolBusyException("cannot close " + owner + ": " + calls + " call(s) in flight on other threads");
        }
        STATE.setVolatile(this, CLOSED);
        return true;
    }
}
