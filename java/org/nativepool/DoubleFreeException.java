package org.nativepool;

/**
 * An address given back to a pool is already free. The pool is unchanged.
 */
public class DoubleFreeException extends InvalidFreeException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the address */
    public DoubleFreeException(String message) {
        super(message);
    }
}
