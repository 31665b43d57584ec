package org.nativepool;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.nativepool.internal.BudgetCharge;
import org.nativepool.internal.LeakOwner;
import org.nativepool.internal.LeakTracker;
import org.nativepool.internal.PoolNative;
import org.nativepool.internal.SafetyNative;
import org.nativepool.internal.SnapshotArrays;
import org.nativepool.internal.ViewGuard;

/**
 * A memory pool whose blocks and bookkeeping live in the native core. Built
 * by {@link FixedPool#builder(long)} or {@link VariablePool#builder()}.
 *
 * <p>Blocks come out either as {@link MemoryBlock} handles, which free
 * themselves on {@code close()}, or as raw addresses for hot loops, which the
 * caller returns with {@link #free(long)} or {@link #free(long[], int)}.
 * Every misuse (double free, foreign address, use after close) throws a
 * specific {@link NativePoolException} and leaves the pool consistent.
 *
 * <p>Closing the pool releases all of its memory, including blocks still
 * allocated, which are reported according to its {@link LeakPolicy}. Handles
 * of such blocks become inert: closing them later does nothing. While a
 * {@link MemoryBlock#asByteBuffer() view} of a block is still reachable, the
 * memory is kept (the pool is closed for every call) and released when the
 * last view is collected, so no view ever outlives its memory.
 *
 * <p>Single-block allocations and frees go through a cache per thread, unless
 * the pool is built with {@link PoolBuilder#threadCache(int) threadCache(0)}
 * or above {@link SafetyLevel#OFF} (see {@link FixedPool} and
 * {@link VariablePool} for what each caches, and {@link #flushThreadCache()}).
 *
 * <p>A pool's {@link SafetyLevel} decides whether writes outside blocks and
 * after free are detected ({@link MemoryCorruptionException}); its
 * {@link LeakDetection} decides which handles report being dropped without
 * {@code close()}.
 */
public abstract sealed class Pool extends NativeResource permits FixedPool, VariablePool {
    private static final System.Logger LOG = System.getLogger("org.nativepool");

    private final String name;
    private final ThreadSafety threadSafety;
    private final Backend backend;
    private final LeakPolicy leakPolicy;
    private final MemoryKind memoryKind;
    private final String backendName;
    private final SafetyLevel safetyLevel;
    private final LeakDetection leakDetection;
    private final boolean reclaimLeakedBlocks;
    /**
     * This pool as the leak detector sees it; its tracked handles give corruption reports their
     * allocation stacks. The context is {@code TRUE} for a {@link MemoryBlock}, null for a
     * {@link #trackAllocation raw registration}.
     */
    final LeakOwner<Boolean> leakOwner;
    /**
     * Closed by {@link #dispose(long)}: destroys the native pool once no view of its memory is
     * reachable ({@link MemoryBlock#asByteBuffer()}), so that no view outlives the memory.
     */
    final ViewGuard views;
    /** JDK 22+: the open arenas of blocks' segments ({@code Segments}), closed before the memory goes. */
    final Set<AutoCloseable> scopes = ConcurrentHashMap.newKeySet();
    /** Fixed pools: the block size; variable pools: 0. */
    final long blockSize;
    /** Fixed pools: the block alignment; variable pools: the granularity. */
    final long alignment;
    /** Null when the pool has no thread caches. */
    final ThreadCaches caches;
    /** Null when the pool has no automatic trim. */
    private final AutoTrim autoTrim;
    /** Null when the pool charges no budget. */
    private final BudgetCharge charge;

    /** The blocks closed under a reachable view, kept until it goes; snapshots mark them. */
    final QuarantinedBlocks quarantined = new QuarantinedBlocks();

    /** Its JMX beans, set once by the builder; null when not registered. */
    volatile PoolJmx jmx;

    /**
     * The blocks the pool's caches hold or handed out (those of the thread caches, and of
     * fixed pools' {@link BlockCache}s), and the blocks of open {@link MemoryBlock}s.
     */
    final IssuedBlocks issued;

