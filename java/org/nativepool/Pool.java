package org.nativepool;

import java.lang.System.Logger.Level;
import java.util.Objects;
import org.nativepool.internal.PoolNative;

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
 * of such blocks become inert: closing them later does nothing.
 */
public abstract sealed class Pool extends NativeResource permits FixedPool, VariablePool {
    private static final System.Logger LOG = System.getLogger("org.nativepool");

    private final String name;
    private final ThreadSafety threadSafety;
    private final Backend backend;
    private final LeakPolicy leakPolicy;
    private final MemoryKind memoryKind;
    private final String backendName;
    /** Fixed pools: the block size; variable pools: 0. */
    final long blockSize;
    /** Fixed pools: the block alignment; variable pools: the granularity. */
    final long alignment;

    Pool(long handle, PoolBuilder<?, ?> settings) {
        super(handle);
        this.name = settings.name;
        this.threadSafety = settings.threadSafety;
        this.backend = settings.backend;
        this.leakPolicy = settings.leakPolicy;
        long[] info = new long[5];
        PoolNative.info(handle, info);
        this.memoryKind = MemoryKind.fromCode((int) info[0]);
        this.blockSize = info[3];
        this.alignment = info[4];
        this.backendName = PoolNative.backendName(handle);
    }

    /** A consistent snapshot of this pool's counters and free space. */
    public PoolStats stats() {
        long[] fields = new long[PoolStats.FIELD_COUNT];
        long pool = acquire();
        try {
            PoolNative.stats(pool, fields);
        } finally {
            release();
        }
        return PoolStats.fromNative(fields);
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
     * Returns wholly free chunks or arenas to the backend.
     *
     * @return bytes released
     */
    public long trim() {
        long pool = acquire();
        try {
            return PoolNative.trim(pool);
        } finally {
            release();
        }
    }

    /**
     * Frees a block obtained as a raw address.
     *
     * @throws DoubleFreeException if the block is already free
     * @throws InvalidFreeException if the address is not a block of this pool
     */
    public void free(long address) {
        long pool = acquire();
        try {
            PoolNative.free(pool, address);
        } finally {
            release();
        }
    }

    /**
     * Frees {@code count} raw addresses in one native call. Stops at the first
     * invalid address; the exception message says how many were freed before it.
     */
    public void free(long[] addresses, int count) {
        Objects.checkFromIndexSize(0, count, addresses.length);
        long pool = acquire();
        try {
            PoolNative.freeBatch(pool, addresses, count);
        } finally {
            release();
        }
    }

    /** Frees every address in the array in one native call. */
    public void free(long[] addresses) {
        free(addresses, addresses.length);
    }

    final long allocateRaw(long size, long alignment) {
        long pool = acquire();
        try {
            return PoolNative.allocate(pool, size, alignment);
        } finally {
            release();
        }
    }

    final void allocateRaw(long size, long alignment, long[] out, int count) {
        Objects.checkFromIndexSize(0, count, out.length);
        long pool = acquire();
        try {
            PoolNative.allocateBatch(pool, size, alignment, out, count);
        } finally {
            release();
        }
    }

    /** Frees the block of a handle; a no-op once the pool is closed (it freed it). */
    final void freeFromHandle(long address) {
        long pool = tryAcquire();
        if (pool == 0L) {
            return;
        }
        try {
            PoolNative.free(pool, address);
        } finally {
            release();
        }
    }

    /** The name given at build time, used in messages and logs. */
    public String name() {
        return name;
    }

    public ThreadSafety threadSafety() {
        return threadSafety;
    }

    public Backend backend() {
        return backend;
    }

    public MemoryKind memoryKind() {
        return memoryKind;
    }

    public LeakPolicy leakPolicy() {
        return leakPolicy;
    }

    @Override
    protected void dispose(long handle) {
        PoolStats last = stats(handle);
        PoolNative.destroy(handle);
        if (last.liveBlocks() == 0 || leakPolicy == LeakPolicy.IGNORE) {
            return;
        }
        String message = String.format("%s closed with %d live block(s), %s still allocated; the memory was released",
                this, last.liveBlocks(), Sizes.format(last.bytesInUse()));
        if (leakPolicy == LeakPolicy.THROW) {
            throw new PoolLeakException(message, last.liveBlocks(), last.bytesInUse());
        }
        LOG.log(Level.WARNING, message);
    }

    private static PoolStats stats(long handle) {
        long[] fields = new long[PoolStats.FIELD_COUNT];
        PoolNative.stats(handle, fields);
        return PoolStats.fromNative(fields);
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + name + ", " + describe() + ", " + threadSafety + ", "
                + backendName + "]";
    }

    /** The algorithm-specific part of {@link #toString()}. */
    abstract String describe();
}
