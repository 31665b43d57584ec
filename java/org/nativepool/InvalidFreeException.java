package org.nativepool;

/**
 * An address given back to a pool was never handed out by it: a foreign pointer, or a pointer into the middle of a block. The pool is unchanged.
 */
public class InvalidFreeException extends NativePoolException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the address */
    public InvalidFreeException(String message) {
        super(message);
    }
}
