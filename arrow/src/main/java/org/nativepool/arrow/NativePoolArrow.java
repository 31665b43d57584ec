package org.nativepool.arrow;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToLongFunction;
import org.apache.arrow.memory.AllocationManager;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.OutOfMemoryException;
import org.apache.arrow.memory.ReferenceManager;
import org.apache.arrow.memory.util.MemoryUtil;
import org.nativepool.FixedPool;
import org.nativepool.InvalidArgumentException;
import org.nativepool.LeakDetection;
import org.nativepool.LeakPolicy;
import org.nativepool.MemoryBudget;
import org.nativepool.OutOfPoolMemoryException;
import org.nativepool.Pool;
import org.nativepool.PoolClosedException;
import org.nativepool.ThreadSafety;
import org.nativepool.VariablePool;

/**
 * An Arrow {@link AllocationManager.Factory} whose buffers come from
 * nativepool's pools: one {@link FixedPool} per power-of-two size class from
 * the alignment up to {@link #LARGEST_FIXED_CLASS}, whose transparent thread
 * caches serve most small buffers without a native call, and one
 * {@link VariablePool} above. One line sets it up:
 *
 * <pre>{@code
 * NativePoolArrow factory = NativePoolArrow.factory();
 * BufferAllocator root = new RootAllocator(RootAllocator.configBuilder()
 *         .allocationManagerFactory(factory).build());
 * }</pre>
 *
 * <p>Every buffer starts at a multiple of the alignment (64 bytes by
 * default, Arrow's own recommendation for SIMD). Arrow accounts each buffer
 * at exactly the size it asked for ({@link AllocationManager#getSize()}),
 * whatever block holds it. A buffer may be released on any thread; its block
 * goes to the releasing thread's cache. Empty buffers need no memory:
 * {@link #empty()} and a {@code create} of 0 bytes answer a zero-length buffer
 * at a shared address, so the pools' refusal of size 0 stays as it is.
 *
 * <p>When the pools or an optional {@link MemoryBudget} refuse, Arrow's
 * {@link OutOfMemoryException} is thrown, with nativepool's figures in its
 * message and nativepool's exception as its cause; Arrow's allocator takes
 * back its own accounting then, and nothing stays charged.
 *
 * <p>Arrow never tells a factory when its user is done, so the pools trim
 * themselves by default: memory that stayed free for
 * {@link #DEFAULT_AUTO_TRIM} goes back to the system
 * ({@link org.nativepool.PoolBuilder#autoTrim(Duration)}). At
 * {@link LeakDetection#SAMPLED} (the default) or {@link LeakDetection#ALL},
 * buffers dropped without release are reported with the stack that allocated
 * them ({@link org.nativepool.LeakDetector#drainLeaks()}); Arrow's allocator
 * still counts them, so their blocks stay allocated until the factory closes.
 *
 * <p>Close the factory after every allocator that uses it: that releases the
 * pools' memory, reports buffers still allocated as leaks (logged) and ends
 * the factory's hold on its budget.
 */
public final class NativePoolArrow implements AllocationManager.Factory, AutoCloseable {
    /** The default alignment of every buffer: a cache line, Arrow's recommended alignment. */
    public static final long DEFAULT_ALIGNMENT = 64;
    /** The largest size class served by a fixed pool; larger buffers come from the variable pool. */
    public static final long LARGEST_FIXED_CLASS = 4096;
    /**
     * The default idle time of the pools' automatic trim: jemalloc's default dirty decay, long
     * enough that a query's next batch finds its memory warm, short enough that memory a
     * finished workload held goes back soon after.
     */
    public static final Duration DEFAULT_AUTO_TRIM = Duration.ofSeconds(10);
    /** The variable pool's default arena, the core's own default; a larger buffer gets an arena of its own. */
    public static final long DEFAULT_ARENA_SIZE = 64L << 20;

    /** The memory at the address of every empty buffer, held for good; never read or written. */
    private static final ByteBuffer EMPTY_MEMORY = ByteBuffer.allocateDirect((int) DEFAULT_ALIGNMENT);
    private static final ArrowBuf EMPTY = new ArrowBuf(ReferenceManager.NO_OP, null, 0,
            MemoryUtil.getByteBufferAddress(EMPTY_MEMORY));

    private final String name;
    private final long alignment;
    /** fixed[i] holds blocks of 2^(smallestClassShift + i) bytes; none when the alignment exceeds 4 KiB. */
    private final FixedPool[] fixed;
    private final int smallestClassShift;
    private final VariablePool variable;
    private final MemoryBudget budget;
    private final MemoryBudget.Attachment attachment;
    private final boolean countRequested;
    /** The bytes charged to the budget and not yet given back; with no budget, unused. */
    private final AtomicLong charged = new AtomicLong();
    private volatile boolean closed;

