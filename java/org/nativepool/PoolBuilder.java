package org.nativepool;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.nativepool.internal.BudgetCharge;
import org.nativepool.internal.MBeans;
import org.nativepool.internal.NativeLibrary;

/**
 * What every pool builder shares: name, thread safety, backend, leak policy.
 *
 * @param <B> the concrete builder, returned by each setter for chaining
 * @param <P> the pool it builds
 */
public abstract sealed class PoolBuilder<B extends PoolBuilder<B, P>, P extends Pool>
        permits FixedPool.Builder, VariablePool.Builder {
    /**
     * The default capacity of each thread's cache of a size class, in blocks: a refill or drain
     * every 32 operations at worst.
     */
    public static final int DEFAULT_THREAD_CACHE = 64;
    private static final AtomicLong SEQUENCE = new AtomicLong();

    String name;
    ThreadSafety threadSafety = ThreadSafety.MUTEX;
    Backend backend = Backend.malloc();
    LeakPolicy leakPolicy = LeakPolicy.LOG;
    SafetyLevel safetyLevel;
    LeakDetection leakDetection;
    boolean reclaimLeakedBlocks = true;
    int threadCache = DEFAULT_THREAD_CACHE;
    /** Null: no automatic trim. */
    Duration autoTrim;
    /** Null: no budget. */
    MemoryBudget budget;

    /** Null: the system property {@code nativepool.jmx} decides. */
    Boolean jmx;
    /** The level build() settled on: safetyLevel, or the default. */
    SafetyLevel resolvedSafetyLevel;
    /** Likewise for leak detection, whose default follows the safety level. */
    LeakDetection resolvedLeakDetection;
    /** The pool's charge in {@link #budget}, made by build(); null without a budget. */
    BudgetCharge charge;

    PoolBuilder(String kind) {
        this.name = kind + "-" + SEQUENCE.incrementAndGet();
    }

    /**
     * A name for messages and logs. Default: the pool kind and a sequence number.
     *
     * @param name the name, not null
     * @return this builder
     */
    public B name(String name) {
        this.name = Objects.requireNonNull(name, "name");
        return self();
    }

    /**
     * How the pool synchronises threads. Default {@link ThreadSafety#MUTEX}.
     *
     * @param threadSafety the mode, not null; {@link ThreadSafety#LOCK_FREE} for fixed pools only
     * @return this builder
     */
    public B threadSafety(ThreadSafety threadSafety) {
        this.threadSafety = Objects.requireNonNull(threadSafety, "threadSafety");
        return self();
    }

    /**
     * Where the pool's regions come from. Default {@link Backend#malloc()}.
     *
     * @param backend the backend, not null
     * @return this builder
     */
    public B backend(Backend backend) {
        this.backend = Objects.requireNonNull(backend, "backend");
        return self();
    }

    /**
     * What closing the pool with live blocks does. Default {@link LeakPolicy#LOG}.
     *
     * @param leakPolicy the policy, not null
     * @return this builder
     */
    public B leakPolicy(LeakPolicy leakPolicy) {
        this.leakPolicy = Objects.requireNonNull(leakPolicy, "leakPolicy");
        return self();
    }

    /**
     * What the pool checks of the way its memory is used. Default
     * {@link SafetyLevel#defaultLevel()} (OFF unless a system property or a
     * debug build says otherwise).
     *
     * @param safetyLevel the level, not null
     * @return this builder
     */
    public B safetyLevel(SafetyLevel safetyLevel) {
        this.safetyLevel = Objects.requireNonNull(safetyLevel, "safetyLevel");
        return self();
    }

    /**
     * Which handles record their allocation stack to report being dropped
     * without {@code close()}. Default {@link LeakDetection#defaultFor(SafetyLevel)}.
     *
     * @param leakDetection the level, not null
     * @return this builder
     */
    public B leakDetection(LeakDetection leakDetection) {
        this.leakDetection = Objects.requireNonNull(leakDetection, "leakDetection");
        return self();
    }

    /**
     * Whether the leak detector frees the block of a handle dropped without
     * {@code close()} (default true). Turn it off when native code may still
     * use a block through its raw address after its handle is gone.
     *
     * @param reclaimLeakedBlocks whether to free the blocks of dropped handles
     * @return this builder
     */
    public B reclaimLeakedBlocks(boolean reclaimLeakedBlocks) {
        this.reclaimLeakedBlocks = reclaimLeakedBlocks;
        return self();
    }

    /**
     * The most free blocks each thread's cache of a size class parks (see
     * {@link FixedPool}: one class, and {@link VariablePool}: one per small
     * size); a cache refills and drains half of it at a time. Default
     * {@link #DEFAULT_THREAD_CACHE}; ignored above {@link SafetyLevel#OFF} and for
     * {@link Backend#nodeLocal()}. For a fixed pool the same capacity sizes the native core's
     * per-thread caches, which serve C++ callers of the pool; 0 turns both off.
     *
     * @param capacity 0 for no thread caches, or from 2 to {@link BlockCache#MAX_CAPACITY}
     * @return this builder
     */
    public B threadCache(int capacity) {
        this.threadCache = capacity;
        return self();
    }

    /**
     * Gives memory back to the backend once it has stayed free for
     * {@code idleTime}, as jemalloc's decay does: a daemon thread samples the
     * pool's free bytes four times per interval and calls {@link Pool#trim()}
     * at the end of an interval in which every sample found at least a region's
     * worth of free memory
     * ({@link Pool#autoTrimStats()} counts what it gave back). Default: off,
     * since the pool's owner sizes it and a region given back costs page
     * faults when the pool grows again; integrations that are never told when
     * their user is done (Arrow's factory) turn it on. Not for
     * {@link ThreadSafety#NONE} pools, which the trim thread cannot share.
     *
     * @param idleTime how long memory must stay free before it goes back, positive
     * @return this builder
     * @throws InvalidArgumentException if {@code idleTime} is zero or negative
     */
    public B autoTrim(Duration idleTime) {
        Objects.requireNonNull(idleTime, "idleTime");
        if (idleTime.isNegative() || idleTime.isZero()) {
            throw new InvalidArgumentException("an automatic trim's idle time must be positive, not " + idleTime);
        }
        this.autoTrim = idleTime;
        return self();
    }

    /**
     * Charges the pool's regions to {@code budget}, which several pools (fixed
     * and variable, over any backend) and other users may share: a region is
     * charged before the pool maps it from its backend and given back when
     * {@link Pool#trim()}, the automatic trim or {@link Pool#close()} returns
     * it, so the budget holds each pool's {@link PoolStats#bytesReserved()}
     * exactly and allocations and frees served from memory the pool holds
     * cost nothing more. A growth the budget (or an ancestor) refuses throws
     * {@link BudgetExceededException} naming it, and changes neither the
     * budget nor the pool's reserved bytes. The pool holds the budget open
     * ({@link MemoryBudget#attach}) until it closes. Default: none.
     *
     * @param budget an open budget that counts {@link MemoryBudget.Counting#RESERVED} bytes
     * @return this builder
     * @throws InvalidArgumentException if the budget counts {@link MemoryBudget.Counting#REQUESTED}
     *     bytes, which a pool that charges whole regions cannot honour
     */
    public B budget(MemoryBudget budget) {
        Objects.requireNonNull(budget, "budget");
        if (budget.counting() != MemoryBudget.Counting.RESERVED) {
            throw new InvalidArgumentException("budget '" + budget.name() + "' counts " + budget.counting()
                    + " bytes, but a pool charges the regions it reserves: make it with Counting.RESERVED");
        }
        this.budget = budget;
        return self();
    }

    /**
     * Whether the pool registers its JMX beans ({@link PoolMXBean} as
     * {@code org.nativepool:type=Pool,name=<name>}, and a buffer pool as
     * {@code java.nio:type=BufferPool,name=nativepool-<name>}) until it closes.
     * Default: the system property {@code nativepool.jmx} ({@code true} or {@code false}; off when
     * unset).
     *
     * @param register whether to register
     * @return this builder
     */
    public B jmx(boolean register) {
        this.jmx = register;
        return self();
    }

    /**
     * Builds the pool. The native core validates the configuration.
     *
     * @return the new pool; close it to release its memory
     * @throws InvalidArgumentException if a setting is out of range
     * @throws FeatureUnavailableException if the safety level is not available for the backend
     * @throws OutOfPoolMemoryException if the initial capacity cannot be reserved
     * @throws NativeLibraryUnavailableException if the native library cannot be loaded
     * @throws PoolNameInUseException if the pool registers with JMX and another registered pool
     *     has its name
     * @throws BudgetExceededException if the budget refuses the initial capacity
     * @throws BudgetClosedException if the budget is closed
     */
    public final P build() {
        NativeLibrary.ensureLoaded();
        // Every setting that can still be refused is settled before the native
        // pool exists, so a refusal leaves nothing behind.
        resolvedSafetyLevel = safetyLevel != null ? safetyLevel : SafetyLevel.defaultLevel();
        resolvedLeakDetection = leakDetection != null ? leakDetection : LeakDetection.defaultFor(resolvedSafetyLevel);
        if (threadCache != 0 && (threadCache < 2 || threadCache > BlockCache.MAX_CAPACITY)) {
            throw new InvalidArgumentException("a thread cache's capacity must be 0 (none) or from 2 to "
                    + BlockCache.MAX_CAPACITY + ", not " + threadCache);
        }
        if (autoTrim != null && threadSafety == ThreadSafety.NONE) {
            throw new InvalidArgumentException("automatic trim runs on a thread of its own, which a "
                    + "ThreadSafety.NONE pool cannot share: choose MUTEX or LOCK_FREE");
        }
        // Attached before the native pool exists, whose initial regions it charges.
        charge = budget == null ? null : new BudgetCharge(budget, name);
        P pool;
        try {
            pool = create();
        } catch (RuntimeException refused) {
            throw closeCharge(refused);
        }
        if (MBeans.wanted(jmx)) {
            pool.jmx = MBeans.registerOrClose(() -> PoolJmx.register(pool), pool::close);
        }
        return pool;
    }

    /** Ends the charge of a pool that could not be built, and returns what to throw for {@code refused}. */
    private RuntimeException closeCharge(RuntimeException refused) {
        if (charge == null) {
            return refused;
        }
        charge.close();
        return refused instanceof OutOfPoolMemoryException full ? charge.refusal(full) : refused;
    }

    abstract P create();

    /** {@return the most bytes the pool may hold in use, as its thread caches' refills count them; 0 for no limit} */
    abstract long limitBytes();

    @SuppressWarnings("unchecked")
    private B self() {
        return (B) this;
    }
}
