package org.nativepool.gpu;

/** How {@link DeviceManager#select(SelectionPolicy)} picks a device. */
public enum SelectionPolicy {
    /** Each call the next device, in turn. */
    ROUND_ROBIN(1),
    /** The device with the most free memory, counting the free space its pool holds. */
    MOST_FREE_MEMORY(2);

    /** Mirrors nativepool::gpu::SelectionPolicy (0 is the explicit choice, {@link DeviceManager#device(int)}). */
    final int code;

    SelectionPolicy(int code) {
        this.code = code;
    }
}
