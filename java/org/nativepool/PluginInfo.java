package org.nativepool;

/**
 * A plugin bundled in the JAR and what it found on this machine, as
 * {@link Backend#bundledPlugins()} lists them.
 *
 * @param name the name the JAR knows it by ({@link Backend#bundledPlugin(String, java.util.Map)})
 * @param loaded whether it loaded and initialised with no options here
 * @param description its backend name and what it found (huge pages, devices, ...), or why it did not load
 */
public record PluginInfo(String name, boolean loaded, String description) {
    @Override
    public String toString() {
        return name + ": " + (loaded ? description : "unavailable: " + description);
    }
}
