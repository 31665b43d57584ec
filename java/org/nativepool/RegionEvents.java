package org.nativepool;

/**
 * Where the native core reports the regions of one pool
 * (native/jni/jni_region_events.cpp): each region a backend of the pool maps
 * or unmaps, on the thread that grows, trims or closes the pool, becomes an
 * {@code org.nativepool.RegionMapped} or {@code RegionUnmapped} event when a
 * recording wants it. Allocations and frees that need no new region never get
 * here; a region costs one call from native code and the
 * {@code shouldCommit()} check (docs/performance.md, "JFR events: cost").
 */
final class RegionEvents {
    private final String pool;

    RegionEvents(String pool) {
        this.pool = pool;
    }

    /**
     * Called by the glue for a region a backend handed out.
     *
     * @param kind the backend's {@link MemoryKind} code
     * @param ordinal the backend's NUMA node or device, or -1
     */
    void mapped(long address, long bytes, String backend, int kind, int ordinal) {
        PoolEvents.RegionMapped event = new PoolEvents.RegionMapped();
        if (event.shouldCommit()) {
            commit(event, address, bytes, backend, kind, ordinal);
        }
    }

    /** Called by the glue for a region about to go back to its backend; arguments as for {@link #mapped}. */
    void unmapped(long address, long bytes, String backend, int kind, int ordinal) {
        PoolEvents.RegionUnmapped event = new PoolEvents.RegionUnmapped();
        if (event.shouldCommit()) {
            commit(event, address, bytes, backend, kind, ordinal);
        }
    }

    private void commit(PoolEvents.RegionEvent event, long address, long bytes, String backend, int kind,
            int ordinal) {
        MemoryKind memoryKind = MemoryKind.fromCode(kind);
        event.pool = pool;
        event.backend = backend;
        event.memoryKind = memoryKind.name();
        event.node = memoryKind == MemoryKind.NUMA_HOST ? ordinal : -1;
        event.device = memoryKind == MemoryKind.DEVICE ? ordinal : -1;
        event.address = address;
        event.size = bytes;
        event.commit();
    }
}
