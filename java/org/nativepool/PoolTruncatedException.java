package org.nativepool;

/**
 * The file is a persistent heap cut short: it is smaller than its header
 * says. The file is not modified.
 */
public class PoolTruncatedException extends PersistentFileException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the file */
    public PoolTruncatedException(String message) {
        super(message);
    }
}
