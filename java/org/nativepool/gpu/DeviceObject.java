package org.nativepool.gpu;

import org.nativepool.NativeResource;

/**
 * A native object that a {@link DeviceManager} made on one of its devices:
 * a stream or an event. Every native call on it needs two handles, the
 * manager's and its own, so both guards are held for the call; that is why a
 * closed manager or a closed object each throw instead of reaching a freed
 * handle. Disposing it needs the manager too, and is skipped once the manager
 * has closed, since the manager destroys what it made.
 */
abstract class DeviceObject extends NativeResource {
    private final DeviceManager manager;
    private final Device device;

    DeviceObject(DeviceManager manager, Device device, long handle) {
        super(handle);
        this.manager = manager;
        this.device = device;
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
        long self = acquire();
        try {
            long handle = manager.enter();
            try {
                return query.test(handle, self);
            } finally {
                manager.exit();
            }
        } finally {
            release();
        }
    }

    /** Holds this object open for a call made through another object. */
    final long enter() {
        return acquire();
    }

    /** Like {@link #enter()}, but 0 instead of an exception when closed. */
    final long tryEnter() {
        return tryAcquire();
    }

    final void exit() {
        release();
    }

    @Override
    protected final void dispose(long self) {
        long handle = manager.tryEnter();
        if (handle == 0L) {
            return; // the manager destroyed it
        }
        try {
            destroy(handle, self);
        } finally {
            manager.exit();
        }
    }

    /** Frees the native object; runs once, with the manager held. */
    abstract void destroy(long manager, long self);
}
