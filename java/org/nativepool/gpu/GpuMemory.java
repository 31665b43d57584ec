package org.nativepool.gpu;

import org.nativepool.MemoryKind;

/**
 * Memory a {@link CudaStream} can copy from or to: device buffers, pinned
 * host buffers (the fast path: DMA, truly asynchronous) and pageable host
 * memory (works, but the runtime stages it through pinned memory).
 */
public sealed interface GpuMemory permits DeviceBuffer, PinnedBuffer, HostMemory {
    /** Size in bytes; copies are bounds-checked against it. */
    long size();

    /** Where the memory lives. */
    MemoryKind memoryKind();

    /** The device of device memory; -1 for host memory. */
    int device();
}
