package org.nativepool;

/**
 * How a {@link Backend#numa(NumaPolicy, int...) NUMA backend} places the pages
 * of each region it reserves. The policy is applied to the whole region
 * before anything touches it, so it holds whichever thread grows the pool.
 */
public enum NumaPolicy {
    /** Only on the given nodes; the region's growth fails when they are full. */
    BIND,
    /** On the one given node while it has free memory, elsewhere after that. */
    PREFERRED,
    /** Page by page, round-robin over the given nodes: bandwidth of all, latency of their average. */
    INTERLEAVE,
    /** On the node of the CPU that first touches each page; takes no nodes. */
    LOCAL
}