    Pool(long handle, PoolBuilder<?, ?> settings) {
        super(handle);
        this.views = new ViewGuard(() -> PoolNative.destroy(handle));
        this.name = settings.name;
        this.threadSafety = settings.threadSafety;
        this.backend = settings.backend;
        this.leakPolicy = settings.leakPolicy;
        this.safetyLevel = settings.resolvedSafetyLevel;
        this.leakDetection = settings.resolvedLeakDetection;
        this.reclaimLeakedBlocks = settings.reclaimLeakedBlocks;
        this.leakOwner = new LeakOwner<>(name, leakDetection, reclaimLeakedBlocks) {
            @Override
            public boolean freeLeaked(long address, Boolean handle) {
                return handle != null ? freeFromHandle(address) : freeRegistered(address);
            }

            @Override
            protected boolean ownerClosing() {
                return Pool.this.isClosed();
            }
        };
        long[] info = new long[PoolNative.INFO_FIELDS];
        PoolNative.info(handle, info);
        this.memoryKind = MemoryKind.fromCode((int) info[0]);
        this.blockSize = info[3];
        this.alignment = info[4];
        this.backendName = PoolNative.backendName(handle);
        SizeClasses classes = blockSize != 0 ? SizeClasses.fixed(blockSize, alignment)
                : SizeClasses.variable(alignment);
        // Node-local pools serve each thread from its node: a Java cache would park
        // blocks of other nodes that threads freed across nodes, so they have none.
        this.caches = settings.threadCache == 0 || safetyLevel != SafetyLevel.OFF || classes == null
                || backend.equals(Backend.nodeLocal()) ? null
                : new ThreadCaches(this, settings.threadCache, classes, settings.limitBytes());
        this.issued = caches != null ? caches.issued : new IssuedBlocks(1);
        this.autoTrim = settings.autoTrim == null ? null : AutoTrim.start(this, settings.autoTrim);
        this.charge = settings.charge;
        PoolEvents.opened(this);
    }

    /** {@return what the automatic trim ({@link PoolBuilder#autoTrim}) has given back so far} */
    public AutoTrimStats autoTrimStats() {
        return autoTrim == null ? new AutoTrimStats(Duration.ZERO, 0, 0) : autoTrim.stats();
    }

    /**
     * {@return the budget this pool charges its regions to ({@link PoolBuilder#budget}), or null
     * when it has none}
     *
     * @throws PoolClosedException if the pool is closed: closing gave its charge back
     */
    public MemoryBudget budget() {
        if (isClosed()) {
            throw new PoolClosedException(this + " is closed");
        }
        return charge == null ? null : charge.budget();
    }

    /**
     * {@return a consistent snapshot of this pool's counters and free space} First
     * returns the blocks of the thread caches of ended threads to the pool;
     * blocks parked in thread caches count as cached, not as live.
     */
    public PoolStats stats() {
        if (caches != null && !isClosed()) {
            caches.sweep();
        }
        // The thread caches are counted after the native call, outside it: their registry lock is
        // never taken inside the in-flight guard.
        return withThreadCaches(nativeFields());
    }

    /**
     * Returns the blocks parked in the calling thread's caches, and in the
     * caches of threads that have ended, to the pool. For a thread about to
     * sit idle, or before reading exact pool-side counts. Does nothing for a
     * pool without thread caches.
     *
     * @throws PoolClosedException if the pool is closed
     */
    public void flushThreadCache() {
        if (caches == null) {
            return;
        }
        if (isClosed()) {
            throw new PoolClosedException(this + " is closed");
        }
        PoolEvents.CacheFlush event = new PoolEvents.CacheFlush();
        event.begin();
        caches.flush();
        if (event.shouldCommit()) {
            event.pool = name;
            event.commit();
        }
    }

