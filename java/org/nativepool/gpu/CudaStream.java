package org.nativepool.gpu;

import java.nio.ByteBuffer;
import java.util.Objects;
import org.nativepool.internal.GpuNative;

/**
 * A queue of GPU work that runs in order. Async methods return once the work
 * is enqueued; {@link #synchronize()} waits for it. Copies are bounds-checked
 * against both buffers before anything is enqueued. Memory used by an async
 * copy must stay alive and untouched until the copy has completed.
 *
 * <p>Closing a stream waits for its work, and returns the blocks freed on it
 * to the pools.
 */
public final class CudaStream extends DeviceObject {
    CudaStream(DeviceManager manager, Device device, long handle) {
        super(manager, device, handle);
    }

    /**
     * Enqueues a copy of {@code bytes} from {@code src} at {@code srcOffset}
     * to {@code dst} at {@code dstOffset}. The direction follows from the
     * memory: host to device, device to host, device to device, or between
     * two devices (a peer copy, on a stream of either device).
     *
     * @param dst the memory to copy to
     * @param dstOffset where in {@code dst} the copy starts, in bytes
     * @param src the memory to copy from
     * @param srcOffset where in {@code src} the copy starts, in bytes
     * @param bytes how many bytes to copy
     * @throws org.nativepool.InvalidArgumentException if a range runs past its buffer, both sides are
     *         host memory, or the stream's device is not involved in the copy
     * @throws org.nativepool.PoolClosedException if a buffer, the stream or the manager is closed
     */
    public void copyAsync(GpuMemory dst, long dstOffset, GpuMemory src, long srcOffset, long bytes) {
        copy(dst, dstOffset, src, srcOffset, bytes, false);
    }

    /**
     * Enqueues a copy of all of {@code src} to the start of {@code dst}, as
     * {@link #copyAsync(GpuMemory, long, GpuMemory, long, long)} does.
     *
     * @param dst the memory to copy to, at least as large as {@code src}
     * @param src the memory to copy from
     */
    public void copyAsync(GpuMemory dst, GpuMemory src) {
        copy(dst, 0, src, 0, src.size(), false);
    }

    /**
     * Like {@link #copyAsync(GpuMemory, long, GpuMemory, long, long)}, then waits for the stream.
     *
     * @param dst the memory to copy to
     * @param dstOffset where in {@code dst} the copy starts, in bytes
     * @param src the memory to copy from
     * @param srcOffset where in {@code src} the copy starts, in bytes
     * @param bytes how many bytes to copy
     */
    public void copy(GpuMemory dst, long dstOffset, GpuMemory src, long srcOffset, long bytes) {
        copy(dst, dstOffset, src, srcOffset, bytes, true);
    }

    /**
     * Copies all of {@code src} to the start of {@code dst} and waits for the stream.
     *
     * @param dst the memory to copy to, at least as large as {@code src}
     * @param src the memory to copy from
     */
    public void copy(GpuMemory dst, GpuMemory src) {
        copy(dst, 0, src, 0, src.size(), true);
    }

    /** Blocks until all work enqueued so far has completed. */
    public void synchronize() {
        call(GpuNative::synchronizeStream);
    }

    /**
     * Captures the work enqueued so far in {@code event}.
     *
     * @param event an event of this stream's device
     * @throws org.nativepool.InvalidArgumentException if the event belongs to another manager
     * @throws CudaException if the event belongs to another device
     */
    public void record(CudaEvent event) {
        manager().requireOwn(event.manager(), event);
        call((handle, stream) -> {
            long e = event.guard.acquire();
            try {
                GpuNative.recordEvent(handle, e, stream);
            } finally {
                event.guard.release();
            }
        });
    }

    /**
     * Makes work enqueued after this call wait for {@code event}; the host does not wait.
     *
     * @param event an event of this stream's manager
     * @throws org.nativepool.InvalidArgumentException if the event belongs to another manager
     */
    public void waitFor(CudaEvent event) {
        manager().requireOwn(event.manager(), event);
        call((handle, stream) -> {
            long e = event.guard.acquire();
            try {
                GpuNative.waitEvent(handle, stream, e);
            } finally {
                event.guard.release();
            }
        });
    }

    private void copy(GpuMemory dst, long dstOffset, GpuMemory src, long srcOffset, long bytes, boolean wait) {
        long[] to = side(dst, dstOffset);
        long[] from = side(src, srcOffset);
        ByteBuffer toHost = host(dst);
        ByteBuffer fromHost = host(src);
        call((handle, stream) -> GpuNative.copy(handle, to, toHost, from, fromHost, bytes, stream, wait));
    }

    /** A side's descriptor; a pageable host side's address and size the glue takes from {@link #host}. */
    private long[] side(GpuMemory memory, long offset) {
        Objects.requireNonNull(memory, "memory");
        long address = 0;
        if (memory instanceof PooledBuffer buffer) {
            manager().requireOwn(buffer.manager, buffer);
            address = buffer.block.liveAddress();
        }
        return new long[] {address, memory.size(), memory.memoryKind().ordinal(), memory.device(), offset};
    }

    /** {@return the buffer of a pageable host side, or null for device and pinned memory} */
    private static ByteBuffer host(GpuMemory memory) {
        return memory instanceof HostMemory host ? host.liveBuffer() : null;
    }

    @Override
    void destroy(long manager, long stream) {
        GpuNative.destroyStream(manager, stream);
    }

    @Override
    public String toString() {
        return "CudaStream[" + device() + "]";
    }
}
