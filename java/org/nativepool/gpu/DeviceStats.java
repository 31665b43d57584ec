package org.nativepool.gpu;

import org.nativepool.internal.GpuNative;

/**
 * A snapshot of one device's memory and pool, or of all devices summed
 * ({@link DeviceManager#stats()}, with {@code device} -1), or of the pinned
 * host pool ({@link DeviceManager#pinnedStats()}, device -1, no device memory
 * figures).
 *
 * @param device the device, or -1
 * @param deviceFreeBytes free device memory as the driver reports it
 * @param deviceTotalBytes total device memory
 * @param liveBlocks blocks allocated and not freed
 * @param bytesInUse bytes of the live blocks (rounded to 256)
 * @param cachedBlocks blocks freed on a stream and kept for reuse
 * @param cachedBytes bytes of the cached blocks
 * @param reusedSameStream allocations served at once by a block freed on the same stream
 * @param reusedAfterEvent allocations served by a block of another stream whose free had completed
 * @param reusedAfterWait allocations served by a block of another stream after waiting on its free event
 * @param upstreamAllocations allocations served by the pool beneath the stream caches
 * @param reservedBytes device memory the pool holds
 * @param peakReservedBytes the most device memory the pool held
 * @param poolFreeBytes free bytes inside the memory the pool holds
 * @param largestFreeBlock the largest request the pool can serve without growing
 * @param poolFreeBlocks free blocks (holes) inside the memory the pool holds, cached blocks not counted
 */
public record DeviceStats(
        int device,
        long deviceFreeBytes,
        long deviceTotalBytes,
        long liveBlocks,
        long bytesInUse,
        long cachedBlocks,
        long cachedBytes,
        long reusedSameStream,
        long reusedAfterEvent,
        long reusedAfterWait,
        long upstreamAllocations,
        long reservedBytes,
        long peakReservedBytes,
        long poolFreeBytes,
        long largestFreeBlock,
        long poolFreeBlocks) {

    static final int FIELD_COUNT = GpuNative.DEVICE_STATS_FIELDS;

    static DeviceStats fromNative(int device, long[] f) {
        return new DeviceStats(device, f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11],
                f[12], f[13], f[14]);
    }
}
