package org.nativepool;

/**
 * The file has no persistent heap signature: it is not a {@link PersistentPool}
 * (or its creation never completed). The file is not modified.
 */
public class NotAPoolException extends PersistentFileException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the file */
    public NotAPoolException(String message) {
        super(message);
    }
}
