package org.nativepool;

/**
 * An optional component (CUDA, libnuma, ...) is not compiled in or not usable on this machine. {@link NativePool#features()} tells which are.
 */
public class FeatureUnavailableException extends NativePoolException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, saying what is missing */
    public FeatureUnavailableException(String message) {
        super(message);
    }
}
