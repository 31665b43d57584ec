package org.nativepool.gpu;

import org.nativepool.MemoryKind;

/**
 * Memory a {@link CudaStream} can copy from or to: device buffers, pinned
 * host buffers (the fast path: DMA, truly asynchronous) and pageable host
 * memory (works, but the runtime stages it through pinned memory).
 */
public sealed interface GpuMemory permits DeviceBuffer, PinnedBuffer, HostMemory {
    /** {@return the size in bytes} Copies are bounds-checked against it. */
    long size();

    /** {@return where the memory lives} */
    MemoryKind memoryKind();

    /** {@return the device of device memory; -1 for host memory} */
    int device();
}
