package org.nativepool.gpu;

import java.util.Objects;
import org.nativepool.internal.GpuNative;

/** One GPU of a {@link DeviceManager}, with its pool of device memory. */
public final class Device {
    private final DeviceManager manager;
    private final int index;

    Device(DeviceManager manager, int index) {
        this.manager = manager;
        this.index = index;
    }

    /** {@return the device ordinal, from 0 to {@link DeviceManager#deviceCount()} - 1} */
    public int index() {
        return index;
    }

    /** {@return the manager this device belongs to} */
    public DeviceManager manager() {
        return manager;
    }

    /** {@return a new stream on this device} Close it when done. */
    public CudaStream createStream() {
        long handle = manager.guard.acquire();
        try {
            return new CudaStream(manager, this, GpuNative.createStream(handle, index));
        } finally {
            manager.guard.release();
        }
    }

    /** {@return a new event on this device} Close it when done. */
    public CudaEvent createEvent() {
        long handle = manager.guard.acquire();
        try {
            return new CudaEvent(manager, this, GpuNative.createEvent(handle, index));
        } finally {
            manager.guard.release();
        }
    }

    /**
     * Device memory for work on {@code stream}, 256-byte aligned. Stream
     * ordered: it may be a block freed on {@code stream} whose work is still
     * pending, or one freed on another stream after which {@code stream} was
     * made to wait, so it is safe to use on {@code stream} (or after
     * synchronising with it). close() frees it in the order of {@code stream}.
     *
     * @param size the bytes wanted, at least 1; the block holds them rounded up to 256
     * @param stream the stream the buffer is for, of this device
     * @return the buffer
     * @throws org.nativepool.OutOfPoolMemoryException if the pool cannot grow: it holds its
     *     maximum, or the device refused more memory (then a {@link CudaException} is the cause)
     * @throws CudaException if another runtime call fails
     * @throws org.nativepool.InvalidArgumentException if {@code size} is not positive, or the
     *     stream belongs to another device or manager
     */
    public DeviceBuffer allocate(long size, CudaStream stream) {
        Objects.requireNonNull(stream, "stream");
        return new DeviceBuffer(manager, this, manager.allocate(index, size, stream), size, stream);
    }

    /**
     * Device memory usable on any stream at once; close() frees it immediately.
     *
     * @param size the bytes wanted, at least 1; the block holds them rounded up to 256
     * @return the buffer
     * @throws org.nativepool.OutOfPoolMemoryException if the pool cannot grow: it holds its
     *     maximum, or the device refused more memory (then a {@link CudaException} is the cause)
     * @throws CudaException if another runtime call fails
     * @throws org.nativepool.InvalidArgumentException if {@code size} is not positive
     */
    public DeviceBuffer allocate(long size) {
        return new DeviceBuffer(manager, this, manager.allocate(index, size, null), size, null);
    }

    /** {@return a snapshot of this device's memory and pool figures} */
    public DeviceStats stats() {
        return manager.stats(index, index);
    }

    /**
     * Waits for the free events of all cached blocks, returns them to the
     * pool and the pool's idle regions to the device.
     *
     * @return bytes given back to the device
     */
    public long trim() {
        long handle = manager.guard.acquire();
        try {
            return GpuNative.trim(handle, index);
        } finally {
            manager.guard.release();
        }
    }

    /**
     * {@return the name of this device's pool, {@code <manager>:device<i>}} The
     * manager's {@link DeviceManager#name() name} and the device's index: the
     * pool's name in its snapshots, leak reports, Flight Recorder events and
     * JMX bean, so that two managers of one runtime are told apart.
     */
    public String poolName() {
        return manager.name() + ":device" + index;
    }

    @Override
    public String toString() {
        return manager.runtimeName() + ":" + index;
    }
}
