package org.nativepool;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * The blocks of one pool that its caches (thread caches and
 * {@link BlockCache}s) took from the native pool and have not given back,
 * each with its {@link SizeClasses size class} and its state: in a user's
 * hands, or parked in a cache. A cache parks only an address listed here as
 * in a user's hands, and moves it to parked with one CAS, so a second free of
 * a parked block is refused at once on any thread and through any cache or
 * the pool; an address not listed goes to the pool's checked free, which
 * refuses what is no block of the pool or one it holds free.
 *
 * <p>Two structures: an open-addressing set that maps an address to its
 * class and the index of its cell (the two side by side in one array, so
 * that a probe reads one cache line), written only on the caches' slow paths
 * (refill, drain, batch free) under this monitor and read with no lock and
 * no write; and the cells, one {@code long} per listed block in segments
 * that never move, holding the address, with {@link #PARKED} set while a
 * cache holds it. The set's entries never change while listed, so a resize
 * that publishes a new table loses nothing a reader or a cell writer does;
 * the cells are written without the lock: a free's CAS (any thread), an
 * allocation's plain store (the cache that holds the block, the only writer
 * a parked cell has), and the lock holder's clear on removal.
 *
 * <p>An entry is the address with the class in its low {@link #TAG_BITS}
 * bits (the blocks of a pool with more than one class are aligned to at
 * least {@code 2^TAG_BITS}), so that one atomic word holds both and a
 * reader never pairs an address with another block's class. Removal leaves
 * a tombstone instead of moving entries, so a lock-free reader never misses
 * an entry that a concurrent write did not remove.
 */
final class IssuedBlocks {
    /** 0 and 1 are never block addresses: an empty slot and a removed one. */
    static final long EMPTY = 0L;
    static final long REMOVED = 1L;
    /** The low bits of an entry that hold the class. */
    static final int TAG_BITS = 4;
    /**
     * The cell bit of a parked block: user-space addresses on 64-bit Linux stay below
     * {@code 2^57}, so no address has it.
     */
    static final long PARKED = Long.MIN_VALUE;
    /** The cell bit of a block in the hands of a {@link MemoryBlock}: like {@link #PARKED}, one no address has. */
    static final long OWNED = 1L << 62;
    /**
     * The class of a handle's block that no cache holds (a size or alignment the caches do
     * not serve, or a pool without caches): no cache ever parks it.
     */
    static final int NO_CLASS = (1 << TAG_BITS) - 1;
    /** What {@link #find} returns for an address that is not listed. */
    static final long NOT_LISTED = -1L;
    private static final int MIN_LENGTH = 64;
    private static final int SEGMENT_BITS = 10;
    private static final int SEGMENT_MASK = (1 << SEGMENT_BITS) - 1;
    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);

    /**
     * A table of the set, of {@code length} slots: slot {@code i} holds its entry at
     * {@code [2i]} and the entry's cell index at {@code [2i + 1]}.
     */
    private static final class Table {
        final long[] slots;
        final int mask;
        final int shift;

        Table(int length) {
            slots = new long[2 * length];
            mask = length - 1;
            shift = shiftFor(length);
        }

        int length() {
            return mask + 1;
        }
    }

    /** The bits of an entry that are its class: 0 for a pool with one class, whose blocks may be finer. */
    private final long tagMask;
    private volatile Table table = new Table(MIN_LENGTH);
    /** Segments of cells; a segment, once created, never moves. */
    private volatile long[][] segments = {new long[1 << SEGMENT_BITS]};
    /** Entries and tombstones in {@link #table}; guarded by this. */
    private int entries;
    private int tombstones;
    /** The cells in use or freed so far, and the freed ones to reuse; guarded by this. */
    private int cellsUsed;
    private int[] freeCells = new int[MIN_LENGTH];
    private int freeCount;

    /** @param classes how many size classes the entries tag, at most {@link #NO_CLASS} (the value past them tags handles' blocks) */
    IssuedBlocks(int classes) {
        if (classes > NO_CLASS) {
            throw new AssertionError(classes + " size classes: an entry tags at most " + NO_CLASS + " in "
                    + TAG_BITS + " bits, beside the value for handles' blocks");
        }
        this.tagMask = classes == 1 ? 0 : (1L << TAG_BITS) - 1;
    }

    /**
     * {@return {@link #NOT_LISTED}, or the listed block's cell index shifted left by
     * {@link #TAG_BITS} with its class in the low bits} Safe on any thread, without a lock.
     */
    long find(long address) {
        if (address == EMPTY || address == REMOVED) {
            return NOT_LISTED;
        }
        Table t = table;
        long[] slots = t.slots;
        for (int i = indexOf(address, t.shift);; i = (i + 1) & t.mask) {
            long entry = (long) SLOT.getAcquire(slots, 2 * i);
            if ((entry & ~tagMask) == address) {
                return slots[2 * i + 1] << TAG_BITS | (entry & tagMask);
            }
            if (entry == EMPTY) {
                return NOT_LISTED;
            }
        }
    }

    /** {@return the cell index in a {@link #find} result} */
    static int cellOf(long found) {
        return (int) (found >>> TAG_BITS);
    }

    /** {@return the class in a {@link #find} result} */
    static int classOf(long found) {
        return (int) (found & ((1L << TAG_BITS) - 1));
    }

    /**
     * Moves the block in {@code cell} from a user's hands to parked. Any thread.
     *
     * @param owner 0 for a raw free, {@link #OWNED} for a handle's close
     * @return false if the cell does not hold {@code address} in those hands: the block is
     *     parked already ({@link #isParked}), a handle's ({@link #isOwned}), or left the set
     *     meanwhile
     */
    boolean park(int cell, long address, long owner) {
        return SLOT.compareAndSet(segment(cell), cell & SEGMENT_MASK, address | owner, address | PARKED);
    }

    /**
     * Hands the parked block in {@code cell} out again; only by the cache that holds it.
     *
     * @param owner 0 for a raw allocation, {@link #OWNED} for a handle's
     */
    void unpark(int cell, long address, long owner) {
        SLOT.setRelease(segment(cell), cell & SEGMENT_MASK, address | owner);
    }

    /** {@return whether {@code cell} holds {@code address} parked} */
    boolean isParked(int cell, long address) {
        return (long) SLOT.getVolatile(segment(cell), cell & SEGMENT_MASK) == (address | PARKED);
    }

    /** {@return whether {@code cell} holds {@code address} in a handle's hands} */
    boolean isOwned(int cell, long address) {
        return (long) SLOT.getVolatile(segment(cell), cell & SEGMENT_MASK) == (address | OWNED);
    }

    /** {@return whether {@code address} is listed in a handle's hands} Any thread, for messages. */
    boolean isOwned(long address) {
        long found = find(address);
        return found != NOT_LISTED && isOwned(cellOf(found), address);
    }

    private long[] segment(int cell) {
        return segments[cell >>> SEGMENT_BITS];
    }

    /**
     * Lists {@code addresses[0..count)}, which the pool just handed out as blocks of class
     * {@code cls}, as parked, and writes their cells to {@code cellsOut[0..count)}.
     */
    synchronized void addParked(long[] addresses, int count, int cls, int[] cellsOut) {
        makeRoom(count);
        for (int k = 0; k < count; k++) {
            cellsOut[k] = list(addresses[k], cls, PARKED);
        }
    }

    /**
     * Lists {@code address}, which the pool just handed to a {@link MemoryBlock} past the
     * caches, as in the handle's hands ({@link #NO_CLASS}).
     */
    synchronized void addOwned(long address) {
        makeRoom(1);
        list(address, NO_CLASS & (int) tagMask, OWNED);
    }

    /**
     * Unlists a block that {@link #addOwned} listed, for its handle's close.
     *
     * @return false if the block is not listed in a handle's hands (nothing changes)
     */
    synchronized boolean removeOwned(long address) {
        long found = find(address);
        if (found == NOT_LISTED) {
            return false;
        }
        int cell = cellOf(found);
        if (!SLOT.compareAndSet(segment(cell), cell & SEGMENT_MASK, address | OWNED, EMPTY)) {
            return false;
        }
        unlist(address, cell);
        return true;
    }

    /** Rebuilds the table when {@code count} more entries would fill more than half of it. */
    private void makeRoom(int count) {
        if ((entries + tombstones + count) * 2L > table.length()) {
            rebuild(entries + count);
        }
    }

    /** Lists one block of class {@code cls} with {@code state} in a new cell, and returns the cell. */
    private int list(long address, int cls, long state) {
        Table t = table;
        long[] slots = t.slots;
        int cell = newCell();
        SLOT.setRelease(segment(cell), cell & SEGMENT_MASK, address | state);
        int i = indexOf(address, t.shift);
        long entry;
        while ((entry = slots[2 * i]) != EMPTY && entry != REMOVED) {
            i = (i + 1) & t.mask;
        }
        if (entry == REMOVED) {
            tombstones--;
        }
        slots[2 * i + 1] = cell;
        SLOT.setRelease(slots, 2 * i, address | cls); // after its cell index, which find() reads next
        entries++;
        return cell;
    }

    /** Unlists parked blocks leaving their cache for the pool: {@code addresses[0..count)}, cells beside. */
    synchronized void removeParked(long[] addresses, int[] cells, int count) {
        for (int k = 0; k < count; k++) {
            SLOT.setRelease(segment(cells[k]), cells[k] & SEGMENT_MASK, EMPTY);
            unlist(addresses[k], cells[k]);
        }
    }

    /**
     * Unlists the listed blocks of {@code addresses[0..count)}, which a user
     * frees past the caches, in order, up to the first that is parked.
     * Takes the lock only if one is listed: a batch of blocks that came from
     * a batch allocation meets no other thread here.
     *
     * @return {@code count}, or the index of the first block parked (a double free) or in a
     *     handle's hands
     */
    int removeInHands(long[] addresses, int count) {
        for (int k = 0; k < count; k++) {
            if (find(addresses[k]) != NOT_LISTED) {
                return removeListedInHands(addresses, count);
            }
        }
        return count;
    }

    /**
     * {@return false if {@code address} is parked (a double free) or a handle's, else true,
     * unlisting it if listed}
     */
    boolean removeInHands(long address) {
        return find(address) == NOT_LISTED || removeListedInHands(address);
    }

    private synchronized int removeListedInHands(long[] addresses, int count) {
        for (int k = 0; k < count; k++) {
            if (!removeListedInHands(addresses[k])) {
                return k;
            }
        }
        return count;
    }

    private synchronized boolean removeListedInHands(long address) {
        long found = find(address);
        if (found == NOT_LISTED) {
            return true;
        }
        int cell = cellOf(found);
        // A CAS: a free on another thread may park the block meanwhile; a handle's block fails it.
        if (!SLOT.compareAndSet(segment(cell), cell & SEGMENT_MASK, address, EMPTY)) {
            return false;
        }
        unlist(address, cell);
        return true;
    }

    /** Drops the entry of {@code address} and frees its cell, which holds no block now. */
    private void unlist(long address, int cell) {
        Table t = table;
        for (int i = indexOf(address, t.shift);; i = (i + 1) & t.mask) {
            long entry = t.slots[2 * i];
            if ((entry & ~tagMask) == address) {
                SLOT.setRelease(t.slots, 2 * i, REMOVED);
                entries--;
                tombstones++;
                break;
            }
            if (entry == EMPTY) {
                break;
            }
        }
        if (freeCount == freeCells.length) {
            freeCells = Arrays.copyOf(freeCells, freeCount * 2);
        }
        freeCells[freeCount++] = cell;
    }

    /** A cell for a new entry: a freed one, or the next, in a new segment when the last is full. */
    private int newCell() {
        if (freeCount > 0) {
            return freeCells[--freeCount];
        }
        int cell = cellsUsed++;
        long[][] all = segments;
        if (cell >>> SEGMENT_BITS == all.length) {
            long[][] more = Arrays.copyOf(all, all.length * 2);
            more[all.length] = new long[1 << SEGMENT_BITS];
            segments = more;
        } else if (all[cell >>> SEGMENT_BITS] == null) {
            all[cell >>> SEGMENT_BITS] = new long[1 << SEGMENT_BITS];
            segments = all; // publishes the new segment with the array that holds it
        }
        return cell;
    }

    /**
     * A fresh table, at most a quarter full after adding up to {@code needed}
     * entries, without tombstones; {@link #addParked} rebuilds at half full,
     * where a linear probe still ends within a line or two (four slots to a line).
     */
    private void rebuild(int needed) {
        int length = MIN_LENGTH;
        while (length < needed * 4L && length < 1 << 29) {
            length <<= 1;
        }
        Table old = table;
        Table fresh = new Table(length);
        for (int j = 0; j < old.length(); j++) {
            long entry = old.slots[2 * j];
            if (entry != EMPTY && entry != REMOVED) {
                int i = indexOf(entry & ~tagMask, fresh.shift);
                while (fresh.slots[2 * i] != EMPTY) {
                    i = (i + 1) & fresh.mask;
                }
                fresh.slots[2 * i] = entry;
                fresh.slots[2 * i + 1] = old.slots[2 * j + 1];
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
