package org.nativepool;

import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import org.nativepool.internal.LeakOwner;
import org.nativepool.internal.LeakTracker;
import org.nativepool.internal.MBeans;
import org.nativepool.internal.NativeLibrary;
import org.nativepool.internal.PersistentNative;
import org.nativepool.internal.SnapshotArrays;

/**
 * A crash-consistent heap in a file that reopens after {@code kill -9} and
 * power loss (docs/persistent.md). Blocks are named by their offset in the
 * file ({@link PersistentBlock#offset()}); a program finds its data after
 * reopening through {@link #ROOTS} root slots.
 *
 * <pre>{@code
 * try (PersistentPool pool = PersistentPool.create(path, 16 << 20)) {
 *     PersistentBlock counter = pool.allocate(64, 0);     // zeroed, published into root 0
 *     try (PersistentTransaction tx = pool.begin()) {
 *         tx.snapshot(counter, 0, 8);
 *         counter.putLong(0, counter.getLong(0) + 1);
 *         tx.commit();
 *     }
 * }
 * try (PersistentPool pool = PersistentPool.open(path)) {
 *     long value = pool.root(0).getLong(0);                  // 1
 * }
 * }</pre>
 *
 * <p>Allocating publishes the block's offset into a root or a field of
 * another block in the same atomic step, and freeing clears it in the same
 * step: a crash never leaks a block nor leaves a dangling offset. Transactions
 * ({@link #begin()}) make any set of changes atomic. Every operation is
 * durable when it returns, unless the pool was opened in group-commit mode
 * ({@link Options#groupCommit(boolean)}), where {@link #flush()} makes
 * everything before it durable at once.
 *
 * <p>What differs from the other pools: blocks outlive their handles and the
 * process, so only a dropped {@link PersistentReservation} is a leak (its
 * pool's {@link Options#leakDetection leak detection} and
 * {@link Options#leakPolicy leak policy} report it as a dropped
 * {@link MemoryBlock}), and there are no safety
 * levels (the allocator's metadata already lives apart from the payload, in a
 * checksummed table that {@link #validate()} and every open check). Blocks are
 * aligned to 64 bytes. Thread-safe: one lock per pool, one transaction at a time.
 */
public final class PersistentPool extends NativeResource {
    /** Number of root slots. */
    public static final int ROOTS = 128;

    private static final System.Logger LOG = System.getLogger("org.nativepool");

    private final Path path;
    private final Durability durability;
    private final boolean groupCommit;
    private final boolean growsOnItsOwn;
    /** The heap's count of mappings as last seen; a handle's view made under another count is made anew. */
    private volatile long mapping;
    /** Its JMX bean, set once as it opens; null when not registered. */
    private volatile PersistentJmx jmx;
    private final LeakPolicy leakPolicy;
    /** Its reservations as the leak detector sees them: keyed by offset, reclaimed by cancelling. */
    private final LeakOwner<Long> leakOwner;
    /** Reservations neither published nor cancelled yet, and their bytes: what close() reports. */
    private final AtomicLong openReservations = new AtomicLong();
    private final AtomicLong openReservationBytes = new AtomicLong();

    /** How a pool is created or opened. */
    public static final class Options {
        private long undoLogBytes = 64 << 10;
        private boolean groupCommit;
        private boolean forceMsync;
        private long maxCapacity;
        /** Null: the system property {@code nativepool.jmx} decides. */
        private Boolean jmx;
        private LeakPolicy leakPolicy = LeakPolicy.LOG;
        /** Null: {@link LeakDetection#defaultFor(SafetyLevel)} of the default safety level, as for the other pools. */
        private LeakDetection leakDetection;

        /**
         * Defaults: a 64 KiB undo log, every operation durable on return, cache flushes on DAX, no auto-grow,
         * leak detection and policy as {@link PoolBuilder}'s.
         */
        public Options() {
        }

        /**
         * Bytes of the undo log (create only), which bounds what one transaction can snapshot.
         *
         * @param bytes a positive multiple of 4096, at most half the capacity
         * @return this
         */
        public Options undoLogBytes(long bytes) {
            this.undoLogBytes = bytes;
            return this;
        }

