package org.nativepool;

/**
 * A pool built with JMX registration has the name of a pool whose beans are
 * registered already: JMX names must be unique. Nothing is left of the
 * refused pool.
 */
public class PoolNameInUseException extends InvalidArgumentException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the pool and the JMX name */
    public PoolNameInUseException(String message) {
        super(message);
    }
}
