package org.nativepool;

/**
 * A snapshot of a {@link PersistentPool}'s figures, in user-visible sizes.
 *
 * @param capacity the file's size in bytes
 * @param heapBytes bytes blocks can use (the file less header, logs and table)
 * @param liveBlocks blocks in the heap's table (published or committed)
 * @param bytesInUse the sizes those blocks were requested with
 * @param unitsInUse the 64-byte units they occupy
 * @param freeBytes bytes free for new blocks
 * @param largestFree the largest single block that fits now
 * @param freeExtents free extents (holes); 1 - largestFree/freeBytes is the fragmentation
 * @param allocations blocks published or committed since this open
 * @param frees blocks freed since this open
 * @param flushedBytes bytes named to flush since this open (msync rounds them to pages)
 * @param persistPoints persist points (drains) since this open
 * @param recoveredRedo 1 when opening replayed an interrupted atomic operation
 * @param recoveredUndo ranges opening rolled back from an interrupted transaction
 */
public record PersistentStats(long capacity, long heapBytes, long liveBlocks, long bytesInUse, long unitsInUse,
        long freeBytes, long largestFree, long freeExtents, long allocations, long frees, long flushedBytes,
        long persistPoints, long recoveredRedo, long recoveredUndo) {

    static PersistentStats of(long[] f) {
        return new PersistentStats(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], f[12],
                f[13]);
    }

    /** {@return 1 - largestFree / freeBytes, or 0 when nothing is free} */
    public double externalFragmentation() {
        return freeBytes == 0 ? 0.0 : 1.0 - (double) largestFree / freeBytes;
    }
}