        /**
         * Group commit: operations skip their persist points and {@link PersistentPool#flush()} makes everything
         * durable. A process crash loses nothing; a power loss before the flush makes the next open refuse the
         * file with {@link PoolCorruptedException} rather than return a heap that may be inconsistent.
         *
         * @param enabled whether to defer durability to flush()
         * @return this
         */
        public Options groupCommit(boolean enabled) {
            this.groupCommit = enabled;
            return this;
        }

        /**
         * Use msync even on a DAX file system (for comparison).
         *
         * @param enabled whether to refuse cache-flush mode
         * @return this
         */
        public Options forceMsync(boolean enabled) {
            this.forceMsync = enabled;
            return this;
        }

        /**
         * Auto-grow (create and open): when no free extent fits a block, the pool {@linkplain PersistentPool#grow
         * grows} on its own, at least doubling, up to {@code bytes}.
         *
         * @param bytes a multiple of 4096; 0 (the default) never grows on its own
         * @return this
         */
        public Options maxCapacity(long bytes) {
            this.maxCapacity = bytes;
            return this;
        }

        /**
         * Registers the pool's {@link PersistentPoolMXBean} ({@code org.nativepool:type=Pool,name=<path>}),
         * and a {@link java.lang.management.BufferPoolMXBean} ({@code java.nio:type=BufferPool,
         * name=nativepool-<path>}: live blocks, their bytes, the file's size) until it closes. Default: the system property
         * {@code nativepool.jmx} ({@code true} or {@code false}; off when unset), as for the other pools.
         *
         * @param register whether to register
         * @return this
         */
        public Options jmx(boolean register) {
            this.jmx = register;
            return this;
        }

        /**
         * What closing the pool with reservations neither published nor cancelled does: they are given back,
         * then reported by the policy. Default {@link LeakPolicy#LOG}.
         *
         * @param leakPolicy the policy, not null
         * @return this
         */
        public Options leakPolicy(LeakPolicy leakPolicy) {
            this.leakPolicy = Objects.requireNonNull(leakPolicy, "leakPolicy");
            return this;
        }

        /**
         * Which {@link PersistentReservation}s record the stack that reserved them, so that one dropped
         * unpublished is cancelled and reported with it. Default {@link LeakDetection#defaultFor(SafetyLevel)}
         * of {@link SafetyLevel#defaultLevel()}, as for the other pools.
         *
         * @param leakDetection the level, not null
         * @return this
         */
        public Options leakDetection(LeakDetection leakDetection) {
            this.leakDetection = Objects.requireNonNull(leakDetection, "leakDetection");
            return this;
        }

        /** Settled before the heap exists, so that a bad {@link LeakDetection#PROPERTY} leaves nothing behind. */
        private LeakDetection resolvedLeakDetection() {
            return leakDetection != null ? leakDetection : LeakDetection.defaultFor(SafetyLevel.defaultLevel());
        }
    }

    private PersistentPool(long handle, Path path, Options options, LeakDetection leakDetection) {
        super(handle);
        this.path = path;
        this.groupCommit = options.groupCommit;
        this.growsOnItsOwn = options.maxCapacity != 0;
        this.durability = Durability.fromCode(PersistentNative.durability(handle));
        this.leakPolicy = options.leakPolicy;
        this.leakOwner = new LeakOwner<>(jmxName(), leakDetection, true) {
            @Override
            public boolean freeLeaked(long offset, Long size) {
                if (isClosed()) {
                    return false;
                }
                cancel(offset, size);
                return true;
            }

            @Override
            protected boolean ownerClosing() {
                return PersistentPool.this.isClosed();
            }
        };
    }

    /**
     * Creates {@code path}, which must not exist, as an empty heap of {@code capacity} bytes, all allocated on
     * disk now (a full disk fails here, not later).
     *
     * @param path the file to create
     * @param capacity the file's size: a multiple of 4096, at least 64 KiB
     * @return the open pool
     * @throws InvalidArgumentException for a bad capacity or an existing file
     * @throws OutOfPoolMemoryException when the disk is full
     * @throws PersistentFileException when a system call fails
     */
    public static PersistentPool create(Path path, long capacity) {
        return create(path, capacity, new Options());
    }

