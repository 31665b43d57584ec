package org.nativepool;

/**
 * Base of every exception nativepool throws. Unchecked: a pool error is either
 * a programming error (bad argument, double free, use after close) or a
 * capacity condition the caller decides how to handle.
 */
public class NativePoolException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message */
    public NativePoolException(String message) {
        super(message);
    }

    /**
     * @param message the detail message
     * @param cause the failure behind this one, or null
     */
    public NativePoolException(String message, Throwable cause) {
        super(message, cause);
    }
}
