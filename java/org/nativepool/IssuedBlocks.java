package org.nativepool;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The blocks of one pool that its thread caches took from the native pool
 * and have not given back, each with its {@link SizeClasses size class}: each
 * is in a user's hands or parked in a cache. A thread cache parks only an
 * address listed here, and in the cache of its class, so an address the pool
 * holds free (a double free after a cache drained the block) or one that is
 * no block of the pool at all goes to the pool's checked free, which refuses
 * it; a free finds the block's class here, without a native call.
 *
 * <p>An entry is the address with the class in its low {@link #TAG_BITS}
 * bits (the blocks of a pool with more than one class are aligned to at
 * least {@code 2^TAG_BITS}), so that one atomic word holds both and a
 * reader never pairs an address with another block's class.
 *
 * <p>An open-addressing set of addresses, written only on the caches' slow
 * paths (refill, drain, batch free) under its monitor, and read on every
 * cached free with no lock and no write: removal leaves a tombstone instead
 * of moving entries, so a lock-free reader never misses an entry that a
 * concurrent write did not remove, and a resize publishes a new table while
 * readers finish on the old one.
 */
final class IssuedBlocks {
    /** 0 and 1 are never block addresses: an empty slot and a removed one. */
    static final long EMPTY = 0L;
    static final long REMOVED = 1L;
    /** The low bits of an entry that hold the class. */
    static final int TAG_BITS = 4;
    private static final int MIN_LENGTH = 64;
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);

    /** The bits of an entry that are its class: 0 for a pool with one class, whose blocks may be finer. */
    private final long tagMask;
    private volatile long[] table = new long[MIN_LENGTH];
    /** Entries and tombstones in {@link #table}; guarded by this. */
    private int entries;
    private int tombstones;

    /** @param classes how many size classes the entries tag, at most {@code 2^TAG_BITS} */
    IssuedBlocks(int classes) {
        this.tagMask = classes == 1 ? 0 : (1L << TAG_BITS) - 1;
    }

    /**
     * {@return the class of the block at {@code address} if it was issued and not
     * given back, else -1} Safe on any thread, without a lock.
     */
    int classOf(long address) {
        if (address == EMPTY || address == REMOVED) {
            return -1;
        }
        long[] slots = table;
        int mask = slots.length - 1;
        for (int i = indexOf(address, shiftFor(slots.length));; i = (i + 1) & mask) {
            long entry = (long) SLOT.getOpaque(slots, i);
            if ((entry & ~tagMask) == address) {
                return (int) (entry & tagMask);
            }
            if (entry == EMPTY) {
                return -1;
            }
        }
    }

    /** Lists {@code addresses[0..count)}, which the pool just handed out as blocks of class {@code cls}. */
    synchronized void addAll(long[] addresses, int count, int cls) {
        if ((entries + tombstones + count) * 4L > table.length) {
            rebuild(entries + count);
        }
        long[] slots = table;
        int mask = slots.length - 1;
        int shift = shiftFor(slots.length);
        for (int k = 0; k < count; k++) {
            long address = addresses[k];
            int i = indexOf(address, shift);
            long entry;
            while ((entry = (long) SLOT.getOpaque(slots, i)) != EMPTY && entry != REMOVED) {
                i = (i + 1) & mask;
            }
            if (entry == REMOVED) {
                tombstones--;
            }
            SLOT.setRelease(slots, i, address | cls);
            entries++;
        }
    }

    /**
     * Unlists those of {@code addresses[0..count)} that are listed, before they
     * go back to the pool. Takes the lock only if one is: a batch of blocks
     * that came from a batch allocation meets no other thread here.
     */
    void removeAll(long[] addresses, int count) {
        for (int k = 0; k < count; k++) {
            if (classOf(addresses[k]) >= 0) {
                removeListed(addresses, count);
                return;
            }
        }
    }

    private synchronized void removeListed(long[] addresses, int count) {
        long[] slots = table;
        int mask = slots.length - 1;
        int shift = shiftFor(slots.length);
        for (int k = 0; k < count; k++) {
            long address = addresses[k];
            if (address == EMPTY || address == REMOVED) {
                continue;
            }
            for (int i = indexOf(address, shift);; i = (i + 1) & mask) {
                long entry = (long) SLOT.getOpaque(slots, i);
                if ((entry & ~tagMask) == address) {
                    SLOT.setRelease(slots, i, REMOVED);
                    entries--;
                    tombstones++;
                    break;
                }
                if (entry == EMPTY) {
                    break;
                }
            }
        }
    }

    /** A fresh table, at most an eighth full after adding up to {@code needed} entries, without tombstones. */
    private void rebuild(int needed) {
        int length = MIN_LENGTH;
        while (length < needed * 8L && length < 1 << 30) {
            length <<= 1;
        }
        long[] old = table;
        long[] fresh = new long[length];
        int mask = length - 1;
        int shift = shiftFor(length);
        for (long entry : old) {
            if (entry != EMPTY && entry != REMOVED) {
                int i = indexOf(entry & ~tagMask, shift);
                while (fresh[i] != EMPTY) {
                    i = (i + 1) & mask;
                }
                fresh[i] = entry;
            }
        }
        tombstones = 0;
        table = fresh;
    }

    /**
     * Fibonacci hashing: the top bits of the product, which every bit of an
     * aligned address reaches, index a table of {@code 2^(64 - shift)} slots.
     */
    static int indexOf(long address, int shift) {
        return (int) ((address * 0x9E3779B97F4A7C15L) >>> shift);
    }

    /** {@return the shift of {@link #indexOf} for a table of {@code length} slots, a power of two} */
    static int shiftFor(int length) {
        return Long.numberOfLeadingZeros(length) + 1;
    }
}