    /**
     * Creates {@code path} as an empty heap with {@code options}.
     *
     * @param path the file to create
     * @param capacity the file's size: a multiple of 4096, at least 64 KiB
     * @param options undo log size, group commit, msync
     * @return the open pool
     * @throws InvalidArgumentException for bad options or an existing file
     * @throws OutOfPoolMemoryException when the disk is full
     * @throws PersistentFileException when a system call fails
     */
    public static PersistentPool create(Path path, long capacity, Options options) {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(options, "options");
        NativeLibrary.ensureLoaded();
        LeakDetection leakDetection = options.resolvedLeakDetection();
        long handle = PersistentNative.create(path.toString(), capacity, options.undoLogBytes, options.groupCommit,
                options.forceMsync, options.maxCapacity);
        return registered(new PersistentPool(handle, path, options, leakDetection), options);
    }

    /**
     * Opens an existing heap, recovering it from any crash.
     *
     * @param path the heap's file
     * @return the open pool
     * @throws NotAPoolException for a file that is no heap (left unmodified, as for the four below)
     * @throws PoolTruncatedException for a heap cut short
     * @throws PoolVersionException for another format version
     * @throws ChecksumMismatchException for a damaged header
     * @throws PoolAlreadyOpenException when another handle has it open
     * @throws PoolCorruptedException when the allocator's table fails its checks
     */
    public static PersistentPool open(Path path) {
        return open(path, new Options());
    }

    /**
     * Opens an existing heap with {@code options} (the undo log size is the file's).
     *
     * @param path the heap's file
     * @param options group commit, msync
     * @return the open pool
     * @throws PersistentFileException or a subclass for files it refuses (left unmodified)
     * @throws PoolCorruptedException when the allocator's table fails its checks
     */
    public static PersistentPool open(Path path, Options options) {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(options, "options");
        NativeLibrary.ensureLoaded();
        LeakDetection leakDetection = options.resolvedLeakDetection();
        PoolEvents.PersistentRecovery recovery = new PoolEvents.PersistentRecovery();
        recovery.begin();
        long handle = PersistentNative.open(path.toString(), options.groupCommit, options.forceMsync,
                options.maxCapacity);
        PersistentPool pool = new PersistentPool(handle, path, options, leakDetection);
        PoolEvents.recovered(pool, recovery);
        return registered(pool, options);
    }

    /** {@return the heap's file} */
    public Path path() {
        return path;
    }

    /** {@return how stores are made durable: cache flushes on DAX, msync elsewhere} */
    public Durability durability() {
        return durability;
    }

    /** {@return whether durability is deferred to {@link #flush()}} */
    public boolean groupCommit() {
        return groupCommit;
    }

    /** {@return what closing with open reservations does: {@link Options#leakPolicy(LeakPolicy)}} */
    public LeakPolicy leakPolicy() {
        return leakPolicy;
    }

    /** {@return which reservations the leak detector tracks: {@link Options#leakDetection(LeakDetection)}} */
    public LeakDetection leakDetection() {
        return leakOwner.leakDetection();
    }

    /**
     * {@return the block in root {@code index}, or null when the root is empty}
     *
     * @param index the root, 0 to {@link #ROOTS} - 1
     */
    public PersistentBlock root(int index) {
        checkRoot(index);
        long heap = acquire();
        try {
            long offset = PersistentNative.root(heap, index);
            return offset == 0 ? null : new PersistentBlock(this, offset, PersistentNative.blockSize(heap, offset));
        } finally {
            release();
        }
    }

    /**
     * {@return a handle to the live block at {@code offset}, as found in a field of another block}
     *
     * @param offset the block's offset in the file
     * @throws InvalidFreeException when no live block starts there
     */
    public PersistentBlock block(long offset) {
        long heap = acquire();
        try {
            long size = PersistentNative.blockSize(heap, offset);
            if (size == 0) {
                throw new InvalidFreeException("offset " + offset + " is not a live block of " + this);
            }
            return new PersistentBlock(this, offset, size);
        } finally {
            release();
        }
    }

