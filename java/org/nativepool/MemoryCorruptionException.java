package org.nativepool;

/**
 * User code wrote where it must not: before or after a block (its guard
 * bytes were overwritten) or into a freed block (its poison was changed).
 * Detected by pools built with {@link SafetyLevel#CANARIES} or
 * {@link SafetyLevel#FULL} when a block is freed, on {@link Pool#verify()},
 * when the pool closes, and when damaged freed memory is handed out again.
 *
 * <p>A block whose guard is damaged stays allocated, so that the pool's
 * statistics stay exact; the pool reclaims it when it closes. Damaged freed
 * memory is repaired and stays free. When the block's allocation was
 * tracked, {@link #allocationSite()} names the native site and the cause is
 * the Java stack that allocated the handle.
 */
public class MemoryCorruptionException extends PoolCorruptedException {
    private static final long serialVersionUID = 1L;

    /** The region whose bytes were found changed. */
    public enum Guard {
        /** The margin before the block: an underflow. */
        FRONT,
        /** The margin after the block: an overflow. */
        BACK,
        /** Freed memory: a write after free. */
        FREED
    }

    /** Address of the block, or, for a write after free, of the freed block. */
    private final long blockAddress;
    /** Size the block was allocated with, or, for a write after free, of the freed block. */
    private final long blockSize;
    /** The region whose bytes were found changed. */
    private final Guard guard;
    /** First changed byte, relative to the block address. */
    private final long offset;
    /** The native allocation site, or null. */
    private final String allocationSite;

    /**
     * Called by the native library with the fields of its corruption report.
     *
     * @param message the detail message
     * @param blockAddress address of the block (for {@link Guard#FREED}, the address the freed block had)
     * @param blockSize size the block was allocated with (for {@link Guard#FREED}, the freed block's usable size)
     * @param guard the ordinal of the {@link Guard} found changed
     * @param offset first changed byte, relative to the block address
     * @param allocationSite the native allocation site, or null when it was not recorded
     */
    public MemoryCorruptionException(String message, long blockAddress, long blockSize, int guard, long offset,
            String allocationSite) {
        super(message);
        this.blockAddress = blockAddress;
        this.blockSize = blockSize;
        this.guard = Guard.values()[guard];
        this.offset = offset;
        this.allocationSite = allocationSite;
    }

    /** {@return the address of the block (for {@link Guard#FREED}, the address the freed block had)} */
    public long blockAddress() {
        return blockAddress;
    }

    /**
     * {@return the size the block was allocated with (for {@link Guard#FREED}, the freed
     * block's usable size, rounded as the pool counts it)}
     */
    public long blockSize() {
        return blockSize;
    }

    /** {@return the region whose bytes were found changed} */
    public Guard guard() {
        return guard;
    }

    /**
     * {@return the first changed byte, relative to the block address} It is negative
     * in the front guard.
     */
    public long offset() {
        return offset;
    }

    /** {@return the native allocation site recorded by a {@link SafetyLevel#FULL} pool, or null} */
    public String allocationSite() {
        return allocationSite;
    }
}
