package org.nativepool.internal;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.nativepool.LeakDetection;

/**
 * Not API. What owns leak-tracked handles, as {@link org.nativepool.LeakDetector}
 * sees it: a host pool, or one pool (a device's, or the pinned one) of a GPU
 * manager. The detector asks it how to track, and how to reclaim a handle
 * found unreachable without {@code close()}.
 *
 * @param <C> what a handle hands over, when tracked, for freeing its block
 *     later (a GPU buffer's stream); {@code Void} when nothing is needed
 */
public abstract class LeakOwner<C> {
    private final String name;
    private final LeakDetection leakDetection;
    private final boolean reclaimLeakedBlocks;
    private final Map<Long, LeakTracker> tracked = new ConcurrentHashMap<>();
    private volatile boolean closed;

    protected LeakOwner(String name, LeakDetection leakDetection, boolean reclaimLeakedBlocks) {
        this.name = name;
        this.leakDetection = leakDetection;
        this.reclaimLeakedBlocks = reclaimLeakedBlocks;
    }

    /** Names the owner in reports: {@link org.nativepool.LeakedBlock#pool()}. */
    public final String leakOwnerName() {
        return name;
    }

    /** Which of its handles are tracked. */
    public final LeakDetection leakDetection() {
        return leakDetection;
    }

    /** Whether the block of a leaked handle is freed when the leak is found. */
    public final boolean reclaimLeakedBlocks() {
        return reclaimLeakedBlocks;
    }

    /**
     * Frees the block of a leaked handle as the handle's {@code close()}
     * would; a no-op once the owner is closed (it released everything).
     *
     * @return whether this call freed the block
     */
    public abstract boolean freeLeaked(long address, C context);

    /** The tracked handles still open, by address; their trackers add and remove themselves. */
    public final Map<Long, LeakTracker> trackedHandles() {
        return tracked;
    }

    /**
     * Closes the trackers still open: the owner released every block, so none of them leaked.
     * Trackers registered later are closed by {@link org.nativepool.LeakDetector#track} itself.
     */
    public final void closeAll() {
        closed = true;
        tracked.values().forEach(LeakTracker::close);
    }

    /**
     * {@return whether the owner released, or is releasing, every block} True once
     * {@link #closeAll()} ran, and already while the owner closes (see {@link #ownerClosing()}).
     */
    public final boolean isClosed() {
        return closed || ownerClosing();
    }

    /**
     * {@return true from the moment the owner refuses calls for good}: between that moment and
     * its {@link #closeAll()}, a dropped handle's block is released and reported by the owner,
     * not by the leak detector. Owners override it; the default knows only {@link #closeAll()}.
     */
    protected boolean ownerClosing() {
        return false;
    }
}
