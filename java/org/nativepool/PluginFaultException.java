package org.nativepool;

/**
 * A backend plugin broke its contract: it returned a null, misaligned or overlapping region, or failed where it must not. The pool refused the result and is unchanged.
 */
public class PluginFaultException extends PluginException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the plugin */
    public PluginFaultException(String message) {
        super(message);
    }
}
