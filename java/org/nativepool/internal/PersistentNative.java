package org.nativepool.internal;

import java.nio.ByteBuffer;

/**
 * JNI entry points of persistent heaps (native/jni/jni_persistent.cpp). Not
 * API: {@code org.nativepool.PersistentPool} calls these inside its in-flight
 * guard; the glue validates every handle (a token of the handle table), so a
 * bogus or closed one is an exception. Offsets are file
 * offsets; failures arrive as the exceptions of {@code org.nativepool}.
 */
public final class PersistentNative {
    /** Length of the array {@link #stats} fills: the components of {@code PersistentStats} in order. */
    public static final int STATS_FIELDS = 14;

    private PersistentNative() {
    }

    public static native long create(String path, long capacity, long undoLogBytes, boolean groupCommit,
            boolean forceMsync, long maxCapacity);

    public static native long open(String path, boolean groupCommit, boolean forceMsync, long maxCapacity);

    public static native void destroy(long heap);

    /**
     * A direct buffer over the first {@code size} bytes of the live or reserved block at file offset
     * {@code offset}, in the heap's current mapping; refused for anything else.
     */
    public static native ByteBuffer wrap(long heap, long offset, long size);

    /** Requested size of the live block at {@code offset}, 0 if none. */
    public static native long blockSize(long heap, long offset);

    /** The file offset of root slot {@code index}, 0 out of range. */
    public static native long rootSlot(int index);

    public static native long root(long heap, int index);

    public static native long reserve(long heap, long size);

    public static native void publish(long heap, long offset, long size, long destination);

    public static native void cancel(long heap, long offset, long size);

    public static native long allocate(long heap, long size, long destination);

    public static native void free(long heap, long destination);

    public static native void persist(long heap, long block, long offset, long length);

    public static native void flush(long heap);

    /** Extends the file to {@code capacity} bytes; the heap maps it anew. */
    public static native void grow(long heap, long capacity);

    /** How many times the heap mapped its file anew since it opened: views made before a change are stale. */
    public static native long mappings(long heap);

    public static native void begin(long heap);

    public static native void snapshot(long heap, long block, long offset, long length);

    public static native long txAllocate(long heap, long size);

    public static native void txFree(long heap, long block);

    public static native void txSetRoot(long heap, int index, long block);

    public static native void commit(long heap);

    public static native void abort(long heap);

    public static native void validate(long heap);

    /** Fills {@code out} in the order of {@code PersistentStats}' components. */
    public static native void stats(long heap, long[] out);

    /** 0: cache flushes on a MAP_SYNC mapping; 1: msync. */
    public static native int durability(long heap);

    /** "clwb", "clflushopt", "clflush" or "". */
    public static native String cacheFlushInstruction();

    /** {@return the heap as one region of runs, in the layout of {@link PoolNative#snapshot}} */
    public static native Object[] memorySnapshot(long heap);
}
