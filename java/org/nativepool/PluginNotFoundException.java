package org.nativepool;

/**
 * A backend plugin's library file is missing, or the dynamic loader refused it (not a shared library, a missing dependency); the message quotes the loader.
 */
public class PluginNotFoundException extends PluginException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the plugin */
    public PluginNotFoundException(String message) {
        super(message);
    }
}
