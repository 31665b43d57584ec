package org.nativepool;

/**
 * A size, alignment, count or configuration value is out of range. The pool is unchanged.
 */
public class InvalidArgumentException extends NativePoolException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the value and its range */
    public InvalidArgumentException(String message) {
        super(message);
    }
}
