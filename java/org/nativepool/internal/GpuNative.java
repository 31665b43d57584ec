package org.nativepool.internal;

import java.nio.ByteBuffer;

/**
 * JNI entry points of the GPU area (native/jni/jni_gpu.cpp). Not API: the
 * classes of {@code org.nativepool.gpu} call these between acquire and
 * release of their in-flight guards, so every handle passed here is live.
 * Failures arrive as the exceptions of {@code org.nativepool} and
 * {@code org.nativepool.gpu}.
 *
 * <p>Manager, stream and event handles are tokens of the glue's handle table:
 * zero (except where a stream may be 0 for none), made-up, destroyed and reused
 * handles, handles of another kind and streams or events of another manager are
 * refused with an {@code InvalidArgumentException}. Device and pinned sides of a
 * copy must be live blocks of the manager; pageable host sides come as direct buffers.
 */
public final class GpuNative {
    /** The device number of the pinned host pool. */
    public static final int PINNED = -1;
    /** The device number that asks for figures summed over all devices. */
    public static final int AGGREGATE = -2;
    /**
     * Length of the array {@link #stats} fills: the fields of {@code org.nativepool.gpu.DeviceStats}
     * after its device number, in declaration order. The glue checks it against its own list.
     */
    public static final int DEVICE_STATS_FIELDS = 15;

    private GpuNative() {
    }

    /**
     * A simulated manager of {@code simulatedDevices} devices when {@code simulated}, which
     * the core refuses for fewer than 1 device; else a CUDA one. Each of its pools reports the
     * regions it maps and unmaps as Flight Recorder events of the pool {@code name + ":device<i>"}
     * or {@code name + ":pinned"}.
     */
    public static native long createManager(boolean simulated, int simulatedDevices, long simulatedCapacity,
            long arenaSize, long maxBytesPerDevice, long pinnedArenaSize, long pinnedMaxBytes,
            int safetyLevel, String name);

    public static native void destroyManager(long manager);

    public static native int deviceCount(long manager);

    public static native String runtimeName(long manager);

    public static native int selectDevice(long manager, int policy, int requested);

    public static native boolean peerAccess(long manager, int device, int peer);

    public static native long createStream(long manager, int device);

    public static native void destroyStream(long manager, long stream);

    public static native void synchronizeStream(long manager, long stream);

    public static native long createEvent(long manager, int device);

    public static native void destroyEvent(long manager, long event);

    public static native void recordEvent(long manager, long event, long stream);

    public static native boolean queryEvent(long manager, long event);

    public static native void synchronizeEvent(long manager, long event);

    public static native void waitEvent(long manager, long stream, long event);

    /** From the pool of {@code device} ({@link #PINNED} for pinned host memory); stream 0: none. */
    public static native long allocate(long manager, int device, long size, long stream);

    /** Stream-ordered free on {@code stream}; stream 0: immediate. */
    public static native void free(long manager, int device, long address, long stream);

    public static native long trim(long manager, int device);

    /** The snapshot of the pool of {@code device}, laid out as {@link PoolNative#snapshot}'s. */
    public static native Object[] snapshot(long manager, int device);

    /**
     * Each side: {address, size, memory kind, device, offset}, and beside it a direct buffer
     * when the side is pageable host memory (null otherwise): the glue takes that side's
     * address and size from the buffer (and refuses a host side without one), so no raw host
     * address crosses JNI.
     */
    public static native void copy(long manager, long[] dst, ByteBuffer dstHost, long[] src, ByteBuffer srcHost,
            long bytes, long stream, boolean wait);

    public static native void stats(long manager, int device, long[] out);

    /**
     * A direct buffer over a live pinned block of the manager, {@code size} bytes from its
     * start; refused for any other address.
     */
    public static native ByteBuffer wrapPinned(long manager, long address, long size);

    /** The address of a direct buffer, 0 for a heap buffer. */
    public static native long directAddress(ByteBuffer buffer);
}
