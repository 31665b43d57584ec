package org.nativepool.internal;

/** JNI entry points of the features area (native/jni/jni_features.cpp). Not API. */
public final class FeatureNative {
    private FeatureNative() {
    }

    /** Fills {@code out} in the order of {@code Features}' field indices. */
    public static native void probe(long[] out);

    /** Why NUMA is unavailable ("libnuma.so.1 not found: ..."), or "" when it is available. */
    public static native String numaUnavailableReason();
}
