package org.nativepool;

import org.nativepool.internal.PoolNative;

/**
 * An immutable snapshot of a pool's counters, taken by {@link Pool#stats()}.
 * Each figure is exact when no other thread was inside the pool while the
 * snapshot was taken.
 *
 * <p>{@code allocations} and {@code frees} count blocks leaving and entering
 * the pool proper, so a cache refill of 32 blocks counts 32 allocations;
 * {@code allocations - frees = liveBlocks + cachedBlocks} when no thread is in
 * the pool.
 *
 * @param allocations successful allocations since the pool was built
 * @param frees successful frees
 * @param failures allocations that threw
 * @param liveBlocks blocks allocated and not yet freed, not counting those parked in caches
 * @param bytesInUse bytes in live blocks: each counts as its whole stride (fixed pools) or its size
 *     rounded to the granularity, above 1 KiB up to its size class at {@link SafetyLevel#OFF} (variable pools), so at
 *     {@link SafetyLevel#OFF}
 *     {@code bytesInUse + cachedBytes + freeBytes == bytesReserved}; above it, the guard margins
 *     around each block are reserved too but counted in none of the three
 * @param peakBytesInUse the highest {@code bytesInUse} seen; in a pool with thread caches (the default for
 *     {@code MUTEX} and {@code LOCK_FREE}) an upper bound of it, the sum of each thread's own peak, which is
 *     exact while one thread at a time uses the pool
 * @param bytesReserved bytes the pool holds from its backend
 * @param peakBytesReserved the highest {@code bytesReserved} seen
 * @param regions chunks or arenas the pool holds from its backend
 * @param freeBytes free bytes inside the reserved regions
 * @param largestFreeBlock largest request that fits without growing
 * @param freeBlocks number of free blocks (holes)
 * @param externalFragmentation {@code 1 - largestFreeBlock / freeBytes}; 0 for fixed pools
 * @param cachedBlocks free blocks parked in {@link BlockCache}s and in the thread caches of a
 *     {@link FixedPool}: out of the pool, in no user's hands
 * @param cachedBytes bytes in cached blocks
 */
public record PoolStats(
        long allocations,
        long frees,
        long failures,
        long liveBlocks,
        long bytesInUse,
        long peakBytesInUse,
        long bytesReserved,
        long peakBytesReserved,
        long regions,
        long freeBytes,
        long largestFreeBlock,
        long freeBlocks,
        double externalFragmentation,
        long cachedBlocks,
        long cachedBytes) {

    /** Index of each figure in the array the native layer fills. */
    static final int ALLOCATIONS = 0;
    static final int FREES = 1;
    static final int FAILURES = 2;
    static final int LIVE_BLOCKS = 3;
    static final int BYTES_IN_USE = 4;
    static final int PEAK_BYTES_IN_USE = 5;
    static final int BYTES_RESERVED = 6;
    static final int PEAK_BYTES_RESERVED = 7;
    static final int REGIONS = 8;
    static final int FREE_BYTES = 9;
    static final int LARGEST_FREE_BLOCK = 10;
    static final int FREE_BLOCKS = 11;
    static final int EXTERNAL_FRAGMENTATION_BITS = 12;
    static final int CACHED_BLOCKS = 13;
    static final int CACHED_BYTES = 14;
    static final int FIELD_COUNT = PoolNative.STATS_FIELDS;

    static PoolStats fromNative(long[] f) {
        return new PoolStats(f[ALLOCATIONS], f[FREES], f[FAILURES], f[LIVE_BLOCKS], f[BYTES_IN_USE],
                f[PEAK_BYTES_IN_USE], f[BYTES_RESERVED], f[PEAK_BYTES_RESERVED], f[REGIONS], f[FREE_BYTES],
                f[LARGEST_FREE_BLOCK], f[FREE_BLOCKS], Double.longBitsToDouble(f[EXTERNAL_FRAGMENTATION_BITS]),
                f[CACHED_BLOCKS], f[CACHED_BYTES]);
    }

    /**
     * {@return how much of what the pool holds is in use: {@code bytesInUse / bytesReserved}}
     * It is 0 while the pool holds nothing.
     */
    public double utilization() {
        return bytesReserved == 0 ? 0.0 : (double) bytesInUse / bytesReserved;
    }

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT,
                "PoolStats{live %d blocks / %s (peak %s), reserved %s in %d regions (peak %s), "
                        + "free %s in %d blocks, largest %s, fragmentation %.3f, "
                        + "cached %d blocks / %s, allocations %d, frees %d, failures %d}",
                liveBlocks, Sizes.format(bytesInUse), Sizes.format(peakBytesInUse), Sizes.format(bytesReserved),
                regions, Sizes.format(peakBytesReserved), Sizes.format(freeBytes), freeBlocks,
                Sizes.format(largestFreeBlock), externalFragmentation, cachedBlocks, Sizes.format(cachedBytes),
                allocations, frees, failures);
    }
}
