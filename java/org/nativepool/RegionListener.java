package org.nativepool;

/**
 * Told when a pool maps or unmaps a region of its backend, so that a cache of
 * registrations (RDMA memory regions, GPU peer mappings) stays correct without
 * patching {@code mmap}. Attached with {@link Backend#withRegionListener(RegionListener)}.
 *
 * <p>Called on the thread that grows or trims the pool, while the pool holds
 * its growth lock: a listener must be quick and must not call the pool that
 * reports to it. An exception it throws is printed to {@code System.err} and
 * dropped, since the pool call that reported the region goes on.
 */
public interface RegionListener {
    /**
     * A region now belongs to a pool.
     *
     * @param address the region's first byte
     * @param bytes the region's size
     */
    void mapped(long address, long bytes);

    /**
     * A region is about to go back to the backend.
     *
     * @param address the region's first byte
     * @param bytes the region's size
     */
    void unmapped(long address, long bytes);
}
