package org.nativepool.gpu;

import org.nativepool.internal.InFlightGuard;

/**
 * A native object that a {@link DeviceManager} made on one of its devices:
 * a stream or an event. Every native call on it needs two handles, the
 * manager's and its own, so both guards are held for the call; that is why a
 * closed manager or a closed object each throw instead of reaching a freed
 * handle. Disposing it needs the manager too, and is skipped once the manager
 * has closed, since the manager destroys what it made.
 */
abstract class DeviceObject implements AutoCloseable {
    private final DeviceManager manager;
    private final Device device;
    private final long handle;
    /** Held for every native call on this object, also for one made through another object. */
    final InFlightGuard guard;

    DeviceObject(DeviceManager manager, Device device, long handle) {
        this.manager = manager;
        this.device = device;
        this.handle = handle;
        this.guard = new InFlightGuard(this, handle);
    }

    /** {@return the device this object lives on} */
    public final Device device() {
        return device;
    }

    /** {@return the manager that made this object} */
    public final DeviceManager manager() {
        return manager;
    }

    /** A native call that takes the manager's handle and this object's. */
    interface Call {
        void run(long manager, long self);
    }

    /** {@link Call} for a call that answers yes or no. */
    interface Query {
        boolean test(long manager, long self);
    }

    /** Runs {@code call} with this object and its manager both held open. */
    final void call(Call call) {
        query((managerHandle, self) -> {
            call.run(managerHandle, self);
            return true;
        });
    }

    /** Like {@link #call}, for a call that answers yes or no. */
    final boolean query(Query query) {
        long self = guard.acquire();
        try {
            long managerHandle = manager.guard.acquire();
            try {
                return query.test(managerHandle, self);
            } finally {
                manager.guard.release();
            }
        } finally {
            guard.release();
        }
    }

    /** {@return true once {@link #close()} has succeeded} */
    public final boolean isClosed() {
        return guard.isClosed();
    }

    /**
     * Destroys the native object, unless its manager closed first (which destroyed it).
     * Later calls are no-ops.
     *
     * @throws org.nativepool.PoolBusyException if another thread is inside a call on this object
     */
    @Override
    public final void close() {
        if (!guard.close()) {
            return;
        }
        long managerHandle = manager.guard.tryAcquire();
        if (managerHandle == 0L) {
            return; // the manager destroyed it
        }
        try {
            destroy(managerHandle, handle);
        } finally {
            manager.guard.release();
        }
    }

    /** Frees the native object; runs once, with the manager held. */
    abstract void destroy(long manager, long self);
}
