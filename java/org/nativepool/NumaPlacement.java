package org.nativepool;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;
import org.nativepool.internal.NumaNative;

/**
 * Where the pages of a range of host memory lie now, from
 * {@link NativePool#placement(MemoryBlock)}. Queried with {@code move_pages},
 * which moves nothing; a page never touched has no node yet.
 *
 * @param pagesOnNode pages on each node that holds any, by node id
 * @param notPresent pages never touched, so on no node yet
 * @param pageSize bytes per page
 */
public record NumaPlacement(Map<Integer, Long> pagesOnNode, long notPresent, long pageSize) {
    /**
     * Copies the map, ordered by node, so the record stays immutable.
     *
     * @param pagesOnNode pages on each node, by node id
     * @param notPresent pages never touched
     * @param pageSize bytes per page
     */
    public NumaPlacement {
        pagesOnNode = Collections.unmodifiableMap(new TreeMap<>(pagesOnNode));
    }

    /**
     * {@return the pages on {@code node}; 0 for a node that holds none}
     *
     * @param node a node id
     */
    public long pagesOn(int node) {
        return pagesOnNode.getOrDefault(node, 0L);
    }

    static NumaPlacement of(long address, long bytes) {
        long[] flat = NumaNative.placement(address, bytes);
        Map<Integer, Long> pages = new TreeMap<>();
        for (int node = 0; node + 2 < flat.length; node++) {
            if (flat[node + 2] != 0) {
                pages.put(node, flat[node + 2]);
            }
        }
        return new NumaPlacement(pages, flat[1], flat[0]);
    }
}
