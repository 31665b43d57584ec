package org.nativepool.internal;

import java.util.ArrayList;
import java.util.List;
import org.nativepool.BlockState;
import org.nativepool.MemorySnapshot;

/**
 * Turns the arrays of {@link PoolNative#snapshot} and {@link GpuNative#snapshot} into the regions
 * of a {@link MemorySnapshot}. Not API.
 */
public final class SnapshotArrays {
    private static final BlockState[] STATES = BlockState.values();

    private SnapshotArrays() {
    }

    /** {@return the regions, each with its runs, of {@code {long[] regions, long[] runs, String[] sites}}} */
    public static List<MemorySnapshot.Region> regions(Object[] arrays) {
        long[] regions = (long[]) arrays[0];
        long[] runs = (long[]) arrays[1];
        String[] sites = (String[]) arrays[2];
        int regionFields = PoolNative.SNAPSHOT_REGION_FIELDS;
        int runFields = PoolNative.SNAPSHOT_RUN_FIELDS;
        List<MemorySnapshot.Region> out = new ArrayList<>(regions.length / regionFields);
        for (int r = 0; r < regions.length; r += regionFields) {
            int first = Math.toIntExact(regions[r + 2]);
            int count = Math.toIntExact(regions[r + 3]);
            List<MemorySnapshot.Run> list = new ArrayList<>(count);
            for (int i = first; i < first + count; i++) {
                int at = i * runFields;
                long size = runs[at + 1];
                long blocks = runs[at + 2];
                int site = (int) runs[at + 6];
                list.add(new MemorySnapshot.Run(runs[at], size * blocks, blocks, STATES[(int) runs[at + 5]],
                        runs[at + 3], runs[at + 4], site < 0 ? null : sites[site]));
            }
            out.add(new MemorySnapshot.Region(regions[r], regions[r + 1], list));
        }
        return out;
    }
}
