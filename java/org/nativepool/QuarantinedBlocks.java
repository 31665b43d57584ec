package org.nativepool;

import java.util.ArrayList;
import java.util.List;
import java.util.NavigableSet;
import java.util.concurrent.ConcurrentSkipListSet;

/**
 * A pool's blocks whose {@link MemoryBlock} was closed while a
 * {@link MemoryBlock#asByteBuffer() view} of it was still reachable: the pool
 * keeps them allocated (counted as live in {@link PoolStats}) until the last
 * view is collected, so that no view outlives its memory. Recorded so that a
 * {@link MemorySnapshot} shows them as {@link BlockState#QUARANTINED} rather
 * than as blocks in a user's hands. Rare (a view outliving its handle), so a
 * sorted set by address is cheap enough.
 */
final class QuarantinedBlocks {
    private final NavigableSet<Long> addresses = new ConcurrentSkipListSet<>();

    /** A closing handle's block that a use or view still holds; it stays until {@link #released}. */
    void quarantined(long address) {
        addresses.add(address);
    }

    /** The block's free runs now: before it goes back to the pool, which may hand the address out again. */
    void released(long address) {
        addresses.remove(address);
    }

    /** {@return how many blocks are quarantined now} */
    int count() {
        return addresses.size();
    }

    /**
     * {@return {@code regions} with each quarantined block that starts a live block of them split out
     * of its run as a run of its own, {@link BlockState#QUARANTINED}, details kept}
     */
    List<MemorySnapshot.Region> mark(List<MemorySnapshot.Region> regions) {
        if (addresses.isEmpty()) {
            return regions;
        }
        List<MemorySnapshot.Region> marked = new ArrayList<>(regions.size());
        for (MemorySnapshot.Region region : regions) {
            NavigableSet<Long> inside = addresses.subSet(region.base(), true, region.base() + region.size(), false);
            if (inside.isEmpty()) {
                marked.add(region);
                continue;
            }
            List<MemorySnapshot.Run> runs = new ArrayList<>(region.runs().size() + 2 * inside.size());
            for (MemorySnapshot.Run run : region.runs()) {
                split(run, region.base(), inside, runs);
            }
            marked.add(new MemorySnapshot.Region(region.base(), region.size(), runs));
        }
        return marked;
    }

    /** Adds {@code run} to {@code out}, its quarantined blocks (if it is a live run) as runs of their own. */
    private static void split(MemorySnapshot.Run run, long base, NavigableSet<Long> inside,
            List<MemorySnapshot.Run> out) {
        if (run.state() != BlockState.LIVE) {
            out.add(run);
            return;
        }
        long block = run.blockSize();
        long at = run.offset(); // the first block not yet added
        for (long address : inside.subSet(base + run.offset(), true, base + run.end(), false)) {
            long offset = address - base;
            if ((offset - run.offset()) % block != 0) {
                continue; // not the start of one of the run's blocks
            }
            if (offset > at) {
                out.add(new MemorySnapshot.Run(at, offset - at, (offset - at) / block, BlockState.LIVE,
                        run.requestedSize(), run.ageNanos(), run.site()));
            }
            out.add(new MemorySnapshot.Run(offset, block, 1, BlockState.QUARANTINED, run.requestedSize(),
                    run.ageNanos(), run.site()));
            at = offset + block;
        }
        if (at < run.end()) {
            out.add(at == run.offset() ? run : new MemorySnapshot.Run(at, run.end() - at, (run.end() - at) / block,
                    BlockState.LIVE, run.requestedSize(), run.ageNanos(), run.site()));
        }
    }
}
