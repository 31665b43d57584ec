package org.nativepool;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.nativepool.internal.NativeLibrary;
import org.nativepool.internal.NumaNative;
import org.nativepool.internal.PluginNative;

/**
 * The upstream memory a pool reserves its chunks and arenas from. Pools carve
 * these large regions into blocks; the backend is asked again only to grow.
 */
public final class Backend {
    private static final Backend MALLOC = new Backend(0, 0, "malloc");
    private static final Backend MMAP = new Backend(1, 0, "mmap");
    private static final Backend HUGE_PAGES = new Backend(2, 0, "mmap+thp");
    private static final int NUMA = 6;
    private static final Backend NODE_LOCAL = new Backend(7, 0, "node-local");
    private static final int PLUGIN = 8;
    private static final int LISTENED = 9;

    private final int type;
    private final int parameter;
    private final String name;
    private final int plugin;  // the plugin id under this backend, or -1

    private Backend(int type, int parameter, String name) {
        this(type, parameter, name, -1);
    }

    private Backend(int type, int parameter, String name, int plugin) {
        this.type = type;
        this.parameter = parameter;
        this.name = name;
        this.plugin = plugin;
    }

    /**
     * {@return the backend that takes regions from the C heap ({@code aligned_alloc})}
     * The default.
     */
    public static Backend malloc() {
        return MALLOC;
    }

    /**
     * {@return the backend of anonymous {@code mmap} regions} Trimmed regions go back
     * to the kernel.
     */
    public static Backend mmap() {
        return MMAP;
    }

    /**
     * {@return the backend of anonymous {@code mmap} regions advised for
     * transparent huge pages} Falls back to small pages where the kernel offers
     * none ({@link Features#hugePages()} tells).
     */
    public static Backend hugePages() {
        return HUGE_PAGES;
    }

    /**
     * {@return the backend of anonymous {@code mmap} regions placed on one NUMA
     * node by {@code policy}} Shorthand for {@link #numa(NumaPolicy, int...)
     * numa(policy, node)}; pools over it report {@link MemoryKind#NUMA_HOST}.
     *
     * @param node the node, one {@link NativePool#numa()} lists
     * @param policy {@link NumaPolicy#BIND}, {@link NumaPolicy#PREFERRED} or {@link NumaPolicy#INTERLEAVE}
     * @throws FeatureUnavailableException if NUMA is unavailable here ({@link Features#numaUnavailableReason()})
     * @throws InvalidArgumentException if the node does not exist or has no memory, or the policy is LOCAL
     */
    public static Backend numa(int node, NumaPolicy policy) {
        return numa(policy, node);
    }

    /**
     * {@return the backend of anonymous {@code mmap} regions whose pages
     * {@code policy} places on {@code nodes}} Each region is bound with
     * {@code mbind} before its first touch. Checked now, against this machine:
     * BIND and INTERLEAVE take one or more nodes, PREFERRED exactly one, LOCAL
     * none; duplicates are dropped. {@link NativePool#placement(MemoryBlock)}
     * tells where the pages went.
     *
     * @param policy the policy, not null
     * @param nodes the nodes, as {@link NativePool#numa()} numbers them
     * @throws FeatureUnavailableException if NUMA is unavailable here ({@link Features#numaUnavailableReason()})
     * @throws InvalidArgumentException if a node does not exist or has no memory, or the nodes do not suit the policy
     */
    public static Backend numa(NumaPolicy policy, int... nodes) {
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(nodes, "nodes");
        NativeLibrary.ensureLoaded();
        int id = NumaNative.registerSpec(policy.ordinal(), nodes.clone());
        String name = "numa:" + policy.name().toLowerCase(Locale.ROOT) + Arrays.stream(nodes).sorted().distinct()
                .mapToObj(Integer::toString).collect(Collectors.joining(",", nodes.length == 0 ? "" : ":", ""));
        return new Backend(NUMA, id, name);
    }

    /**
     * {@return the backend that makes a pool node-local: one pool per NUMA node
     * with memory, each bound to its node} Every allocation is served from the
     * node of the calling thread's CPU (a thread on a CPU-only node, from the
     * nearest node with memory); every free goes back to the node that owns
     * the block, whichever thread frees it. A full node fails the allocation
     * rather than spill onto another. The pool's stats are the sum over the
     * nodes ({@link NativePool#nodeStats(Pool, int)} gives one node's); its
     * settings (block size, arena size, maximum, safety level) apply to each
     * node. Building the pool throws {@link FeatureUnavailableException} where
     * NUMA is unavailable.
     */
    public static Backend nodeLocal() {
        return NODE_LOCAL;
    }

