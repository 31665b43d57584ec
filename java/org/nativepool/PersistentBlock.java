package org.nativepool;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;
import org.nativepool.internal.PersistentNative;

/**
 * A typed handle to a block of a {@link PersistentPool}, named by its offset
 * in the file: {@link #offset()} stays valid across closing and reopening
 * the pool, while this handle belongs to one open pool and throws
 * {@link PoolClosedException} once that pool is closed.
 *
 * <p>Unlike a {@link MemoryBlock}, a persistent block is not freed by
 * dropping or closing its handle (there is no {@code close()}): it lives in
 * the file until {@link PersistentPool#free(int)} or a transaction frees it.
 * The accessors are bounds-checked against the block; a handle kept after its
 * block was freed reads and writes that heap space (never memory outside the
 * mapping), or, after the pool {@linkplain PersistentPool#grow grew}, throws
 * {@link InvalidArgumentException}, so code should drop handles of blocks it frees.
 *
 * <p>A grow maps the file anew; offsets stay, and each handle makes its view
 * of the block again, in the new mapping, on its first access after the grow.
 *
 * <p>Stores become durable only through {@link #persist(long, long)} (or a
 * transaction's commit, or {@link PersistentPool#flush()} in group-commit mode).
 */
public final class PersistentBlock {
    private final PersistentPool pool;
    private final long offset;
    private final long size;
    /** The accessors' window; made under the pool's guard on first use and after the pool grew. */
    private ByteBuffer window;
    /** The pool's {@link PersistentPool#mapping()} the window was made under. */
    private long windowMapping;

    PersistentBlock(PersistentPool pool, long offset, long size) {
        this.pool = pool;
        this.offset = offset;
        this.size = size;
    }

    /** {@return the block's offset in the file, stable across reopening} */
    public long offset() {
        return offset;
    }

    /** {@return the size the block was allocated with, in bytes} */
    public long size() {
        return size;
    }

    /** {@return the pool this handle belongs to} */
    public PersistentPool pool() {
        return pool;
    }

    /**
     * {@return the byte at {@code offset}}
     *
     * @param offset offset within the block
     * @throws IndexOutOfBoundsException outside the block
     * @throws PoolClosedException once the pool is closed
     */
    public byte getByte(long offset) {
        ByteBuffer w = enter(offset, 1);
        try {
            return w.get((int) offset);
        } finally {
            pool.leave();
        }
    }

    /**
     * Stores a byte.
     *
     * @param offset offset within the block
     * @param value the byte
     * @throws IndexOutOfBoundsException outside the block
     * @throws PoolClosedException once the pool is closed
     */
    public void putByte(long offset, byte value) {
        ByteBuffer w = enter(offset, 1);
        try {
            w.put((int) offset, value);
        } finally {
            pool.leave();
        }
    }

    /**
     * {@return the native-order long at {@code offset}}
     *
     * @param offset offset within the block
     * @throws IndexOutOfBoundsException outside the block
     * @throws PoolClosedException once the pool is closed
     */
    public long getLong(long offset) {
        ByteBuffer w = enter(offset, Long.BYTES);
        try {
            return w.getLong((int) offset);
        } finally {
            pool.leave();
        }
    }

    /**
     * Stores a native-order long.
     *
     * @param offset offset within the block
     * @param value the long
     * @throws IndexOutOfBoundsException outside the block
     * @throws PoolClosedException once the pool is closed
     */
    public void putLong(long offset, long value) {
        ByteBuffer w = enter(offset, Long.BYTES);
        try {
            w.putLong((int) offset, value);
        } finally {
            pool.leave();
        }
    }

    /**
     * Copies {@code length} bytes of {@code src} from {@code srcOffset} into the block.
     *
     * @param offset offset within the block
     * @param src the bytes
     * @param srcOffset first byte of {@code src} to copy
     * @param length number of bytes
     * @throws IndexOutOfBoundsException outside the block or {@code src}
     * @throws PoolClosedException once the pool is closed
     */
    public void copyFrom(long offset, byte[] src, int srcOffset, int length) {
        Objects.checkFromIndexSize(srcOffset, length, src.length);
        ByteBuffer w = enter(offset, length);
        try {
            w.put((int) offset, src, srcOffset, length);
        } finally {
            pool.leave();
        }
    }

    /**
     * Copies {@code length} bytes of the block into {@code dst} from {@code dstOffset}.
     *
     * @param offset offset within the block
     * @param dst the destination
     * @param dstOffset first byte of {@code dst} to fill
     * @param length number of bytes
     * @throws IndexOutOfBoundsException outside the block or {@code dst}
     * @throws PoolClosedException once the pool is closed
     */
    public void copyTo(long offset, byte[] dst, int dstOffset, int length) {
        Objects.checkFromIndexSize(dstOffset, length, dst.length);
        ByteBuffer w = enter(offset, length);
        try {
            w.get((int) offset, dst, dstOffset, length);
        } finally {
            pool.leave();
        }
    }

    /**
     * Makes {@code [offset, offset + length)} of the block durable (see {@link PersistentPool#persist}).
     *
     * @param offset offset within the block
     * @param length number of bytes
     */
    public void persist(long offset, long length) {
        pool.persist(this, offset, length);
    }

    /** Makes the whole block durable. */
    public void persist() {
        pool.persist(this, 0, size);
    }

    /** Checks the range, enters the pool's guard and returns the window; the caller must {@code pool.leave()}. */
    private ByteBuffer enter(long offset, long length) {
        Objects.checkFromIndexSize(offset, length, size);
        long heap = pool.enter();
        long mapping = pool.mapping();
        ByteBuffer w = window;
        // A grow mapped the file anew: the old window still reaches the same bytes (the heap keeps the old
        // mapping until it closes, so a thread racing the grow is safe), but accesses follow the current one.
        if (w == null || windowMapping != mapping) {
            try {
                w = wrap(heap);
            } catch (RuntimeException e) {
                pool.leave();
                throw e;
            }
            window = w;
            windowMapping = mapping;
        }
        return w;
    }

    /** A view of the block in the heap's current mapping; refused for a block freed since (after a grow). */
    private ByteBuffer wrap(long heap) {
        if (size > Integer.MAX_VALUE) {
            throw new InvalidArgumentException("the accessors reach blocks up to 2 GiB; this one has " + size
                    + " bytes");
        }
        return PersistentNative.wrap(heap, this.offset, size).order(ByteOrder.nativeOrder());
    }

    @Override
    public String toString() {
        return "PersistentBlock[offset=" + offset + ", size=" + size + "]";
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof PersistentBlock block && block.pool == pool && block.offset == offset;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(offset) * 31 + System.identityHashCode(pool);
    }
}
