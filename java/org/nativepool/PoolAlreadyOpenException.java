package org.nativepool;

/**
 * Another handle, in this process or another, has the persistent heap open
 * (it holds the file's lock). The file is not modified.
 */
public class PoolAlreadyOpenException extends PersistentFileException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the file */
    public PoolAlreadyOpenException(String message) {
        super(message);
    }
}
