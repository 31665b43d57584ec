package org.nativepool.internal;

import org.nativepool.RegionListener;

/** JNI entry points of backend plugins and region listeners (native/jni/jni_plugins.cpp). Not API. */
public final class PluginNative {
    private PluginNative() {
    }

    /** Loads a plugin with its options and returns the id its backend carries as its parameter. */
    public static native int register(String path, String[] keys, String[] values);

    /** Name, description, canonical path and ABI minor of a registered plugin. */
    public static native String[] describe(int id);

    /** Local and remote key of the plugin region holding {@code address}. */
    public static native long[] keys(int id, long address);

    /** File descriptor, file offset and length of the region holding {@code address}, and the address's offset in it. */
    public static native long[] exportRegion(int id, long address);

    /** Registers a listener over the backend (type, parameter); returns the id of the listened backend. */
    public static native int listen(int type, int parameter, RegionListener listener);
}
