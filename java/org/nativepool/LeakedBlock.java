package org.nativepool;

/**
 * A tracked handle that became unreachable without being closed: a
 * {@link MemoryBlock}, or a {@link org.nativepool.gpu.DeviceBuffer} or
 * {@link org.nativepool.gpu.PinnedBuffer}, or a {@link PersistentReservation}
 * neither published nor cancelled.
 *
 * @param pool name of the pool the block came from: a host pool's name, or for
 *     GPU buffers their manager's device pool ({@code "<manager>:device<i>"},
 *     {@link org.nativepool.gpu.Device#poolName()}) or pinned pool
 *     ({@code "<manager>:pinned"}), or for reservations
 *     the persistent pool's file (absolute)
 * @param address address of the block (a device pointer for device buffers, the
 *     offset in the file for reservations)
 * @param size size of the block in bytes
 * @param reclaimed whether the block was freed when the leak was found
 * @param allocationStack where the handle was allocated (its stack trace)
 * @param handleType the simple class name of the handle: {@code MemoryBlock},
 *     {@code DeviceBuffer}, {@code PinnedBuffer} or {@code PersistentReservation}
 */
public record LeakedBlock(String pool, long address, long size, boolean reclaimed, Throwable allocationStack,
        String handleType) {
    /**
     * A leaked {@link MemoryBlock}.
     *
     * @param pool name of the pool the block came from
     * @param address address of the block
     * @param size size of the block in bytes
     * @param reclaimed whether the block was freed when the leak was found
     * @param allocationStack where the handle was allocated (its stack trace)
     */
    public LeakedBlock(String pool, long address, long size, boolean reclaimed, Throwable allocationStack) {
        this(pool, address, size, reclaimed, allocationStack, "MemoryBlock");
    }

    @Override
    public String toString() {
        return "leaked " + handleType + "[0x" + Long.toHexString(address) + ", " + size + " bytes, " + pool + "]"
                + (reclaimed ? " (reclaimed)" : " (still allocated)");
    }
}
