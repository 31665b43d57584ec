package org.nativepool;

/**
 * A backend plugin refused the options it was given; the message is the plugin's own.
 */
public class PluginOptionException extends PluginException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the plugin */
    public PluginOptionException(String message) {
        super(message);
    }
}