    /**
     * Allocates a zeroed block and publishes it into root {@code index} in one atomic step.
     *
     * @param size bytes, at least 1
     * @param index an empty root
     * @return the new block
     * @throws InvalidArgumentException for a bad size or a root that holds a block
     * @throws OutOfPoolMemoryException when no free extent fits
     */
    public PersistentBlock allocate(long size, int index) {
        return allocateAt(size, rootSlot(index));
    }

    /**
     * Allocates a zeroed block and publishes it into the 8-byte field at {@code fieldOffset} of {@code parent}
     * in one atomic step.
     *
     * @param size bytes, at least 1
     * @param parent a live block
     * @param fieldOffset a multiple of 8 within it; the field must hold 0
     * @return the new block
     */
    public PersistentBlock allocateInto(long size, PersistentBlock parent, long fieldOffset) {
        return allocateAt(size, fieldSlot(parent, fieldOffset));
    }

    private PersistentBlock allocateAt(long size, long destination) {
        long heap = acquire();
        try {
            long offset = PersistentNative.allocate(heap, size, destination);
            noteAutoGrow(heap);
            return new PersistentBlock(this, offset, size);
        } finally {
            release();
        }
    }

    /**
     * {@return a block held in host memory until published}
     *
     * @param size bytes, at least 1
     */
    public PersistentReservation reserve(long size) {
        long heap = acquire();
        try {
            long offset = PersistentNative.reserve(heap, size);
            noteAutoGrow(heap);
            openReservations.incrementAndGet();
            openReservationBytes.addAndGet(size);
            return new PersistentReservation(this, new PersistentBlock(this, offset, size));
        } finally {
            release();
        }
    }

    /**
     * Frees the block in root {@code index} and empties the root in one atomic step.
     *
     * @param index a root holding a block
     * @throws DoubleFreeException when the root is empty
     */
    public void free(int index) {
        freeAt(rootSlot(index));
    }

    /**
     * Frees the block whose offset the field at {@code fieldOffset} of {@code parent} holds, and zeroes the
     * field, in one atomic step.
     *
     * @param parent a live block
     * @param fieldOffset a multiple of 8 within it
     */
    public void freeField(PersistentBlock parent, long fieldOffset) {
        freeAt(fieldSlot(parent, fieldOffset));
    }

    private void freeAt(long destination) {
        long heap = acquire();
        try {
            PersistentNative.free(heap, destination);
        } finally {
            release();
        }
    }

    /**
     * Makes {@code [offset, offset + length)} of {@code block} durable: an msync of its pages, or cache flushes
     * and a fence on DAX. In group-commit mode it is deferred to {@link #flush()}.
     *
     * @param block a live block of this pool
     * @param offset offset within it
     * @param length bytes, at least 1
     */
    public void persist(PersistentBlock block, long offset, long length) {
        long blockOffset = own(block);
        long heap = acquire();
        try {
            PersistentNative.persist(heap, blockOffset, offset, length);
        } finally {
            release();
        }
    }

    /** Group commit: makes everything so far durable. Otherwise nothing is pending; it reports I/O errors. */
    public void flush() {
        long heap = acquire();
        try {
            PersistentNative.flush(heap);
        } finally {
            release();
        }
    }

    /**
     * Extends the file to {@code capacity} bytes, adding space for blocks. The disk space is allocated first, so
     * a full disk is an {@link OutOfPoolMemoryException} that leaves file and pool as they were; a crash at any
     * point of a grow leaves a pool that opens at the old or the new capacity. Offsets do not change; the file is
     * mapped anew, and every {@link PersistentBlock} handle follows to the new mapping on its next access.
     *
     * @param capacity a multiple of 4096, at least 64 KiB more than {@link PersistentStats#capacity()}
     * @throws InvalidArgumentException for a bad capacity, or after 64 grows
     * @throws OutOfPoolMemoryException when the disk cannot hold it
     * @throws PersistentFileException when a system call fails
     */
    public void grow(long capacity) {
        long heap = acquire();
        try {
            PersistentNative.grow(heap, capacity);
            mapping = PersistentNative.mappings(heap);
        } finally {
            release();
        }
    }