    /**
     * {@return the most blocks each thread's cache of a size class parks: the
     * builder's {@link PoolBuilder#threadCache(int)}, or 0 when the pool has no
     * thread caches}
     */
    public int threadCacheCapacity() {
        return caches == null ? 0 : caches.capacity();
    }

    /** {@return the native figures, in the order of {@code PoolStats}' field indices} */
    final long[] nativeFields() {
        long pool = acquire();
        try {
            return nativeFields(pool);
        } finally {
            release();
        }
    }

    private static long[] nativeFields(long handle) {
        long[] fields = new long[PoolStats.FIELD_COUNT];
        PoolNative.stats(handle, fields);
        return fields;
    }

    /**
     * Checks every internal invariant of the pool. Meant for tests and
     * debugging; takes time proportional to the pool's size.
     *
     * @throws PoolCorruptedException naming the first broken invariant
     */
    public void validate() {
        long pool = acquire();
        try {
            PoolNative.validate(pool);
        } finally {
            release();
        }
    }

    /**
     * {@link #validate()}, and at {@link SafetyLevel#CANARIES} and above the
     * guards of every live block. Takes time proportional to the number of
     * live blocks.
     *
     * @throws MemoryCorruptionException naming the first damaged block, its size, the guard and,
     *     when tracked, where it was allocated
     * @throws PoolCorruptedException naming the first broken invariant
     */
    public void verify() {
        long pool = acquire();
        try {
            SafetyNative.verify(pool);
        } catch (MemoryCorruptionException e) {
            throw withAllocationStack(e);
        } finally {
            release();
        }
    }

    /**
     * The blocks allocated now, oldest first, with size, age and allocation
     * site, as recorded by a {@link SafetyLevel#FULL} pool; for other levels
     * only the counts.
     *
     * @return a line with the number and bytes of the live blocks, then, at
     *     {@link SafetyLevel#FULL}, a line for each of the oldest 32
     */
    public String leakReport() {
        long pool = acquire();
        try {
            return leakReport(pool);
        } finally {
            release();
        }
    }

    /**
     * {@return a snapshot of this pool's memory: every chunk or arena in
     * address order and the blocks in each} The pool's walk holds its lock
     * for one pass over its block records (docs/performance.md gives the
     * time for a million blocks); the safety layers then add what they
     * record. Blocks parked in the Java thread caches of live threads show
     * as live (their count is in {@link #stats()}' cached blocks); those of
     * ended threads go back to the pool first, as for {@link #stats()}.
     *
     * @throws PoolClosedException if the pool is closed
     */
    public MemorySnapshot snapshot() {
        if (caches != null && !isClosed()) {
            caches.sweep();
        }
        Instant takenAt = Instant.now();
        Object[] arrays;
        long pool = acquire();
        try {
            arrays = PoolNative.snapshot(pool);
        } finally {
            release();
        }
        return new MemorySnapshot(name, blockSize != 0 ? "fixed" : "variable", memoryKind, -1, blockSize, takenAt,
                false, quarantined.mark(SnapshotArrays.regions(arrays)));
    }

    /**
     * Returns wholly free chunks or arenas to the backend, after returning the
     * blocks of the calling thread's caches and of the caches of ended threads
     * to the pool. Blocks parked in other live threads' caches keep their
     * chunks or arenas. A {@link VariablePool} over host memory ({@code MALLOC},
     * {@code MMAP}, NUMA) without canaries then also gives the whole pages
     * inside its remaining free blocks back to the system: they stay reserved
     * and read as zero when next used, and its resident memory follows the
     * live blocks. It makes a system call per free block of a page or more,
     * so it is for quiet moments.
     *
     * @return bytes of the chunks or arenas released (the released pages of
     *     free blocks stay in the reservation, so they are not counted)
     */
    public long trim() {
        PoolEvents.Trim event = new PoolEvents.Trim();
        event.begin();
        flushThreadCache();
        long released;
        long pool = acquire();
        try {
            released = PoolNative.trim(pool);
        } finally {
            release();
        }
        if (event.shouldCommit()) {
            event.pool = name;
            event.bytesReleased = released;
            event.commit();
        }
        return released;
    }

