package org.nativepool;

/**
 * A pool could not satisfy a request: it reached its maximum capacity, or its
 * backend refused to grow it. The figures describe the pool's free space at
 * the moment of the failure, so a caller can tell exhaustion (little free)
 * from fragmentation (much free, but in small pieces).
 */
public class OutOfPoolMemoryException extends NativePoolException {
    private static final long serialVersionUID = 1L;

    /** Bytes the failed request asked for. */
    private final long requestedBytes;
    /** Free bytes inside the pool's reserved regions. */
    private final long freeBytes;
    /** Largest request that would have fitted without growing. */
    private final long largestFreeBlock;
    /** Number of free blocks (holes). */
    private final long freeBlocks;
    /** {@code 1 - largestFreeBlock / freeBytes}. */
    private final double externalFragmentation;

    /**
     * Called by the native library with the pool's free space at the moment of the
     * failure; the free-space figures are 0 when the pool could not be built.
     *
     * @param message the detail message, with the figures
     * @param requestedBytes bytes the failed request asked for
     * @param freeBytes free bytes inside the pool's reserved regions
     * @param largestFreeBlock largest request that would have fitted without growing
     * @param freeBlocks number of free blocks (holes)
     * @param externalFragmentation {@code 1 - largestFreeBlock / freeBytes}
     */
    public OutOfPoolMemoryException(String message, long requestedBytes, long freeBytes,
            long largestFreeBlock, long freeBlocks, double externalFragmentation) {
        super(message);
        this.requestedBytes = requestedBytes;
        this.freeBytes = freeBytes;
        this.largestFreeBlock = largestFreeBlock;
        this.freeBlocks = freeBlocks;
        this.externalFragmentation = externalFragmentation;
    }

    /** {@return the bytes the failed request asked for} */
    public long requestedBytes() {
        return requestedBytes;
    }

    /** {@return the free bytes inside the pool's reserved regions when the request failed} */
    public long freeBytes() {
        return freeBytes;
    }

    /** {@return the largest request that would have fitted without growing} */
    public long largestFreeBlock() {
        return largestFreeBlock;
    }

    /** {@return the number of free blocks (holes) when the request failed} */
    public long freeBlocks() {
        return freeBlocks;
    }

    /** {@return {@code 1 - largestFreeBlock / freeBytes}} 0 is one hole, near 1 is dust. */
    public double externalFragmentation() {
        return externalFragmentation;
    }
}
