package org.nativepool.internal;

import org.nativepool.PoolClosedException;

/**
 * What every handle of one pool block carries, host ({@code MemoryBlock}) or
 * GPU ({@code DeviceBuffer}, {@code PinnedBuffer}): where the block is, its
 * size as requested, whose it is, and the guard that frees it exactly once.
 * The guard's closed flag is the handle's: {@link #close()} is idempotent, and
 * every use after it, or after the owner closed, is a {@link PoolClosedException}
 * from {@link #liveAddress()}.
 *
 * <p>A guard of its own, not a field beside one, so that a handle costs one
 * object for its state (the fast path allocates it with every handle).
 * Blocks with views keep the memory while a view is reachable, as
 * {@link ViewGuard} says; blocks that are never viewed (device memory) free
 * at close, or free themselves under {@link #closeForFree()}.
 */
public final class BlockHandle extends ViewGuard {
    /**
     * The in-flight guard of the pool or manager the block came from: closed once that
     * owner released all of its memory; names the owner in messages. The owner itself is
     * no field of its own, so that the handle takes no more memory than the fields it replaced.
     */
    private final InFlightGuard owner;
    private final long address;
    private final long size;

    /**
     * The state of a block handed out by {@code owner}.
     *
     * @param owner the in-flight guard of the pool or manager the block came from
     * @param address the block's first byte
     * @param size the block's size as requested
     * @param free gives the block back; runs once, after {@link #close()}, with no use or view left
     */
    public BlockHandle(InFlightGuard owner, long address, long size, Runnable free) {
        super(free);
        this.owner = owner;
        this.address = address;
        this.size = size;
    }

    /** {@return the block's first byte, whether or not the handle is closed: for messages and freeing} */
    public long address() {
        return address;
    }

    /** {@return the block's size as requested} */
    public long size() {
        return size;
    }

    /**
     * {@return the block's first byte, for a use of the block}
     *
     * @throws PoolClosedException if the handle or its owner is closed
     */
    public long liveAddress() {
        if (isClosed()) {
            throw closed();
        }
        if (owner.isClosed()) {
            throw new PoolClosedException(this + " belongs to closed " + owner.owner());
        }
        return address;
    }

    /** {@return the exception for a use of the block after {@link #close()}} */
    public PoolClosedException closed() {
        return new PoolClosedException(this + " of " + owner.owner() + " is closed");
    }

    /** {@return "block 0x" and the address in hex, as messages name the block} */
    @Override
    public String toString() {
        return "block 0x" + Long.toHexString(address);
    }
}
