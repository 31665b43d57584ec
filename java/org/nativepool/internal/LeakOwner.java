package org.nativepool.internal;

import java.util.Map;
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
public interface LeakOwner<C> {
    /** Names the owner in reports: {@link org.nativepool.LeakedBlock#pool()}. */
    String leakOwnerName();

    /** Which of its handles are tracked. */
    LeakDetection leakDetection();

    /** Whether the block of a leaked handle is freed when the leak is found. */
    boolean reclaimLeakedBlocks();

    /**
     * Frees the block of a leaked handle as the handle's {@code close()}
     * would; a no-op once the owner is closed (it released everything).
     *
     * @return whether this call freed the block
     */
    boolean freeLeaked(long address, C context);

    /** The tracked handles still open, by address; their trackers add and remove themselves. */
    Map<Long, LeakTracker> trackedHandles();
}