    /**
     * {@return the backend whose regions come from the plugin library at
     * {@code library}} The library implements {@code nativepool/plugin.h}
     * (docs/plugins.md); it is opened once per process, its ABI checked and
     * {@code options} passed to it as strings. Every pool type, thread safety,
     * safety level, statistic and {@code trim()} works over it. Equal paths
     * and options give the same backend, one plugin instance shared by the
     * pools over it; instances live as long as the process.
     *
     * @param library the plugin's shared library, not null
     * @param options the plugin's options, not null (keys and values not null)
     * @throws PluginNotFoundException if the file is missing or the loader refuses it
     * @throws PluginSymbolMissingException if it exports no {@code nativepool_plugin_entry}
     * @throws PluginAbiException if it was built for another ABI major, or its table is truncated
     * @throws PluginOptionException if the plugin refuses the options (its own message)
     * @throws FeatureUnavailableException if the plugin reports that what it needs is absent here
     */
    public static Backend plugin(Path library, Map<String, String> options) {
        Objects.requireNonNull(library, "library");
        Map<String, String> sorted = new TreeMap<>(Objects.requireNonNull(options, "options"));
        NativeLibrary.ensureLoaded();
        int id = PluginNative.register(library.toString(), sorted.keySet().toArray(String[]::new),
                sorted.values().toArray(String[]::new));
        String[] described = PluginNative.describe(id);
        return new Backend(PLUGIN, id, "plugin:" + described[0], id);
    }

    /**
     * {@return the backend of the plugin {@code name} that the JAR carries}
     * Extracted next to the native library, like it, then loaded as
     * {@link #plugin(Path, Map)} loads a file. {@link #bundledPlugins()} lists them.
     *
     * @param name a bundled plugin's name, e.g. {@code "memfd"}
     * @param options the plugin's options, not null
     * @throws PluginNotFoundException if the JAR carries no plugin of that name for this platform
     * @throws PluginOptionException if the plugin refuses the options (its own message)
     * @throws FeatureUnavailableException if the plugin reports that what it needs is absent here
     */
    public static Backend bundledPlugin(String name, Map<String, String> options) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(options, "options");
        NativeLibrary.ensureLoaded();
        Path file = name.matches("[A-Za-z0-9_]+") ? NativeLibrary.extractPlugin(name) : null;
        if (file == null) {
            throw new PluginNotFoundException("no plugin '" + name + "' is bundled for " + NativeLibrary.platform()
                    + " (bundled: " + String.join(", ", NativeLibrary.bundledPlugins()) + ")");
        }
        return plugin(file, options);
    }

    /**
     * {@return the plugins the JAR carries for this platform, each loaded with
     * no options to say what it found here}
     */
    public static List<PluginInfo> bundledPlugins() {
        NativeLibrary.ensureLoaded();
        List<PluginInfo> found = new ArrayList<>();
        for (String name : NativeLibrary.bundledPlugins()) {
            try {
                Backend backend = bundledPlugin(name, Map.of());
                found.add(new PluginInfo(name, true, backend.name + " (" + backend.description() + ")"));
            } catch (NativePoolException e) {
                found.add(new PluginInfo(name, false, e.getMessage()));
            }
        }
        return found;
    }

    /**
     * {@return this backend with {@code listener} told of every region a pool
     * over it maps or unmaps} Pools over the result behave as pools over this
     * backend; each builds its own backend instance, so a plugin backend stays
     * one shared plugin instance, except that a variable pool's {@code trim()}
     * keeps the pages of its free blocks resident: the listener may have
     * registered them with a device (an RDMA memory region pins its pages).
     *
     * @param listener the listener, not null
     * @throws InvalidArgumentException for {@link #nodeLocal()}, a group of backends
     */
    public Backend withRegionListener(RegionListener listener) {
        Objects.requireNonNull(listener, "listener");
        NativeLibrary.ensureLoaded();
        int id = PluginNative.listen(type, parameter, listener);
        return new Backend(LISTENED, id, name + "+listener", plugin);
    }

    /**
     * {@return what the plugin under this backend found on this machine (its
     * {@code describe} entry), or "" for built-in backends and plugins without one}
     */
    public String description() {
        return plugin < 0 ? "" : PluginNative.describe(plugin)[1];
    }

    /**
     * {@return the device keys of the region {@code block} lies in} For a
     * plugin that registers its regions with a device (RDMA's
     * {@code ibv_reg_mr}).
     *
     * @param block a live block of a pool over this backend
     * @throws InvalidArgumentException if this is no plugin backend or the block is in none of its regions
     * @throws FeatureUnavailableException if the plugin registers no regions
     */
    public RegionKeys regionKeys(MemoryBlock block) {
        long[] keys = PluginNative.keys(requirePlugin(), Objects.requireNonNull(block, "block").address());
        return new RegionKeys(keys[0], keys[1]);
    }

    /**
     * {@return how another process maps the region {@code block} lies in}
     * For a plugin that shares regions by file descriptor (memfd).
     *
     * @param block a live block of a pool over this backend
     * @throws InvalidArgumentException if this is no plugin backend or the block is in none of its regions
     * @throws FeatureUnavailableException if the plugin cannot share regions
     */
    public SharedRegion exportRegion(MemoryBlock block) {
        long[] shared = PluginNative.exportRegion(requirePlugin(), Objects.requireNonNull(block, "block").address());
        return new SharedRegion((int) shared[0], shared[1], shared[2], shared[3]);
    }

    private int requirePlugin() {
        if (plugin < 0) {
            throw new InvalidArgumentException("backend " + name + " is no plugin backend");
        }
        return plugin;
    }

    int type() {
        return type;
    }

    int parameter() {
        return parameter;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Backend that && type == that.type && parameter == that.parameter;
    }

    @Override
    public int hashCode() {
        return Objects.hash(type, parameter);
    }

    @Override
    public String toString() {
        return name;
    }
}
