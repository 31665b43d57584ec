package org.nativepool;

/**
 * The persistent heap's header fails its checksum. The file is not modified.
 */
public class ChecksumMismatchException extends PersistentFileException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the file */
    public ChecksumMismatchException(String message) {
        super(message);
    }
}
