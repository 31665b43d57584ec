package org.nativepool.gpu;

import org.nativepool.NativeResource;
import org.nativepool.internal.GpuNative;

/**
 * A marker in a stream: {@link CudaStream#record(CudaEvent)} captures the
 * work enqueued so far, and the event completes when that work has. Other
 * streams can wait for it ({@link CudaStream#waitFor(CudaEvent)}) without
 * blocking the host.
 */
public final class CudaEvent extends NativeResource {
    private final DeviceManager manager;
    private final Device device;

    CudaEvent(DeviceManager manager, Device device, long handle) {
        super(handle);
        this.manager = manager;
        this.device = device;
    }

    public Device device() {
        return device;
    }

    /** The manager that made this event. */
    public DeviceManager manager() {
        return manager;
    }

    /** True when the captured work has completed, or nothing was recorded. Never blocks. */
    public boolean isComplete() {
        long event = acquire();
        try {
            long handle = manager.enter();
            try {
                return GpuNative.queryEvent(handle, event);
            } finally {
                manager.exit();
            }
        } finally {
            release();
        }
    }

    /** Blocks until the captured work has completed. */
    public void synchronize() {
        long event = acquire();
        try {
            long handle = manager.enter();
            try {
                GpuNative.synchronizeEvent(handle, event);
            } finally {
                manager.exit();
            }
        } finally {
            release();
        }
    }

    long enter() {
        return acquire();
    }

    void exit() {
        release();
    }

    @Override
    protected void dispose(long event) {
        long handle = manager.tryEnter();
        if (handle == 0L) {
            return;  // the manager destroyed it
        }
        try {
            GpuNative.destroyEvent(handle, event);
        } finally {
            manager.exit();
        }
    }

    @Override
    public String toString() {
        return "CudaEvent[" + device + "]";
    }
}
