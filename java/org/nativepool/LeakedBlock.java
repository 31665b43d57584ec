package org.nativepool;

/**
 * A {@link MemoryBlock} handle that became unreachable without being closed.
 *
 * @param pool name of the pool the block came from
 * @param address address of the block
 * @param size size of the block in bytes
 * @param reclaimed whether the block was freed when the leak was found
 * @param allocationStack where the handle was allocated (its stack trace)
 */
public record LeakedBlock(String pool, long address, long size, boolean reclaimed, Throwable allocationStack) {
    @Override
    public String toString() {
        return "leaked MemoryBlock[0x" + Long.toHexString(address) + ", " + size + " bytes, " + pool + "]"
                + (reclaimed ? " (reclaimed)" : " (still allocated)");
    }
}