    /**
     * Frees a block obtained as a raw address, into the calling thread's cache
     * when the block came from one. A free through a cache is checked as a
     * free through the pool is: 0, an address that is no block of the pool,
     * and a block the pool holds free throw, and so does a second free of a
     * block parked in any cache of the pool (a thread cache of this thread or
     * another, or a {@link BlockCache}).
     *
     * <p>A block of an open {@link MemoryBlock} is refused: only the handle's
     * {@link MemoryBlock#close() close} frees it, so it is never handed out
     * again while the handle holds it.
     *
     * @param address the address the pool handed out
     * @throws DoubleFreeException if the block is already free
     * @throws InvalidFreeException if the address is not a block of this pool, or is the block
     *     of an open {@link MemoryBlock}; nothing changes
     * @throws MemoryCorruptionException if the pool has canaries and a guard of the block was
     *     overwritten; the block then stays allocated until the pool closes
     * @throws PoolClosedException if the pool is closed
     */
    public void free(long address) {
        ThreadCaches threadCaches = caches;
        if (threadCaches != null) {
            threadCaches.free(address);
        } else if (!issued.removeInHands(address)) {
            throw ThreadCaches.refusal(this, address); // a handle's, or parked in a BlockCache
        } else {
            freeToPool(address);
        }
    }

    /** The pool's checked free, past the thread caches. */
    final void freeToPool(long address) {
        long pool = acquire();
        try {
            PoolNative.free(pool, address);
        } catch (MemoryCorruptionException e) {
            throw withAllocationStack(e);
        } finally {
            release();
        }
    }

    /**
     * Frees {@code count} raw addresses in one native call, bypassing the
     * thread caches. Stops at the first invalid address, the first block
     * parked in a cache ({@link DoubleFreeException}) or the first block of an
     * open {@link MemoryBlock} ({@link InvalidFreeException}); the exception
     * message says how many were freed before it.
     *
     * @param addresses the addresses, in {@code addresses[0..count)}
     * @param count how many addresses to free
     * @throws IndexOutOfBoundsException if {@code count} is negative or exceeds
     *     {@code addresses.length}
     */
    public void free(long[] addresses, int count) {
        Objects.checkFromIndexSize(0, count, addresses.length);
        int inHands = issued.removeInHands(addresses, count);
        if (inHands < count) {
            if (inHands > 0) {
                freeToPool(addresses, inHands);
            }
            InvalidFreeException refused = ThreadCaches.refusal(this, addresses[inHands]);
            String message = "addresses[" + inHands + "] (the " + inHands + " address(es) before it were freed): "
                    + refused.getMessage();
            throw refused instanceof DoubleFreeException ? new DoubleFreeException(message)
                    : new InvalidFreeException(message);
        }
        freeToPool(addresses, count);
    }

    /** Frees {@code addresses[0..count)} in one native call, past the caches and the issued set. */
    final void freeToPool(long[] addresses, int count) {
        long pool = acquire();
        try {
            PoolNative.freeBatch(pool, addresses, count);
        } finally {
            release();
        }
    }

    /**
     * Frees every address in the array in one native call, as {@link #free(long[], int)} does.
     *
     * @param addresses the addresses the pool handed out
     */
    public void free(long[] addresses) {
        free(addresses, addresses.length);
    }

    final long allocateRaw(long size, long alignment) {
        long pool = acquire();
        try {
            return PoolNative.allocate(pool, size, alignment);
        } catch (OutOfPoolMemoryException e) {
            throw outOfMemory(e);
        } finally {
            release();
        }
    }

