package org.nativepool;

/**
 * A backend plugin was built for another major version of the plugin ABI, or its table is truncated or lacks a required entry (docs/plugins.md, ABI rules).
 */
public class PluginAbiException extends PluginException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the plugin */
    public PluginAbiException(String message) {
        super(message);
    }
}
