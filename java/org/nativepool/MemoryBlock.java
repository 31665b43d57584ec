package org.nativepool;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.nativepool.internal.LeakTracker;
import org.nativepool.internal.PoolNative;

/**
 * A block of host-accessible pool memory that returns itself to its pool on
 * {@link #close()}. Close is idempotent and thread-safe; after it, every
 * accessor throws {@link PoolClosedException} rather than exposing freed
 * memory.
 *
 * <p>A handle dropped without {@code close()} is reported, with the stack
 * that allocated it, when its pool's {@link LeakDetection} selected it
 * (see {@link LeakDetector}).
 *
 * <p>A {@link ByteBuffer} obtained from {@link #asByteBuffer()} is a plain
 * direct buffer over the block: like any direct buffer it cannot be revoked,
 * so it must not be used after the block or its pool is closed.
 */
public final class MemoryBlock implements AutoCloseable {
    private static final VarHandle CLOSED;

    static {
        try {
            CLOSED = MethodHandles.lookup().findVarHandle(MemoryBlock.class, "closed", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Pool pool;
    private final long address;
    private final long size;
    /** Null when the leak detector does not track this handle. */
    private final LeakTracker leakTracker;
    @SuppressWarnings("unused")
    private volatile boolean closed;

    MemoryBlock(Pool pool, long address, long size) {
        this.pool = pool;
        this.address = address;
        this.size = size;
        this.leakTracker = LeakDetector.track(this, pool.leakOwner, address, size, null);
    }

    /**
     * {@return the native address of the first byte}
     *
     * @throws PoolClosedException if the block or its pool is closed
     */
    public long address() {
        checkOpen();
        return address;
    }

    /** {@return the usable size in bytes: the size asked for, or a fixed pool's block size} */
    public long size() {
        return size;
    }

    /** {@return the pool this block came from} */
    public Pool pool() {
        return pool;
    }

    /**
     * {@return a new direct buffer over the whole block, position 0, limit
     * {@link #size()}, native byte order}
     *
     * @throws PoolClosedException if the block or its pool is closed
     * @throws InvalidArgumentException if the block is larger than a ByteBuffer can address (2 GiB - 1)
     */
    public ByteBuffer asByteBuffer() {
        checkOpen();
        if (size > Integer.MAX_VALUE) {
            throw new InvalidArgumentException("a block of " + size + " bytes exceeds the 2 GiB limit of ByteBuffer;"
                    + " use address() with your own accessor instead");
        }
        return PoolNative.wrap(address, size).order(ByteOrder.nativeOrder());
    }

    /**
     * {@return true once {@link #close()} was called on this handle} It stays false
     * when only the pool closed, although the block is then released and
     * {@link #address()} throws {@link PoolClosedException}.
     */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Returns the block to its pool. Later calls, and calls after the pool closed, do nothing.
     *
     * @throws MemoryCorruptionException if the pool has canaries and a guard of the block was
     *     overwritten; the block then stays allocated until the pool closes
     */
    @Override
    public void close() {
        if (CLOSED.compareAndSet(this, false, true)) {
            try {
                pool.freeFromHandle(address);
            } finally {
                if (leakTracker != null) {
                    leakTracker.close();
                }
                // Until the tracker is closed, the cleaner must not see this handle unreachable.
                Reference.reachabilityFence(this);
            }
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new PoolClosedException("block 0x" + Long.toHexString(address) + " of " + pool + " is closed");
        }
        if (pool.isClosed()) {
            throw new PoolClosedException("block 0x" + Long.toHexString(address) + " belongs to closed " + pool);
        }
    }

    @Override
    public String toString() {
        return "MemoryBlock[0x" + Long.toHexString(address) + ", " + size + " bytes, " + pool.name()
                + (closed ? ", closed]" : "]");
    }
}