    final void allocateRaw(long size, long alignment, long[] out, int count) {
        Objects.checkFromIndexSize(0, count, out.length);
        long pool = acquire();
        try {
            PoolNative.allocateBatch(pool, size, alignment, out, count);
        } catch (OutOfPoolMemoryException e) {
            throw outOfMemory(e);
        } finally {
            release();
        }
    }

    /** Records a refused allocation, and returns what to throw: the budget's refusal when the budget refused. */
    private OutOfPoolMemoryException outOfMemory(OutOfPoolMemoryException e) {
        OutOfPoolMemoryException refused = charge == null ? e : charge.refusal(e);
        PoolEvents.outOfMemory(this, refused);
        return refused;
    }

    /**
     * Allocates the block of a new {@link MemoryBlock}, listed in the issued
     * set as in the handle's hands: a raw free of its address is refused, and
     * the handle's close frees it only while it is still listed so.
     *
     * @param cls the class of the thread caches that serves the request, or -1 for the pool
     */
    final long allocateForHandle(int cls, long size, long alignment) {
        ThreadCaches threadCaches = caches;
        if (threadCaches != null && cls >= 0) {
            return threadCaches.allocate(cls, IssuedBlocks.OWNED); // the cell the cache writes anyway
        }
        long address = allocateRaw(size, alignment);
        try {
            issued.addOwned(address);
        } catch (OutOfMemoryError e) {
            freeToPool(address);
            throw e;
        }
        return address;
    }

    /**
     * Frees the block of a handle, if the issued set still lists it as the
     * handle's; a no-op once the pool is closed (it freed it).
     *
     * @return whether this call freed the block
     * @throws InvalidFreeException if the block is not listed as a handle's; nothing is freed
     */
    final boolean freeFromHandle(long address) {
        ThreadCaches threadCaches = caches;
        long found;
        if (threadCaches != null && (found = issued.find(address)) != IssuedBlocks.NOT_LISTED
                && IssuedBlocks.classOf(found) != IssuedBlocks.NO_CLASS) {
            try {
                threadCaches.freeOwned(address, found);
                return true;
            } catch (PoolClosedException closed) {
                return false; // closing the pool freed the block
            }
        }
        if (!issued.removeOwned(address)) {
            if (isClosed()) {
                return false;
            }
            throw ThreadCaches.notOwned(this, address);
        }
        long pool = tryAcquire();
        if (pool == 0L) {
            return false;
        }
        try {
            PoolNative.free(pool, address);
            return true;
        } catch (MemoryCorruptionException e) {
            issued.addOwned(address); // the damaged block stays allocated, and the handle's
            throw withAllocationStack(e);
        } finally {
            release();
        }
    }

    /** Frees the block of a dropped {@link #trackAllocation} owner; a no-op once the pool is closed. */
    private boolean freeRegistered(long address) {
        try {
            free(address);
            return true;
        } catch (PoolClosedException closed) {
            return false; // closing the pool freed the block
        }
    }

    /**
     * Makes the Java stack that allocated the damaged block, when a handle recorded it, the
     * cause; and names its caller where the native report has no site.
     */
    private MemoryCorruptionException withAllocationStack(MemoryCorruptionException e) {
        PoolEvents.corruption(this, e);
        Throwable stack = allocationStack(e.blockAddress());
        if (stack == null || e.getCause() != null) {
            return e;
        }
        String caller = JavaSites.callerOf(stack);
        if (caller != null && JavaSites.NO_SITE.equals(e.allocationSite())) {
            e = new MemoryCorruptionException(String.valueOf(e.getMessage()).replace(JavaSites.NO_SITE, caller),
                    e.blockAddress(), e.blockSize(), e.guard().ordinal(), e.offset(), caller);
        }
        e.initCause(stack);
        return e;
    }

