package org.nativepool;

/**
 * A backend plugin's library does not export the entry symbol {@code nativepool_plugin_entry} that {@code nativepool/plugin.h} declares.
 */
public class PluginSymbolMissingException extends PluginException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the plugin */
    public PluginSymbolMissingException(String message) {
        super(message);
    }
}
