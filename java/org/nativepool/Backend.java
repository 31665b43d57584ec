package org.nativepool;

import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.stream.Collectors;
import org.nativepool.internal.NativeLibrary;
import org.nativepool.internal.NumaNative;

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

    private final int type;
    private final int parameter;
    private final String name;

    private Backend(int type, int parameter, String name) {
        this.type = type;
        this.parameter = parameter;
        this.name = name;
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
