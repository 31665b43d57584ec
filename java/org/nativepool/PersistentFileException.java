package org.nativepool;

/**
 * A persistent heap file could not be used: a system call on it failed (the
 * message names the call and the error), or, in the subclasses, the file is
 * not a heap this build can open. A refused file is not modified.
 */
public class PersistentFileException extends NativePoolException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the file */
    public PersistentFileException(String message) {
        super(message);
    }
}
