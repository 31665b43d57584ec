package org.nativepool.gpu;

import java.lang.ref.Reference;
import java.util.Objects;
import org.nativepool.LeakDetector;
import org.nativepool.PoolClosedException;
import org.nativepool.internal.BlockHandle;
import org.nativepool.internal.GpuNative;
import org.nativepool.internal.LeakTracker;

/**
 * What device and pinned buffers share: a block of a manager's stream-ordered
 * pool that returns itself exactly once, in stream order or at once.
 *
 * <p>A buffer dropped without {@code close()} is reported, with the stack that
 * allocated it, when its manager's {@link org.nativepool.LeakDetection}
 * selected it (see {@link LeakDetector}), and freed as {@link #close()} would
 * unless the manager was built with {@code reclaimLeakedBlocks(false)}.
 */
abstract sealed class PooledBuffer implements AutoCloseable permits DeviceBuffer, PinnedBuffer {
    final DeviceManager manager;
    /** The device whose pool it came from, or {@link GpuNative#PINNED}. */
    private final int pool;
    /** The stream it was allocated for, or null. */
    private final CudaStream stream;
    /** Null when the leak detector does not track this buffer. */
    private final LeakTracker leakTracker;
    /**
     * Address, size and closed flag. For a pinned buffer, also keeps the block while a host
     * view of it is reachable (its free action is a method of this buffer, so a view also
     * keeps the buffer reachable); device buffers have no views, so theirs frees at close.
     */
    final BlockHandle block;
    /** The stream an explicit {@link #free(CudaStream)} named, for a free that waits for views. */
    private volatile CudaStream freeOn;

    PooledBuffer(DeviceManager manager, int pool, long address, long size, CudaStream stream) {
        this.manager = manager;
        this.pool = pool;
        this.stream = stream;
        this.block = new BlockHandle(manager.guard, address, size, this::freeHeld);
        this.leakTracker = manager.trackLeak(this, pool, address, size, stream);
    }

    /** {@return the size in bytes, as requested} */
    public long size() {
        return block.size();
    }

    /** {@return the stream the buffer was allocated for, or null if allocated without one} */
    public CudaStream stream() {
        return stream;
    }

    /**
     * {@return true once the buffer was closed or freed} It stays false when only
     * the manager closed, although its memory is then released: copies,
     * {@link #free(CudaStream)} and the address accessors throw {@link PoolClosedException}.
     */
    public boolean isClosed() {
        return block.isClosed();
    }

    /**
     * Frees the buffer in the order of {@code stream}: work already enqueued on
     * {@code stream} may still use it; the pool reuses it only when that is safe.
     *
     * @param stream the stream whose work may still use the buffer: for a device buffer, a
     *     stream of its device; for a pinned buffer, of any device
     * @throws NullPointerException if {@code stream} is null
     * @throws PoolClosedException if the buffer, the stream or the manager is closed
     * @throws org.nativepool.InvalidArgumentException if {@code stream} belongs to another device
     */
    public void free(CudaStream stream) {
        Objects.requireNonNull(stream, "stream");
        manager.requireOwn(stream.manager(), stream);
        if (pool == GpuNative.PINNED) {
            // A pinned buffer takes a stream of any device: nothing below can refuse it.
            if (stream.isClosed()) {
                throw new PoolClosedException(stream + " is closed");
            }
            if (manager.isClosed()) {
                throw new PoolClosedException(this + " belongs to closed " + manager);
            }
            if (!block.isClosed()) {
                freeOn = stream; // read by the free, now or once the last view is gone
                if (closeBlock()) {
                    return;
                }
            }
            throw new PoolClosedException(this + " is already closed");
        }
        long handle = manager.guard.acquire();
        try {
            long streamHandle = stream.guard.acquire();
            try {
                if (!block.closeForFree()) {
                    throw new PoolClosedException(this + " is already closed");
                }
                try {
                    GpuNative.free(handle, pool, block.address(), streamHandle);
                } catch (RuntimeException e) {
                    block.reopen(); // the pool refused, the block is still live: close() must still free it
                    throw e;
                }
                closeTracker();
            } finally {
                stream.guard.release();
            }
        } finally {
            manager.guard.release();
        }
    }

    /**
     * Frees the buffer in the order of the stream it was allocated for, or
     * at once if it has none or that stream is closed (closing a stream waits
     * for its work). Later calls, and calls after the manager closed, do nothing.
     */
    @Override
    public void close() {
        closeBlock();
    }

    /** Closes the block: its free runs now, or for a viewed pinned block once no view holds it. */
    private boolean closeBlock() {
        boolean closed = true; // close() throws only from the free, after this call closed the block
        try {
            closed = block.close();
            return closed;
        } finally {
            if (closed) {
                closeTracker();
            }
        }
    }

    /** The block's free, once no view holds it: on the stream free() named, else as close() frees. */
    private void freeHeld() {
        CudaStream on = freeOn;
        release(manager, pool, block.address(), on != null ? on : stream);
    }

    /**
     * Frees a block as {@link #close()} does: in the order of {@code stream}
     * while it is open, else at once; nothing once the manager is closed (it
     * released all memory). Also how the leak detector reclaims a dropped buffer.
     *
     * @return whether this call freed the block
     */
    static boolean release(DeviceManager manager, int pool, long address, CudaStream stream) {
        long handle = manager.guard.tryAcquire();
        if (handle == 0L) {
            return false;  // the manager released all memory
        }
        try {
            long streamHandle = stream == null ? 0L : stream.guard.tryAcquire();
            try {
                GpuNative.free(handle, pool, address, streamHandle);
                return true;
            } finally {
                if (streamHandle != 0L) {
                    stream.guard.release();
                }
            }
        } finally {
            manager.guard.release();
        }
    }

    /** The block is freed: the leak detector forgets the buffer. */
    private void closeTracker() {
        if (leakTracker != null) {
            leakTracker.close();
        }
        // Until the tracker is closed, the cleaner must not see this buffer unreachable.
        Reference.reachabilityFence(this);
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[0x" + Long.toHexString(block.address()) + ", " + block.size() + " bytes"
                + (pool >= 0 ? ", device " + pool : "") + (block.isClosed() ? ", closed]" : "]");
    }
}
