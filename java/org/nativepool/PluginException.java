package org.nativepool;

/**
 * Base of the failures of a backend plugin ({@link Backend#plugin(java.nio.file.Path, java.util.Map)}):
 * loading it, checking its ABI, passing its options, or a result it returned.
 */
public class PluginException extends NativePoolException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the plugin */
    public PluginException(String message) {
        super(message);
    }
}
