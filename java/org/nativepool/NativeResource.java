package org.nativepool;

import org.nativepool.internal.InFlightGuard;

/**
 * A Java object that owns one native object, reached through a {@code long}
 * handle, and makes every misuse of it an exception instead of a crash.
 *
 * <p>Each native call runs between {@link #acquire()} and {@link #release()},
 * which count the calls in flight. {@link #close()} succeeds only when no call
 * is in flight, so the native object is never freed under a running call: a
 * call after close throws {@link PoolClosedException}, a close during a call
 * throws {@link PoolBusyException}. Close is idempotent and thread-safe; a
 * close that finds threads calling in a loop bars new calls (they wait, they
 * do not fail) and gives the calls in flight up to a millisecond to finish.
 *
 * <p>Public because {@link Pool} extends it; it is not meant to be extended
 * outside nativepool. The guard itself, which the handles of
 * {@code org.nativepool.gpu} use too, is {@code org.nativepool.internal.InFlightGuard}.
 */
public abstract class NativeResource implements AutoCloseable {
    private final long handle;
    private final InFlightGuard guard;

    /**
     * Takes ownership of a native object, which {@link #dispose(long)} frees.
     *
     * @param handle the native object; not 0, which {@link #tryAcquire()} returns once closed
     */
    protected NativeResource(long handle) {
        this.handle = handle;
        this.guard = new InFlightGuard(this, handle);
    }

    /**
     * Enters a native call and returns the handle to use for it.
     *
     * @return the handle given to the constructor
     * @throws PoolClosedException if the resource is closed
     */
    protected final long acquire() {
        return guard.acquire();
    }

    /**
     * Like {@link #acquire()}, but returns 0 instead of throwing when closed:
     * for paths where "already closed" is a normal outcome. Call {@link #release()}
     * only after it returned a handle.
     *
     * @return the handle given to the constructor, or 0 if the resource is closed
     */
    protected final long tryAcquire() {
        return guard.tryAcquire();
    }

    /** Leaves a native call entered with {@link #acquire()}. */
    protected final void release() {
        guard.release();
    }

    /** {@return the guard itself, for the handles of this resource's blocks: it tells them the resource closed} */
    final InFlightGuard guard() {
        return guard;
    }

    /** {@return true once {@link #close()} has succeeded} */
    public final boolean isClosed() {
        return guard.isClosed();
    }

    /**
     * Frees the native object. Later calls are no-ops.
     *
     * @throws PoolBusyException if another thread is inside a call on this resource
     */
    @Override
    public void close() {
        if (guard.close()) {
            dispose(handle);
        }
    }

    /**
     * Frees the native object; runs once, with no call in flight.
     *
     * @param handle the handle given to the constructor
     */
    protected abstract void dispose(long handle);
}
