package org.nativepool;

/**
 * {@link Pool#validate()} found a broken invariant inside the pool.
 */
public class PoolCorruptedException extends NativePoolException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the broken invariant */
    public PoolCorruptedException(String message) {
        super(message);
    }
}
