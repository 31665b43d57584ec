package org.nativepool.gpu;

import java.nio.ByteBuffer;
import java.util.Objects;
import org.nativepool.InvalidArgumentException;
import org.nativepool.MemoryBlock;
import org.nativepool.MemoryKind;
import org.nativepool.PoolClosedException;
import org.nativepool.internal.GpuNative;
import org.nativepool.internal.NativeLibrary;

/**
 * Pageable host memory as a copy source or destination: a direct
 * {@link ByteBuffer} or a host pool's {@link MemoryBlock}. The memory must stay
 * untouched until the copies using it have completed. A copy reaches it
 * through a direct buffer (the block's {@link MemoryBlock#asByteBuffer() view}),
 * so the native side never takes a raw host address, and a block's memory
 * stays reserved while this object is reachable, even after the block closes.
 */
public final class HostMemory implements GpuMemory {
    private final long address;
    /** The memory as the copies reach it: the caller's buffer, or a view of the block. */
    private final ByteBuffer buffer;
    /** The block viewed, checked before each copy; null for a caller's buffer. */
    private final MemoryBlock block;

    private HostMemory(long address, ByteBuffer buffer, MemoryBlock block) {
        this.address = address;
        this.buffer = buffer;
        this.block = block;
    }

    /**
     * The whole capacity of a direct buffer (position and limit are ignored).
     *
     * @param buffer a direct buffer, kept reachable by the view
     * @return a view of the buffer's memory
     * @throws InvalidArgumentException for a heap buffer, which has no stable address, or a
     *     read-only one, which a copy could write
     */
    public static HostMemory of(ByteBuffer buffer) {
        Objects.requireNonNull(buffer, "buffer");
        if (buffer.isReadOnly()) {
            // A copy to this memory would write through the read-only view.
            throw new InvalidArgumentException("a read-only ByteBuffer cannot be copied to or from a GPU");
        }
        // May be the first call into nativepool.
        NativeLibrary.ensureLoaded();
        long address = buffer.isDirect() ? GpuNative.directAddress(buffer) : 0L;
        if (address == 0L) {
            throw new InvalidArgumentException("only direct ByteBuffers can be copied to or from a GPU");
        }
        return new HostMemory(address, buffer, null);
    }

    /**
     * A block of a host-memory pool, reached through a {@link MemoryBlock#asByteBuffer() view}:
     * its memory stays reserved while this object is reachable (a copy still in flight never
     * writes memory the pool handed to someone else), and each copy checks that the block is
     * still open.
     *
     * @param block an open block of a pool whose memory is {@link MemoryKind#hostAccessible()}
     * @return a view of the block's memory
     * @throws InvalidArgumentException if the block's memory is not host accessible, or the
     *     block is larger than a ByteBuffer can address (2 GiB - 1)
     * @throws PoolClosedException if the block or its pool is closed
     */
    public static HostMemory of(MemoryBlock block) {
        Objects.requireNonNull(block, "block");
        if (!block.pool().memoryKind().hostAccessible()) {
            throw new InvalidArgumentException(block + " is not host memory");
        }
        return new HostMemory(block.address(), block.asByteBuffer(), block);
    }

    /**
     * The memory for a copy; throws once the pool block it views is closed (the copy would
     * write memory its owner gave up).
     */
    ByteBuffer liveBuffer() {
        if (block != null && (block.isClosed() || block.pool().isClosed())) {
            throw new PoolClosedException(this + " views closed " + block);
        }
        return buffer;
    }

    @Override
    public long size() {
        return buffer.capacity();
    }

    @Override
    public MemoryKind memoryKind() {
        return MemoryKind.HOST;
    }

    @Override
    public int device() {
        return -1;
    }

    @Override
    public String toString() {
        return "HostMemory[0x" + Long.toHexString(address) + ", " + buffer.capacity() + " bytes]";
    }
}
