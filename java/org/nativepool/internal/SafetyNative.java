package org.nativepool.internal;

/**
 * JNI entry points of the safety area (native/jni/jni_safety.cpp). Not API:
 * called by {@code org.nativepool} between acquire and release of a pool's
 * in-flight guard.
 */
public final class SafetyNative {
    private SafetyNative() {
    }

    /** Invariants plus every live block's guards; throws {@code MemoryCorruptionException}. */
    public static native void verify(long pool);

    /** The live blocks of a FULL pool, one a line; null for pools that do not track them. */
    public static native String leakReport(long pool);

    /** Code of the safety level the native build defaults to (FULL in a debug-safety build). */
    public static native int defaultLevel();
}
