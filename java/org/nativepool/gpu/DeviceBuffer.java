package org.nativepool.gpu;

import org.nativepool.MemoryKind;

/**
 * A block of device memory. The CPU cannot read it, so there is no
 * {@code ByteBuffer} view: move data with a {@link CudaStream}'s copies.
 */
public final class DeviceBuffer extends PooledBuffer implements GpuMemory {
    private final Device device;

    DeviceBuffer(DeviceManager manager, Device device, long address, long size, CudaStream stream) {
        super(manager, device.index(), address, size, stream);
        this.device = device;
    }

    /**
     * {@return the device pointer, for handing to other CUDA code (kernels,
     * cuBLAS, ...)} Never dereference it from Java.
     *
     * @throws org.nativepool.PoolClosedException if the buffer or its manager is closed
     */
    public long devicePointer() {
        return block.liveAddress();
    }

    /** {@return the device the memory lives on} */
    public Device owner() {
        return device;
    }

    @Override
    public MemoryKind memoryKind() {
        return MemoryKind.DEVICE;
    }

    @Override
    public int device() {
        return device.index();
    }
}
