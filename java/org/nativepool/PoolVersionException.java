package org.nativepool;

/**
 * The file is a persistent heap of a format version this build does not read.
 * The file is not modified.
 */
public class PoolVersionException extends PersistentFileException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the file */
    public PoolVersionException(String message) {
        super(message);
    }
}