    /**
     * Registers a block this pool handed out as a raw address with the leak
     * detector, on behalf of {@code handle}: the object of an integration that
     * owns the block (an Arrow {@code AllocationManager}, say). If
     * {@code handle} becomes unreachable before the returned registration is
     * closed, the block is reported as {@link MemoryBlock}s are
     * ({@link LeakDetector#drainLeaks()}, the {@code org.nativepool} logger),
     * with the stack of this call, and freed unless the pool was built with
     * {@link PoolBuilder#reclaimLeakedBlocks(boolean) reclaimLeakedBlocks(false)};
     * an integration whose own bookkeeping still counts the block turns that off.
     * The pool's {@link #leakDetection()} decides which registrations are
     * tracked, as it does for handles; the others cost nothing. Corruption
     * reports of a tracked block carry the same stack.
     *
     * @param handle the object whose reachability stands for the block's; the registration keeps
     *     no reference to it
     * @param address the block's address, as this pool handed it out
     * @param size the block's size in bytes, for the report
     * @return the registration; close it when the block is freed (a second close does nothing)
     * @throws InvalidArgumentException if {@code address} is 0 or {@code size} is not positive
     * @throws PoolClosedException if the pool is closed
     */
    public TrackedAllocation trackAllocation(Object handle, long address, long size) {
        Objects.requireNonNull(handle, "handle");
        if (address == 0 || size <= 0) {
            throw new InvalidArgumentException("cannot track a block at 0x" + Long.toHexString(address) + " of "
                    + size + " bytes");
        }
        if (isClosed()) {
            throw new PoolClosedException(this + " is closed");
        }
        LeakTracker tracker = LeakDetector.track(handle, leakOwner, address, size, null);
        return tracker == null ? TrackedAllocation.UNTRACKED : new TrackedAllocation(tracker);
    }

    /** {@return the stack that allocated the block at {@code address}, if its handle is tracked} */
    private Throwable allocationStack(long address) {
        LeakTracker tracker = leakOwner.trackedHandles().get(address);
        return tracker == null ? null : tracker.allocationStack();
    }

    /** {@return the name given at build time} It names the pool in messages and logs. */
    public String name() {
        return name;
    }

    /** {@return how this pool synchronises concurrent callers} */
    public ThreadSafety threadSafety() {
        return threadSafety;
    }

    /** {@return where this pool's regions come from} */
    public Backend backend() {
        return backend;
    }

    /** {@return the backend's name, as {@link #toString()} shows it} */
    final String backendName() {
        return backendName;
    }

    /** {@return where this pool's memory lives} */
    public MemoryKind memoryKind() {
        return memoryKind;
    }

    /** {@return what closing this pool with live blocks does} */
    public LeakPolicy leakPolicy() {
        return leakPolicy;
    }

    /**
     * {@return what this pool checks of the way its memory is used} That is the
     * builder's level, or {@link SafetyLevel#defaultLevel()} as it was at build time.
     */
    public SafetyLevel safetyLevel() {
        return safetyLevel;
    }

    /**
     * {@return which handles of this pool the leak detector tracks} That is the
     * builder's level, or {@link LeakDetection#defaultFor(SafetyLevel)} of the safety level.
     */
    public LeakDetection leakDetection() {
        return leakDetection;
    }

    /**
     * {@return whether the leak detector frees the block of a handle dropped without
     * {@code close()}}
     */
    public boolean reclaimLeakedBlocks() {
        return reclaimLeakedBlocks;
    }

    /**
     * Closes the pool as {@link NativeResource#close()} does; the automatic trim
     * is held back first, so that its thread is never the call in flight that
     * makes the close throw.
     *
     * @throws PoolBusyException if another thread is inside a call on this pool; the
     *     automatic trim then goes on
     */
    @Override
    public void close() {
        if (autoTrim == null) {
            super.close();
            return;
        }
        autoTrim.pause();
        try {
            super.close();
        } finally {
            if (!isClosed()) {
                autoTrim.resume();
            }
        }
    }