    /**
     * {@return a new transaction; close it (try-with-resources) to roll back what was not committed}
     *
     * @throws InvalidArgumentException when a transaction is already open on this pool
     */
    public PersistentTransaction begin() {
        long heap = acquire();
        try {
            PersistentNative.begin(heap);
            return new PersistentTransaction(this);
        } finally {
            release();
        }
    }

    /**
     * Checks the allocator's table, the free structures and the roots.
     *
     * @throws PoolCorruptedException naming the first broken invariant
     */
    public void validate() {
        long heap = acquire();
        try {
            PersistentNative.validate(heap);
        } finally {
            release();
        }
    }

    /** {@return a snapshot of the pool's figures} */
    public PersistentStats stats() {
        long[] fields = new long[PersistentNative.STATS_FIELDS];
        long heap = acquire();
        try {
            PersistentNative.stats(heap, fields);
        } finally {
            release();
        }
        return PersistentStats.of(fields);
    }

    /** What {@code features} reports for {@link Feature#PERSISTENT}. */
    static String durabilitySummary() {
        String flush = PersistentNative.cacheFlushInstruction();
        return flush.isEmpty() ? "msync; this CPU has no cache-flush instruction"
                : "MAP_SYNC + " + flush + " on DAX, msync elsewhere";
    }

    @Override
    public String toString() {
        return "PersistentPool[" + path + ", " + durability + (groupCommit ? ", group commit]" : "]");
    }

    /**
     * Releases the heap; reservations still open are given back (they live in host memory only), then reported
     * by the {@link #leakPolicy()}, with the sites of those the leak detector tracked.
     */
    @Override
    protected void dispose(long handle) {
        if (jmx != null) {
            jmx.unregister();
        }
        long open = openReservations.get();
        long bytes = openReservationBytes.get();
        String report = open == 0 || leakPolicy == LeakPolicy.IGNORE ? null : reservationReport(open, bytes);
        // Marked before the release, so that a dropped reservation's cleaner finds its owner closed
        // and reports nothing: this report names it.
        leakOwner.closeAll();
        PersistentNative.destroy(handle);
        if (report == null) {
            return;
        }
        PoolEvents.leak(jmxName(), open, bytes, report);
        if (leakPolicy == LeakPolicy.THROW) {
            throw new PoolLeakException(report, open, bytes);
        }
        LOG.log(Level.WARNING, report);
    }

    private String reservationReport(long open, long bytes) {
        StringBuilder report = new StringBuilder().append(this).append(" closed with ").append(open)
                .append(" reservation(s) neither published nor cancelled, ").append(Sizes.format(bytes))
                .append("; the space was given back");
        Map<Long, LeakTracker> tracked = new TreeMap<>(leakOwner.trackedHandles());
        tracked.forEach((offset, tracker) -> report.append("\n  offset ").append(offset).append(": reserved at ")
                .append(Objects.requireNonNullElse(JavaSites.callerOf(tracker.allocationStack()), JavaSites.NO_SITE)));
        if (tracked.size() < open) {
            report.append("\n  ").append(open - tracked.size()).append(" more not tracked (leak detection ")
                    .append(leakOwner.leakDetection()).append(')');
        }
        return report.toString();
    }

    // ---- observability: JMX and snapshots ----

    /** Registers {@code pool}'s bean when {@code options} ask for it; closes the pool if that is refused. */
    private static PersistentPool registered(PersistentPool pool, Options options) {
        if (MBeans.wanted(options.jmx)) {
            pool.jmx = MBeans.registerOrClose(() -> PersistentJmx.register(pool), pool::close);
        }
        return pool;
    }

    /** {@return the name the pool's bean, snapshot and events carry: the file's absolute path} */
    String jmxName() {
        return path.toAbsolutePath().normalize().toString();
    }

    /**
     * {@return a snapshot of the heap: one region, its block area, with each
     * block of the table (its requested size recorded), each free extent, and
     * each reservation not yet published (live, with no requested size), in
     * offset order} A run's offset plus the region's base is the block's address
     * in this mapping; its offset in the file is {@link PersistentBlock#offset()}.
     * The walk holds the pool's lock for one pass over its table.
     * Drawn by {@link MemoryMap} as any pool's snapshot is.
     *
     * @throws PoolClosedException if the pool is closed
     */
    public MemorySnapshot snapshot() {
        Instant takenAt = Instant.now();
        Object[] arrays;
        long heap = acquire();
        try {
            arrays = PersistentNative.memorySnapshot(heap);
        } finally {
            release();
        }
        return new MemorySnapshot(jmxName(), "persistent", MemoryKind.PERSISTENT, -1, 0, takenAt, false,
                SnapshotArrays.regions(arrays));
    }

