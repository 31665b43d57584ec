package org.nativepool;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.TreeMap;
import org.nativepool.internal.NumaNative;

/**
 * The machine's NUMA nodes, read by {@link NativePool#numa()}. Immutable: a
 * snapshot of free memory and of the calling thread's node at that moment.
 *
 * @param nodes the nodes, by ascending id (ids may have gaps)
 * @param currentNode the node of the CPU the calling thread ran on
 */
public record NumaTopology(List<Node> nodes, int currentNode) {
    /**
     * One node.
     *
     * @param id the node's number, as {@link Backend#numa(int, NumaPolicy)} takes it
     * @param cpus the node's CPU ids, ascending; empty for a memory-only node
     * @param distances relative distance to each node, by node id (10 to itself, ACPI SLIT units)
     * @param totalBytes the node's memory; 0 for a CPU-only node
     * @param freeBytes the node's free memory now
     */
    public record Node(int id, List<Integer> cpus, Map<Integer, Integer> distances, long totalBytes,
            long freeBytes) {
        /**
         * Copies the collections, so the record stays immutable.
         *
         * @param id the node's number
         * @param cpus the node's CPU ids
         * @param distances distance to each node, by node id
         * @param totalBytes the node's memory
         * @param freeBytes the node's free memory
         */
        public Node {
            cpus = List.copyOf(cpus);
            distances = Collections.unmodifiableMap(new TreeMap<>(distances));
        }
    }

    /**
     * Copies the list, so the record stays immutable.
     *
     * @param nodes the nodes
     * @param currentNode the calling thread's node
     */
    public NumaTopology {
        nodes = List.copyOf(nodes);
    }

    /**
     * {@return the node numbered {@code id}}
     *
     * @param id a node id
     * @throws NoSuchElementException if this machine has no such node
     */
    public Node node(int id) {
        for (Node node : nodes) {
            if (node.id() == id) {
                return node;
            }
        }
        throw new NoSuchElementException("no NUMA node " + id + " on this machine");
    }

    static NumaTopology probe() {
        long[] flat = NumaNative.topology();
        int count = (int) flat[0];
        int at = 2;
        int[] ids = new int[count];
        List<long[]> header = new ArrayList<>();
        List<List<Integer>> cpus = new ArrayList<>();
        List<long[]> distances = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            ids[i] = (int) flat[at];
            header.add(new long[] {flat[at + 1], flat[at + 2]});
            int cpuCount = (int) flat[at + 3];
            at += 4;
            List<Integer> list = new ArrayList<>(cpuCount);
            for (int c = 0; c < cpuCount; c++) {
                list.add((int) flat[at++]);
            }
            cpus.add(list);
            long[] row = new long[count];
            System.arraycopy(flat, at, row, 0, count);
            at += count;
            distances.add(row);
        }
        List<Node> nodes = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            Map<Integer, Integer> row = new TreeMap<>();
            for (int j = 0; j < count; j++) {
                row.put(ids[j], (int) distances.get(i)[j]);
            }
            nodes.add(new Node(ids[i], cpus.get(i), row, header.get(i)[0], header.get(i)[1]));
        }
        return new NumaTopology(nodes, (int) flat[1]);
    }
}