    /**
     * Checks the guards of the blocks still live (above {@link SafetyLevel#OFF}),
     * releases everything, then reports leaks by the {@link LeakPolicy} and
     * throws {@link MemoryCorruptionException} if a guard was damaged.
     */
    @Override
    protected void dispose(long handle) {
        PoolEvents.closed(this);
        if (jmx != null) {
            jmx.unregister();
        }
        if (autoTrim != null) {
            autoTrim.stop();
        }
        MemoryCorruptionException corruption = null;
        if (safetyLevel != SafetyLevel.OFF) {
            try {
                SafetyNative.verify(handle);
            } catch (MemoryCorruptionException e) {
                corruption = withAllocationStack(e);
            }
        }
        PoolStats last = stats(handle);
        String live = last.liveBlocks() == 0 || leakPolicy == LeakPolicy.IGNORE ? null : leakReport(handle);
        // The pool reported its live blocks and releases them now: their handles are no leaks
        // of their own. Marked before the release, so that a dropped handle's cleaner that finds
        // the pool closed also finds its owner closed, and reports nothing.
        leakOwner.closeAll();
        for (AutoCloseable scope : scopes) {
            closeScope(scope);
        }
        views.close(); // destroys the native pool now, or when the last view of its memory goes
        if (charge != null) {
            charge.close(); // gives back what views still hold, and the pool's hold on the budget
        }
        PoolLeakException leak = live == null ? null : reportLeak(last, live);
        if (corruption != null) {
            if (leak != null) {
                corruption.addSuppressed(leak);
            }
            throw corruption;
        }
        if (leak != null) {
            throw leak;
        }
    }

    /** Logs the leak, or returns the exception to throw under {@link LeakPolicy#THROW}. */
    private PoolLeakException reportLeak(PoolStats last, String live) {
        String message = String.format("%s closed with %s; the memory was released", this, live);
        PoolEvents.leak(this, last, message);
        if (leakPolicy == LeakPolicy.THROW) {
            return new PoolLeakException(message, last.liveBlocks(), last.bytesInUse());
        }
        LOG.log(Level.WARNING, message);
        return null;
    }

    private String leakReport(long handle) {
        String tracked = SafetyNative.leakReport(handle);
        if (tracked != null) {
            return JavaSites.fill(tracked, this::allocationStack);
        }
        PoolStats stats = stats(handle);
        return stats.liveBlocks() + " live block(s), " + Sizes.format(stats.bytesInUse()) + " still allocated";
    }

    /** Closes a segment arena; it closes once, so a second close (pool, then block) is a no-op. */
    static void closeScope(AutoCloseable scope) {
        try {
            scope.close();
        } catch (IllegalStateException alreadyClosed) {
            // Arena.close() of a closed arena
        } catch (Exception e) {
            throw new IllegalStateException("cannot revoke the segments of a block", e);
        }
    }

    private PoolStats stats(long handle) {
        return withThreadCaches(nativeFields(handle));
    }

    /** The native figures, with the blocks parked in Java thread caches moved from live to cached. */
    private PoolStats withThreadCaches(long[] fields) {
        long[] parkedNow = caches == null ? null : caches.parked();
        if (parkedNow != null && parkedNow[0] > 0) {
            // As the native clamp does: a count read after a refill the native figures missed stays possible.
            long parked = Math.min(parkedNow[0], fields[PoolStats.LIVE_BLOCKS]);
            long bytes = Math.min(parkedNow[1], fields[PoolStats.BYTES_IN_USE]);
            fields[PoolStats.LIVE_BLOCKS] -= parked;
            fields[PoolStats.BYTES_IN_USE] -= bytes;
            fields[PoolStats.CACHED_BLOCKS] += parked;
            fields[PoolStats.CACHED_BYTES] += bytes;
        }
        return PoolStats.fromNative(fields);
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + name + ", " + describe() + ", " + threadSafety + ", "
                + backendName + (safetyLevel == SafetyLevel.OFF ? "" : ", safety " + safetyLevel) + "]";
    }

    /** The algorithm-specific part of {@link #toString()}. */
    abstract String describe();
}
