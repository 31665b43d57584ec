package org.nativepool;

/**
 * A pool could not satisfy a request: it reached its maximum capacity, or its
 * backend refused to grow it. The figures describe the pool's free space at
 * the moment of the failure, so a caller can tell exhaustion (little free)
 * from fragmentation (much free, but in small pieces).
 */
public class OutOfPoolMemoryException extends NativePoolException {
    private static final long serialVersionUID = 1L;

    private final long requestedBytes;
    private final long freeBytes;
    private final long largestFreeBlock;
    private final long freeBlocks;
    private final double externalFragmentation;

    public OutOfPoolMemoryException(String message, long requestedBytes, long freeBytes,
            long largestFreeBlock, long freeBlocks, double externalFragmentation) {
        super(message);
        this.requestedBytes = requestedBytes;
        this.freeBytes = freeBytes;
        this.largestFreeBlock = largestFreeBlock;
        this.freeBlocks = freeBlocks;
        this.externalFragmentation = externalFragmentation;
    }

    /** Bytes the failed request asked for. */
    public long requestedBytes() {
        return requestedBytes;
    }

    /** Free bytes inside the pool's reserved regions when the request failed. */
    public long freeBytes() {
        return freeBytes;
    }

    /** Largest request that would have fitted without growing. */
    public long largestFreeBlock() {
        return largestFreeBlock;
    }

    /** Number of free blocks (holes) when the request failed. */
    public long freeBlocks() {
        return freeBlocks;
    }

    /** {@code 1 - largestFreeBlock / freeBytes}: 0 is one hole, near 1 is dust. */
    public double externalFragmentation() {
        return externalFragmentation;
    }
}
