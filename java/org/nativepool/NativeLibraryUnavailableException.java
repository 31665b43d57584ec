package org.nativepool;

/**
 * The native library could not be loaded. The message says what was tried and
 * which system property overrides it.
 */
public class NativeLibraryUnavailableException extends NativePoolException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, saying what was tried */
    public NativeLibraryUnavailableException(String message) {
        super(message);
    }

    /**
     * @param message the detail message, saying what was tried
     * @param cause why loading failed
     */
    public NativeLibraryUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