    private NativePoolArrow(Builder builder) {
        this.name = builder.name;
        this.alignment = builder.alignment;
        this.budget = builder.budget;
        this.countRequested = budget == null || budget.counting() == MemoryBudget.Counting.REQUESTED;
        this.smallestClassShift = Long.numberOfTrailingZeros(Math.max(alignment, DEFAULT_ALIGNMENT));
        List<Pool> built = new ArrayList<>();
        try {
            int classes = Math.max(0, Long.numberOfTrailingZeros(LARGEST_FIXED_CLASS) - smallestClassShift + 1);
            this.fixed = new FixedPool[classes];
            for (int i = 0; i < classes; i++) {
                long size = 1L << (smallestClassShift + i);
                FixedPool.Builder pool = FixedPool.builder(size).alignment(alignment).name(name + "-" + size)
                        .threadSafety(ThreadSafety.LOCK_FREE).threadCache(builder.threadCache);
                fixed[i] = configure(pool, builder).build();
                built.add(fixed[i]);
            }
            // Larger buffers: the variable pool's Java caches serve 1 KiB and below, which never
            // reach it, so it has none and its frees skip their lookup.
            this.variable = configure(VariablePool.builder().granularity(alignment).arenaSize(builder.arenaSize)
                    .name(name + "-large").threadCache(0), builder).build();
            built.add(variable);
            this.attachment = budget == null ? null : budget.attach("Arrow factory " + name);
        } catch (RuntimeException e) {
            built.forEach(Pool::close);
            throw e;
        }
    }

    private static <B extends org.nativepool.PoolBuilder<B, ?>> B configure(B pool, Builder settings) {
        pool.leakDetection(settings.leakDetection).reclaimLeakedBlocks(false).leakPolicy(LeakPolicy.LOG);
        return settings.autoTrim == null ? pool : pool.autoTrim(settings.autoTrim);
    }

    /** {@return a factory with the defaults: 64-byte alignment, automatic trim after 10 s, no budget} */
    public static NativePoolArrow factory() {
        return builder().build();
    }

    /**
     * {@return a factory with the defaults whose buffers count against {@code budget}}
     *
     * @param budget the budget, open; the factory holds it until it closes
     */
    public static NativePoolArrow factory(MemoryBudget budget) {
        return builder().budget(budget).build();
    }

    /** {@return a builder with the defaults} */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public AllocationManager create(BufferAllocator accountingAllocator, long size) {
        if (closed) {
            throw new PoolClosedException("the Arrow factory " + name + " is closed");
        }
        if (size <= 0) {
            if (size < 0) {
                throw new InvalidArgumentException("an Arrow buffer of " + size + " bytes");
            }
            return new EmptyManager(accountingAllocator, EMPTY);
        }
        int cls = classOf(size);
        Pool pool = cls < fixed.length ? fixed[cls] : variable;
        long footprint = cls < fixed.length ? 1L << (smallestClassShift + cls) : (size + alignment - 1) & -alignment;
        long charge = countRequested ? size : footprint;
        try {
            if (budget != null) {
                budget.reserve(charge);
                charged.addAndGet(charge);
            }
            long address;
            try {
                address = cls < fixed.length ? fixed[cls].allocateAddress() : variable.allocateAddress(size, alignment);
            } catch (RuntimeException e) {
                uncharge(charge);
                throw e;
            }
            return new PooledManager(accountingAllocator, this, pool, address, size, charge);
        } catch (OutOfPoolMemoryException e) {
            throw new OutOfMemoryException("nativepool could not allocate an Arrow buffer of " + size + " bytes: "
                    + e.getMessage(), e);
        }
    }

    /** {@return the size class of {@code size} bytes; {@link #fixed}'s length for the variable pool} */
    private int classOf(long size) {
        if (size > LARGEST_FIXED_CLASS) {
            return fixed.length;
        }
        int shift = 64 - Long.numberOfLeadingZeros(size - 1); // ceil(log2(size))
        return Math.max(0, shift - smallestClassShift);
    }

    void uncharge(long charge) {
        if (budget != null) {
            charged.addAndGet(-charge);
            budget.release(charge);
        }
    }

    @Override
    public ArrowBuf empty() {
        return EMPTY;
    }

    /** {@return the factory's pools: the fixed ones by size class, then the variable one} */
    public List<Pool> pools() {
        List<Pool> pools = new ArrayList<>(List.of(fixed));
        pools.add(variable);
        return Collections.unmodifiableList(pools);
    }

    /** {@return the bytes live in the pools now, as their statistics count them (whole blocks)} */
    public long bytesInUse() {
        return sum(pool -> pool.stats().bytesInUse());
    }

