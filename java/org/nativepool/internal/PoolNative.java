package org.nativepool.internal;

import java.nio.ByteBuffer;

/**
 * JNI entry points of the pool area (native/jni/jni_pools.cpp). Not API: the
 * public classes in {@code org.nativepool} call these between acquire and
 * release of the pool's in-flight guard, so every handle passed here is live.
 * Failures arrive as the exceptions of {@code org.nativepool}.
 *
 * <p>A pool handle is a token of the glue's handle table, not an address:
 * zero, made-up, destroyed and reused handles, and handles of other kinds,
 * are refused with an {@code InvalidArgumentException} by every method here.
 */
public final class PoolNative {
    /**
     * Length of the array {@link #stats} fills: the fields of {@code org.nativepool.PoolStats} in
     * declaration order. The glue checks it against its own list.
     */
    public static final int STATS_FIELDS = 15;
    /** Length of the array {@link #info} fills: kind, device, thread safety, block size, alignment. */
    public static final int INFO_FIELDS = 5;
    /** Longs per region in {@link #snapshot}'s first array: base, size, first run, runs. */
    public static final int SNAPSHOT_REGION_FIELDS = 4;
    /**
     * Longs per run in {@link #snapshot}'s second array: offset, block size, count, requested size
     * (0: not recorded), age in ns (-1: not recorded), state code, site index (-1: none).
     */
    public static final int SNAPSHOT_RUN_FIELDS = 7;

    private PoolNative() {
    }

    /**
     * A fixed pool; {@code threadCacheBlocks} sizes the native per-thread caches in front of it
     * (0: none), which the Java builder's {@code threadCache} also sets. Given a
     * {@code budgetCharge} (else null), every region it maps is charged to it first.
     * {@code regionEvents} is the pool's {@code org.nativepool.RegionEvents}, told of every
     * region its backends map or unmap, or null for none; an object of another class is refused.
     */
    public static native long createFixed(long blockSize, long alignment, long blocksPerChunk,
            long initialBlocks, long maxBlocks, int threadCacheBlocks, int threadSafety, int backendType,
            int backendParameter, int safetyLevel, BudgetCharge budgetCharge, Object regionEvents);

    /**
     * A variable pool; {@code threadCacheBlocks}, {@code budgetCharge} and {@code regionEvents} as for
     * {@link #createFixed}. A {@code MUTEX} pool with native thread caches is sharded (one shard per
     * hardware thread, each thread at home in one), which is what lets its refills, drains and sizes
     * above the caches' classes run on two threads without one lock.
     */
    public static native long createVariable(long arenaSize, long granularity, long initialBytes,
            long maxBytes, int threadCacheBlocks, int threadSafety, int backendType, int backendParameter,
            int safetyLevel, BudgetCharge budgetCharge, Object regionEvents);

    public static native void destroy(long pool);

    public static native long allocate(long pool, long size, long alignment);

    public static native void free(long pool, long address);

    public static native void allocateBatch(long pool, long size, long alignment, long[] out, int count);

    public static native void freeBatch(long pool, long[] addresses, int count);

    public static native long trim(long pool);

    public static native void validate(long pool);

    /** Fills {@code out} in the order of {@code PoolStats}' field indices. */
    public static native void stats(long pool, long[] out);

    /** Fills {@code out} with kind, device, thread safety, block size, alignment. */
    public static native void info(long pool, long[] out);

    public static native String backendName(long pool);

    /**
     * {@return the pool's regions and runs: {@code {long[] regions, long[] runs, String[] sites}}}
     * in the layouts of {@link #SNAPSHOT_REGION_FIELDS} and {@link #SNAPSHOT_RUN_FIELDS}
     */
    public static native Object[] snapshot(long pool);

    /**
     * A direct buffer over {@code size} bytes at {@code address}, without copying; refused
     * unless the range lies in host memory the pool reserved and still holds.
     */
    public static native ByteBuffer wrap(long pool, long address, long size);
}
