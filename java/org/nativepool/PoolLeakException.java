package org.nativepool;

/**
 * A pool was closed with blocks still allocated and its {@link LeakPolicy} is
 * {@link LeakPolicy#THROW}. The pool is closed and its memory released anyway.
 */
public class PoolLeakException extends NativePoolException {
    private static final long serialVersionUID = 1L;

    /** Blocks still allocated when the pool closed. */
    private final long leakedBlocks;
    /** Bytes of those blocks, as {@link PoolStats#bytesInUse()} counts them. */
    private final long leakedBytes;

    /**
     * @param message the detail message, with the pool's leak report
     * @param leakedBlocks blocks still allocated when the pool closed
     * @param leakedBytes bytes of those blocks, as {@link PoolStats#bytesInUse()} counts them
     */
    public PoolLeakException(String message, long leakedBlocks, long leakedBytes) {
        super(message);
        this.leakedBlocks = leakedBlocks;
        this.leakedBytes = leakedBytes;
    }

    /** {@return the number of blocks still allocated when the pool closed} */
    public long leakedBlocks() {
        return leakedBlocks;
    }

    /**
     * {@return the bytes of the blocks still allocated when the pool closed, as
     * {@link PoolStats#bytesInUse()} counts them}
     */
    public long leakedBytes() {
        return leakedBytes;
    }
}
