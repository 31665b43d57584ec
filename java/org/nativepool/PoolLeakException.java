package org.nativepool;

/**
 * A pool was closed with blocks still allocated and its {@link LeakPolicy} is
 * {@link LeakPolicy#THROW}. The pool is closed and its memory released anyway.
 */
public class PoolLeakException extends NativePoolException {
    private static final long serialVersionUID = 1L;

    private final long leakedBlocks;
    private final long leakedBytes;

    public PoolLeakException(String message, long leakedBlocks, long leakedBytes) {
        super(message);
        this.leakedBlocks = leakedBlocks;
        this.leakedBytes = leakedBytes;
    }

    public long leakedBlocks() {
        return leakedBlocks;
    }

    public long leakedBytes() {
        return leakedBytes;
    }
}
