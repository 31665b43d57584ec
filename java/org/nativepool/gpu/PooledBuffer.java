package org.nativepool.gpu;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.nativepool.PoolClosedException;
import org.nativepool.internal.GpuNative;

/**
 * What device and pinned buffers share: a block of a manager's stream-ordered
 * pool that returns itself exactly once, in stream order or at once.
 */
abstract sealed class PooledBuffer implements AutoCloseable permits DeviceBuffer, PinnedBuffer {
    private static final VarHandle CLOSED;

    static {
        try {
            CLOSED = MethodHandles.lookup().findVarHandle(PooledBuffer.class, "closed", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final DeviceManager manager;
    /** The device whose pool it came from, or {@link GpuNative#PINNED}. */
    private final int pool;
    private final long address;
    private final long size;
    /** The stream it was allocated for, or null. */
    private final CudaStream stream;
    @SuppressWarnings("unused")
    private volatile boolean closed;

    PooledBuffer(DeviceManager manager, int pool, long address, long size, CudaStream stream) {
        this.manager = manager;
        this.pool = pool;
        this.address = address;
        this.size = size;
        this.stream = stream;
    }

    /** Size in bytes, as requested. */
    public long size() {
        return size;
    }

    /** The stream the buffer was allocated for, or null if it was allocated without one. */
    public CudaStream stream() {
        return stream;
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Frees the buffer in the order of {@code on}: work already enqueued on
     * {@code on} may still use it; the pool reuses it only when that is safe.
     *
     * @throws PoolClosedException if the buffer, the stream or the manager is closed
     * @throws org.nativepool.InvalidArgumentException if {@code on} belongs to another device
     */
    public void free(CudaStream on) {
        manager.requireOwn(on.manager(), on);
        long handle = manager.enter();
        try {
            long streamHandle = on.enter();
            try {
                if (!CLOSED.compareAndSet(this, false, true)) {
                    throw new PoolClosedException(this + " is already closed");
                }
                try {
                    GpuNative.free(handle, pool, address, streamHandle);
                } catch (RuntimeException e) {
                    closed = false; // the pool refused, the block is still live: close() must still free it
                    throw e;
                }
            } finally {
                on.exit();
            }
        } finally {
            manager.exit();
        }
    }

    /**
     * Frees the buffer in the order of the stream it was allocated for, or
     * at once if it has none or that stream is closed (closing a stream waits
     * for its work). Later calls, and calls after the manager closed, do nothing.
     */
    @Override
    public void close() {
        if (!CLOSED.compareAndSet(this, false, true)) {
            return;
        }
        long handle = manager.tryEnter();
        if (handle == 0L) {
            return;  // the manager released all memory
        }
        try {
            long streamHandle = stream == null ? 0L : stream.tryEnter();
            try {
                GpuNative.free(handle, pool, address, streamHandle);
            } finally {
                if (streamHandle != 0L) {
                    stream.exit();
                }
            }
        } finally {
            manager.exit();
        }
    }

    /** The address for a native call; throws once the buffer or its manager is closed. */
    final long liveAddress() {
        if (closed) {
            throw new PoolClosedException(this + " is closed");
        }
        if (manager.isClosed()) {
            throw new PoolClosedException(this + " belongs to closed " + manager);
        }
        return address;
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[0x" + Long.toHexString(address) + ", " + size + " bytes"
                + (pool >= 0 ? ", device " + pool : "") + (closed ? ", closed]" : "]");
    }
}