    // ---- for the handles of this package ----

    static long rootSlot(int index) {
        checkRoot(index);
        return PersistentNative.rootSlot(index);
    }

    static long fieldSlot(PersistentBlock parent, long fieldOffset) {
        Objects.requireNonNull(parent, "parent");
        if (fieldOffset < 0 || fieldOffset % 8 != 0 || fieldOffset > parent.size() - 8) {
            throw new InvalidArgumentException("field offset " + fieldOffset
                    + " is not an aligned 8-byte field of the " + parent.size() + "-byte block");
        }
        return parent.offset() + fieldOffset;
    }

    private static void checkRoot(int index) {
        if (index < 0 || index >= ROOTS) {
            throw new InvalidArgumentException("root " + index + " is out of range 0.." + (ROOTS - 1));
        }
    }

    private long own(PersistentBlock block) {
        Objects.requireNonNull(block, "block");
        if (block.pool() != this) {
            throw new InvalidArgumentException(block + " belongs to " + block.pool() + ", not " + this);
        }
        return block.offset();
    }

    long enter() {
        return acquire();
    }

    /** {@return the heap's count of mappings as last seen: a view made under another count is stale} */
    long mapping() {
        return mapping;
    }

    /** After a call that may have grown the heap on its own: handles' views must follow the new mapping. */
    private void noteAutoGrow(long heap) {
        if (growsOnItsOwn) {
            mapping = PersistentNative.mappings(heap);
        }
    }

    void leave() {
        release();
    }

    void publish(PersistentBlock block, long destination) {
        long heap = acquire();
        try {
            PersistentNative.publish(heap, block.offset(), block.size(), destination);
            settled(block.size());
        } finally {
            release();
        }
    }

    void cancel(PersistentBlock block) {
        cancel(block.offset(), block.size());
    }

    private void cancel(long offset, long size) {
        long heap = acquire();
        try {
            PersistentNative.cancel(heap, offset, size);
            settled(size);
        } finally {
            release();
        }
    }

    /** A reservation of {@code size} bytes was published or cancelled. */
    private void settled(long size) {
        openReservations.decrementAndGet();
        openReservationBytes.addAndGet(-size);
    }

    /** {@return the tracker of a new reservation, or null when the leak detection level does not select it} */
    LeakTracker track(PersistentReservation reservation, PersistentBlock block) {
        return LeakDetector.track(reservation, leakOwner, block.offset(), block.size(), block.size());
    }

    void txSnapshot(PersistentBlock block, long offset, long length) {
        long blockOffset = own(block);
        long heap = acquire();
        try {
            PersistentNative.snapshot(heap, blockOffset, offset, length);
        } finally {
            release();
        }
    }

    PersistentBlock txAllocate(long size) {
        long heap = acquire();
        try {
            long offset = PersistentNative.txAllocate(heap, size);
            noteAutoGrow(heap);
            return new PersistentBlock(this, offset, size);
        } finally {
            release();
        }
    }

    void txFree(PersistentBlock block) {
        long blockOffset = own(block);
        long heap = acquire();
        try {
            PersistentNative.txFree(heap, blockOffset);
        } finally {
            release();
        }
    }

    void txSetRoot(int index, PersistentBlock block) {
        checkRoot(index);
        long blockOffset = block == null ? 0 : own(block);
        long heap = acquire();
        try {
            PersistentNative.txSetRoot(heap, index, blockOffset);
        } finally {
            release();
        }
    }

    void txCommit() {
        long heap = acquire();
        try {
            PersistentNative.commit(heap);
        } finally {
            release();
        }
    }

    void txAbort() {
        long heap = acquire();
        try {
            PersistentNative.abort(heap);
        } finally {
            release();
        }
    }
}
