package org.nativepool.gpu;

import org.nativepool.internal.GpuNative;

/**
 * A marker in a stream: {@link CudaStream#record(CudaEvent)} captures the
 * work enqueued so far, and the event completes when that work has. Other
 * streams can wait for it ({@link CudaStream#waitFor(CudaEvent)}) without
 * blocking the host.
 */
public final class CudaEvent extends DeviceObject {
    CudaEvent(DeviceManager manager, Device device, long handle) {
        super(manager, device, handle);
    }

    /**
     * {@return true when the captured work has completed, or nothing was recorded}
     * Never blocks.
     */
    public boolean isComplete() {
        return query(GpuNative::queryEvent);
    }

    /** Blocks until the captured work has completed. */
    public void synchronize() {
        call(GpuNative::synchronizeEvent);
    }

    @Override
    void destroy(long manager, long event) {
        GpuNative.destroyEvent(manager, event);
    }

    @Override
    public String toString() {
        return "CudaEvent[" + device() + "]";
    }
}
