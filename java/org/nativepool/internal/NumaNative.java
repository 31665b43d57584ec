package org.nativepool.internal;

/** JNI entry points of the NUMA area (native/jni/jni_numa.cpp). Not API. */
public final class NumaNative {
    private NumaNative() {
    }

    /**
     * The topology, flattened: node count, current node, then per node its id,
     * total and free bytes, CPU count, the CPUs and one distance per node.
     */
    public static native long[] topology();

    /** Checks a policy and its nodes and returns the id a NUMA backend carries as its parameter. */
    public static native int registerSpec(int policy, int[] nodes);

    /** Page size, pages not present, then the pages on node 0, 1, ... of the range. */
    public static native long[] placement(long address, long bytes);

    /** Fills {@code out} with one node's stats of a node-local pool; throws for other pools and nodes. */
    public static native void nodeStats(long pool, int node, long[] out);

    /** The nodes of a node-local pool, ascending; empty for other pools. */
    public static native int[] poolNodes(long pool);
}
