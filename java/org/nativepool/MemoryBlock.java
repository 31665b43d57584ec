package org.nativepool;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;
import java.util.function.Supplier;
import org.nativepool.internal.BlockHandle;
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
 * <p>The block is the handle's alone: a raw free of its {@link #address()}
 * ({@link Pool#free(long)}, a batch free, a {@link BlockCache}'s free) is
 * refused with {@link InvalidFreeException} while the handle is open, so the
 * block is never handed out again under it, and {@link #close()} frees only
 * the block it was given.
 *
 * <p>Two ways to reach the bytes, both safe after close on any JDK:
 * <ul>
 *   <li>the bounds-checked accessors ({@link #getLong(long)},
 *       {@link #putLong(long, long)}, {@link #copyFrom(long, byte[], int, int)},
 *       ...), which throw {@link IndexOutOfBoundsException} outside the block
 *       and {@link PoolClosedException} once it is closed;</li>
 *   <li>a {@link ByteBuffer} from {@link #asByteBuffer()}. A direct buffer cannot
 *       be revoked, so instead its memory outlives it: a block closed while a
 *       view of it is still reachable is quarantined (it stays allocated, counted in
 *       {@link PoolStats#liveBlocks()}) and goes back to the pool only once every
 *       view is unreachable; a pool closed with views of its blocks still reachable
 *       keeps its memory until then. A view therefore never reads or writes memory
 *       that belongs to someone else, and never crashes the JVM. The leak detector
 *       never reclaims a block while a view of it is reachable.</li>
 * </ul>
 */
public final class MemoryBlock implements AutoCloseable {
    private final Pool pool;
    /** Null when the leak detector does not track this handle. */
    private final LeakTracker leakTracker;
    /** Address, size and closed flag; closed by {@link #close()}, frees the block once no accessor or view holds it. */
    private final BlockHandle block;
    /** The accessors' window over the block, made on first use; null for blocks beyond 2 GiB. */
    private ByteBuffer window;
    /** JDK 22+: the arena of the block's segments ({@code Segments}), closed before the free; guarded by this. */
    private AutoCloseable scope;

    MemoryBlock(Pool pool, long address, long size) {
        this.pool = pool;
        // A method of this handle, not a lambda over pool and address: a view's cleaner
        // action holds the guard, the guard holds this handle, so the leak detector never
        // sees the handle unreachable while a view of its block lives.
        this.block = new BlockHandle(pool.guard(), address, size, this::freeBlock);
        this.leakTracker = LeakDetector.track(this, pool.leakOwner, address, size, Boolean.TRUE);
    }

    /**
     * {@return the native address of the first byte}
     *
     * @throws PoolClosedException if the block or its pool is closed
     */
    public long address() {
        return block.liveAddress();
    }

    /** {@return the usable size in bytes: the size asked for, or a fixed pool's block size} */
    public long size() {
        return block.size();
    }

    /** {@return the pool this block came from} */
    public Pool pool() {
        return pool;
    }

    /**
     * {@return a new direct buffer over the whole block, position 0, limit
     * {@link #size()}, native byte order} The block's memory stays reserved
     * until this buffer is unreachable, even after {@link #close()} (see the
     * class comment).
     *
     * @throws PoolClosedException if the block or its pool is closed
     * @throws InvalidArgumentException if the block is larger than a ByteBuffer can address (2 GiB - 1)
     */
    public ByteBuffer asByteBuffer() {
        long address = block.liveAddress();
        long size = block.size();
        if (size > Integer.MAX_VALUE) {
            throw new InvalidArgumentException("a block of " + size + " bytes exceeds the 2 GiB limit of ByteBuffer;"
                    + " use the accessors (getLong, copyTo, ...) instead");
        }
        ByteBuffer view;
        long handle = pool.acquire();
        try {
            view = block.bind(PoolNative.wrap(handle, address, size).order(ByteOrder.nativeOrder()), pool.views);
        } finally {
            pool.release();
        }
        if (view == null) {
            block.liveAddress(); // the block or the pool closed meanwhile: throws
        }
        return view;
    }

    /**
     * {@return the byte at {@code offset}}
     *
     * @param offset from the block's first byte
     * @throws IndexOutOfBoundsException if the byte lies outside the block
     * @throws PoolClosedException if the block or its pool is closed
     */
    public byte getByte(long offset) {
        ByteBuffer at = enter(offset, Byte.BYTES);
        try {
            return at.get(index(offset));
        } finally {
            exit();
        }
    }

    /**
     * Stores a byte at {@code offset}.
     *
     * @param offset from the block's first byte
     * @param value the byte
     * @throws IndexOutOfBoundsException if the byte lies outside the block
     * @throws PoolClosedException if the block or its pool is closed
     */
    public void putByte(long offset, byte value) {
        ByteBuffer at = enter(offset, Byte.BYTES);
        try {
            at.put(index(offset), value);
        } finally {
            exit();
        }
    }

    /**
     * {@return the int at {@code offset}, in native byte order}
     *
     * @param offset from the block's first byte; any alignment
     * @throws IndexOutOfBoundsException if a byte of it lies outside the block
     * @throws PoolClosedException if the block or its pool is closed
     */
    public int getInt(long offset) {
        ByteBuffer at = enter(offset, Integer.BYTES);
        try {
            return at.getInt(index(offset));
        } finally {
            exit();
        }
    }

    /**
     * Stores an int at {@code offset}, in native byte order.
     *
     * @param offset from the block's first byte; any alignment
     * @param value the int
     * @throws IndexOutOfBoundsException if a byte of it lies outside the block
     * @throws PoolClosedException if the block or its pool is closed
     */
    public void putInt(long offset, int value) {
        ByteBuffer at = enter(offset, Integer.BYTES);
        try {
            at.putInt(index(offset), value);
        } finally {
            exit();
        }
    }

    /**
     * {@return the long at {@code offset}, in native byte order}
     *
     * @param offset from the block's first byte; any alignment
     * @throws IndexOutOfBoundsException if a byte of it lies outside the block
     * @throws PoolClosedException if the block or its pool is closed
     */
    public long getLong(long offset) {
        ByteBuffer at = enter(offset, Long.BYTES);
        try {
            return at.getLong(index(offset));
        } finally {
            exit();
        }
    }

    /**
     * Stores a long at {@code offset}, in native byte order.
     *
     * @param offset from the block's first byte; any alignment
     * @param value the long
     * @throws IndexOutOfBoundsException if a byte of it lies outside the block
     * @throws PoolClosedException if the block or its pool is closed
     */
    public void putLong(long offset, long value) {
        ByteBuffer at = enter(offset, Long.BYTES);
        try {
            at.putLong(index(offset), value);
        } finally {
            exit();
        }
    }

    /**
     * {@return the double at {@code offset}, in native byte order}
     *
     * @param offset from the block's first byte; any alignment
     * @throws IndexOutOfBoundsException if a byte of it lies outside the block
     * @throws PoolClosedException if the block or its pool is closed
     */
    public double getDouble(long offset) {
        return Double.longBitsToDouble(getLong(offset));
    }

    /**
     * Stores a double at {@code offset}, in native byte order.
     *
     * @param offset from the block's first byte; any alignment
     * @param value the double
     * @throws IndexOutOfBoundsException if a byte of it lies outside the block
     * @throws PoolClosedException if the block or its pool is closed
     */
    public void putDouble(long offset, double value) {
        putLong(offset, Double.doubleToRawLongBits(value));
    }

    /**
     * Copies {@code length} bytes of {@code src} from {@code srcOffset} into the block at {@code offset}.
     *
     * @param offset where in the block the copy starts
     * @param src the bytes
     * @param srcOffset where in {@code src} they start
     * @param length how many
     * @throws NullPointerException if {@code src} is null
     * @throws IndexOutOfBoundsException if either range lies outside its array or block
     * @throws PoolClosedException if the block or its pool is closed
     */
    public void copyFrom(long offset, byte[] src, int srcOffset, int length) {
        Objects.requireNonNull(src, "src");
        Objects.checkFromIndexSize(srcOffset, length, src.length);
        ByteBuffer at = enter(offset, length);
        try {
            at.put(index(offset), src, srcOffset, length);
        } finally {
            exit();
        }
    }

    /**
     * Copies {@code length} bytes of the block from {@code offset} into {@code dst} at {@code dstOffset}.
     *
     * @param offset where in the block the copy starts
     * @param dst where the bytes go
     * @param dstOffset where in {@code dst}
     * @param length how many
     * @throws NullPointerException if {@code dst} is null
     * @throws IndexOutOfBoundsException if either range lies outside its array or block
     * @throws PoolClosedException if the block or its pool is closed
     */
    public void copyTo(long offset, byte[] dst, int dstOffset, int length) {
        Objects.requireNonNull(dst, "dst");
        Objects.checkFromIndexSize(dstOffset, length, dst.length);
        ByteBuffer at = enter(offset, length);
        try {
            at.get(index(offset), dst, dstOffset, length);
        } finally {
            exit();
        }
    }

    /**
     * Copies the remaining bytes of {@code src} into the block at {@code offset}, advancing its position.
     *
     * @param offset where in the block the copy starts
     * @param src the bytes, from its position to its limit
     * @throws NullPointerException if {@code src} is null
     * @throws IndexOutOfBoundsException if they do not fit in the block from {@code offset}
     * @throws PoolClosedException if the block or its pool is closed
     */
    public void copyFrom(long offset, ByteBuffer src) {
        Objects.requireNonNull(src, "src");
        int length = src.remaining();
        ByteBuffer at = enter(offset, length);
        try {
            at.put(index(offset), src, src.position(), length);
            src.position(src.position() + length);
        } finally {
            exit();
        }
    }

    /**
     * Fills the remaining space of {@code dst} with the block's bytes from {@code offset}, advancing its position.
     *
     * @param offset where in the block the copy starts
     * @param dst where the bytes go, from its position to its limit
     * @throws NullPointerException if {@code dst} is null
     * @throws IndexOutOfBoundsException if the block holds fewer bytes from {@code offset}
     * @throws java.nio.ReadOnlyBufferException if {@code dst} is read-only
     * @throws PoolClosedException if the block or its pool is closed
     */
    public void copyTo(long offset, ByteBuffer dst) {
        Objects.requireNonNull(dst, "dst");
        int length = dst.remaining();
        ByteBuffer at = enter(offset, length);
        try {
            dst.put(dst.position(), at, index(offset), length);
            dst.position(dst.position() + length);
        } finally {
            exit();
        }
    }

    /**
     * {@return true once {@link #close()} was called on this handle} It stays false
     * when only the pool closed, although the block is then released and
     * {@link #address()} throws {@link PoolClosedException}.
     */
    public boolean isClosed() {
        return block.isClosed();
    }

    /**
     * Returns the block to its pool: at once, or, while a view from
     * {@link #asByteBuffer()} is still reachable, when the last one is
     * collected. Later calls, and calls after the pool closed, do nothing.
     *
     * @throws MemoryCorruptionException if the pool has canaries and a guard of the block was
     *     overwritten; the block then stays allocated until the pool closes (when the free waits
     *     for views, the damage is logged when it happens instead)
     */
    @Override
    public void close() {
        try {
            closeScope();
            if (block.holders() > 0 && !block.isClosed()) {
                // A view (or an accessor in flight) keeps the block: quarantined until it goes. Marked
                // before the close, whose free, if the holder let go meanwhile, unmarks it at once.
                pool.quarantined.quarantined(block.address());
            }
            block.close();
        } finally {
            if (leakTracker != null) {
                leakTracker.close();
            }
            // Until the tracker is closed, the cleaner must not see this handle unreachable.
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Enters an accessor over {@code [offset, offset + width)}: the pool's guard keeps the pool
     * open, this block's keeps the block allocated, until {@link #exit()}.
     *
     * @return a buffer whose index {@link #index(ByteBuffer, long)} names {@code offset}
     */
    private ByteBuffer enter(long offset, int width) {
        long size = block.size();
        Objects.checkFromIndexSize(offset, width, size);
        long handle = pool.acquire();
        if (!block.retain()) {
            pool.release();
            throw block.closed();
        }
        try {
            if (size > Integer.MAX_VALUE) {
                return PoolNative.wrap(handle, block.address() + offset, width).order(ByteOrder.nativeOrder());
            }
            ByteBuffer at = window;
            if (at == null) {
                at = PoolNative.wrap(handle, block.address(), size).order(ByteOrder.nativeOrder());
                window = at; // a benign race: every thread's window is the same view
            }
            return at;
        } catch (RuntimeException e) {
            exit(); // the glue refused the view (it never does for a live block): leave as entered
            throw e;
        }
    }

    /**
     * The index of {@code offset} in the buffer {@link #enter(long, int)} returned: the window over
     * the whole block, or, for a block beyond 2 GiB, a window over the range alone.
     */
    private int index(long offset) {
        return block.size() > Integer.MAX_VALUE ? 0 : (int) offset;
    }

    private void exit() {
        block.release();
        pool.release();
    }

    /**
     * The scope of this block's segments, made by {@code make} on first use and registered with
     * the pool, which closes it if it closes first.
     *
     * @throws PoolClosedException if the block or its pool is closed
     */
    synchronized <S extends AutoCloseable> S scope(Supplier<S> make) {
        block.liveAddress();
        if (scope == null) {
            S made = make.get();
            pool.scopes.add(made);
            scope = made;
            if (pool.isClosed()) { // the pool closed its scopes before this one was added
                closeScope();
                block.liveAddress(); // the pool is closed: throws
            }
        }
        @SuppressWarnings("unchecked")
        S existing = (S) scope;
        return existing;
    }

    /** Revokes this block's segments: their accesses throw from now on. */
    private synchronized void closeScope() {
        if (scope != null) {
            pool.scopes.remove(scope);
            Pool.closeScope(scope);
        }
    }

    private void freeBlock() {
        pool.quarantined.released(block.address());
        pool.freeFromHandle(block.address());
    }

    @Override
    public String toString() {
        return "MemoryBlock[0x" + Long.toHexString(block.address()) + ", " + block.size() + " bytes, " + pool.name()
                + (block.isClosed() ? ", closed]" : "]");
    }
}
