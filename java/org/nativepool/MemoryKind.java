package org.nativepool;

/** Where a pool's memory lives. */
public enum MemoryKind {
    /** Pageable host memory. */
    HOST,
    /** Host memory bound to one NUMA node. */
    NUMA_HOST,
    /** Page-locked host memory that a GPU can reach by DMA. */
    PINNED_HOST,
    /** GPU memory; the CPU cannot dereference it. */
    DEVICE,
    /** A mapped persistent-memory or DAX file. */
    PERSISTENT;

    static MemoryKind fromCode(int code) {
        return values()[code];
    }

    /** {@return true when Java code may read and write the memory through a ByteBuffer} */
    public boolean hostAccessible() {
        return this != DEVICE;
    }
}
