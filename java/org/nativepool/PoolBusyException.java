package org.nativepool;

/**
 * {@code close()} was called on a pool while another thread was inside a call on it. The pool stays open; close it once no thread uses it.
 */
public class PoolBusyException extends NativePoolException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message */
    public PoolBusyException(String message) {
        super(message);
    }
}
