package org.nativepool;

/**
 * A pool, or a block of a pool, was used after it was closed.
 */
public class PoolClosedException extends NativePoolException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming what was closed */
    public PoolClosedException(String message) {
        super(message);
    }
}