    /** {@return the bytes the pools hold from the system now} */
    public long bytesReserved() {
        return sum(pool -> pool.stats().bytesReserved());
    }

    /** {@return the bytes the pools' automatic trims have given back so far} */
    public long bytesTrimmed() {
        return sum(pool -> pool.autoTrimStats().bytesReturned());
    }

    private long sum(ToLongFunction<Pool> figure) {
        return pools().stream().mapToLong(figure).sum();
    }

    /** {@return the budget the buffers count against, or null} */
    public MemoryBudget budget() {
        return budget;
    }

    /** {@return the alignment of every buffer, in bytes} */
    public long alignment() {
        return alignment;
    }

    /**
     * Closes the pools, releasing all their memory; buffers still allocated are
     * logged as leaks, and their charges go back to the budget. Close every
     * allocator that uses the factory first. A second call does nothing.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        pools().forEach(Pool::close);
        long left = charged.getAndSet(0);
        if (left > 0) {
            budget.release(left);
        }
        if (attachment != null) {
            attachment.close();
        }
    }

    @Override
    public String toString() {
        return "NativePoolArrow[" + name + ", alignment " + alignment + ", " + fixed.length + " fixed classes"
                + (budget == null ? "" : ", " + budget) + "]";
    }

    /** Configures a {@link NativePoolArrow}. */
    public static final class Builder {
        private String name = "arrow";
        private long alignment = DEFAULT_ALIGNMENT;
        private long arenaSize = DEFAULT_ARENA_SIZE;
        private MemoryBudget budget;
        private Duration autoTrim = DEFAULT_AUTO_TRIM;
        private LeakDetection leakDetection = LeakDetection.SAMPLED;
        private int threadCache = org.nativepool.PoolBuilder.DEFAULT_THREAD_CACHE;

        private Builder() {
        }

        /**
         * Names the pools (name-size) in messages and logs. Default {@code arrow}.
         *
         * @param name the name, not null
         * @return this builder
         */
        public Builder name(String name) {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /**
         * The alignment of every buffer. Default {@link #DEFAULT_ALIGNMENT}.
         *
         * @param alignment a power of two from 16
         * @return this builder
         * @throws InvalidArgumentException if it is not
         */
        public Builder alignment(long alignment) {
            if (alignment < 16 || Long.bitCount(alignment) != 1) {
                throw new InvalidArgumentException("an Arrow factory's alignment must be a power of two from 16, not "
                        + alignment);
            }
            this.alignment = alignment;
            return this;
        }

        /**
         * Bytes the variable pool reserves per growth step. Default {@link #DEFAULT_ARENA_SIZE}.
         *
         * @param arenaSize a positive multiple of the alignment ({@link #build()} checks it)
         * @return this builder
         */
        public Builder arenaSize(long arenaSize) {
            this.arenaSize = arenaSize;
            return this;
        }

        /**
         * A budget every buffer counts against, as its {@link MemoryBudget#counting()} says:
         * the bytes Arrow asked for, or the whole blocks. Default: none.
         *
         * @param budget an open budget, or null for none
         * @return this builder
         */
        public Builder budget(MemoryBudget budget) {
            this.budget = budget;
            return this;
        }

        /**
         * How long memory must stay free before the pools give it back. Default
         * {@link #DEFAULT_AUTO_TRIM}.
         *
         * @param idleTime a positive duration ({@link #build()} checks it), or null for no
         *     automatic trim
         * @return this builder
         */
        public Builder autoTrim(Duration idleTime) {
            this.autoTrim = idleTime;
            return this;
        }

        /**
         * Which buffers record their allocation stack, to be reported when
         * dropped without release. Default {@link LeakDetection#SAMPLED}.
         *
         * @param leakDetection the level, not null
         * @return this builder
         */
        public Builder leakDetection(LeakDetection leakDetection) {
            this.leakDetection = Objects.requireNonNull(leakDetection, "leakDetection");
            return this;
        }

        /**
         * The capacity of each thread's cache of each fixed size class
         * ({@link org.nativepool.PoolBuilder#threadCache(int)}). Default
         * {@link org.nativepool.PoolBuilder#DEFAULT_THREAD_CACHE}.
         *
         * @param capacity 0 for none, or from 2 to {@link org.nativepool.BlockCache#MAX_CAPACITY}
         * @return this builder
         */
        public Builder threadCache(int capacity) {
            this.threadCache = capacity;
            return this;
        }

        /**
         * Builds the factory and its pools.
         *
         * @return the factory; close it after the allocators that use it
         * @throws InvalidArgumentException if a setting is out of range, the automatic trim's
         *     idle time zero or negative among them
         * @throws org.nativepool.BudgetClosedException if the budget is closed
         */
        public NativePoolArrow build() {
            return new NativePoolArrow(this);
        }
    }
}
