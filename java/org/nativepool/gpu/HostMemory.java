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
 * alive and untouched until the copies using it have completed.
 */
public final class HostMemory implements GpuMemory {
    private final long address;
    private final long size;
    /** Keeps the buffer (and so its memory) reachable while this view is; a block is checked before each copy. */
    private final Object owner;

    private HostMemory(long address, long size, Object owner) {
        this.address = address;
        this.size = size;
        this.owner = owner;
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
        return new HostMemory(address, buffer.capacity(), buffer);
    }

    /**
     * A block of a host-memory pool. Each copy checks that the block is still open.
     *
     * @param block an open block of a pool whose memory is {@link MemoryKind#hostAccessible()}
     * @return a view of the block's memory
     * @throws InvalidArgumentException if the block's memory is not host accessible
     * @throws PoolClosedException if the block or its pool is closed
     */
    public static HostMemory of(MemoryBlock block) {
        Objects.requireNonNull(block, "block");
        if (!block.pool().memoryKind().hostAccessible()) {
            throw new InvalidArgumentException(block + " is not host memory");
        }
        return new HostMemory(block.address(), block.size(), block);
    }

    /** The address for a copy; throws once the pool block it views is closed (its memory may be reused). */
    long liveAddress() {
        if (owner instanceof MemoryBlock block && (block.isClosed() || block.pool().isClosed())) {
            throw new PoolClosedException(this + " views closed " + block);
        }
        return address;
    }

    @Override
    public long size() {
        return size;
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
        return "HostMemory[0x" + Long.toHexString(address) + ", " + size + " bytes]";
    }
}
