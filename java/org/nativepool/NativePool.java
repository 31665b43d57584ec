package org.nativepool;

/**
 * Entry point of nativepool: memory pools whose blocks and bookkeeping live
 * in a native C++ core.
 *
 * <ul>
 *   <li>{@link FixedPool}: equal-sized blocks, O(1), optionally lock-free;</li>
 *   <li>{@link VariablePool}: any size, O(1) TLSF with coalescing;</li>
 *   <li>{@link #features()}: which optional parts are usable here.</li>
 * </ul>
 */
public final class NativePool {
    private NativePool() {
    }

    /**
     * Probes which optional components are compiled in and usable now. Loads the library.
     *
     * @return what the probe found; a later call probes again
     * @throws NativeLibraryUnavailableException if the native library cannot be loaded
     */
    public static Features features() {
        return Features.probe();
    }

    /**
     * Shorthand for {@link FixedPool#builder(long)}.
     *
     * @param blockSize usable bytes per block, at least 1
     * @return a new builder for blocks of {@code blockSize} bytes
     */
    public static FixedPool.Builder fixedPool(long blockSize) {
        return FixedPool.builder(blockSize);
    }

    /** {@return a new builder with the defaults: shorthand for {@link VariablePool#builder()}} */
    public static VariablePool.Builder variablePool() {
        return VariablePool.builder();
    }
}
