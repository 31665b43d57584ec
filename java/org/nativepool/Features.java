package org.nativepool;

import java.util.EnumSet;
import java.util.Set;
import org.nativepool.internal.FeatureNative;
import org.nativepool.internal.NativeLibrary;

/**
 * Which optional parts the native library was built with, and which of them
 * work on this machine now. Obtained from {@link NativePool#features()}.
 *
 * @param version version of the native library
 * @param libraryOrigin where the native library was loaded from
 * @param cudaCompiled CUDA support is in this build
 * @param cudaDevices CUDA devices the driver reports (0 without a driver)
 * @param numaCompiled NUMA support is in this build; always true, as libnuma
 *     is opened at run time ({@code libnuma.so.1})
 * @param numaAvailable libnuma loaded and the kernel accepts the NUMA system calls
 * @param numaNodes NUMA nodes configured on this machine; 0 when NUMA is unavailable
 * @param numaUnavailableReason why NUMA is unavailable (libnuma not found, the
 *     system calls refused as in many containers, ...); empty when it is available
 * @param persistentCompiled persistent heaps ({@link PersistentPool}) are in this build
 * @param valgrindHooks memcheck client requests are compiled into the pools
 * @param runningOnValgrind this process runs under Valgrind now
 * @param hugePages the kernel offers transparent huge pages
 * @param sanitizers the library was built with AddressSanitizer
 */
public record Features(
        String version,
        String libraryOrigin,
        boolean cudaCompiled,
        int cudaDevices,
        boolean numaCompiled,
        boolean numaAvailable,
        int numaNodes,
        String numaUnavailableReason,
        boolean persistentCompiled,
        boolean valgrindHooks,
        boolean runningOnValgrind,
        boolean hugePages,
        boolean sanitizers) {

    static Features probe() {
        NativeLibrary.ensureLoaded();
        long[] f = new long[10];
        FeatureNative.probe(f);
        return new Features(NativeLibrary.javaVersion(), NativeLibrary.loadedFrom(), f[0] != 0, (int) f[1],
                f[2] != 0, f[3] != 0, (int) f[4], FeatureNative.numaUnavailableReason(), f[5] != 0, f[6] != 0,
                f[7] != 0, f[8] != 0, f[9] != 0);
    }

    /**
     * {@return true when {@code feature} is compiled in and usable on this machine
     * now} For {@link Feature#PERSISTENT} and {@link Feature#VALGRIND}, being compiled in
     * is enough.
     *
     * @param feature the feature to check
     */
    public boolean has(Feature feature) {
        return switch (feature) {
            case CUDA -> cudaCompiled && cudaDevices > 0;
            case NUMA -> numaCompiled && numaAvailable;
            case PERSISTENT -> persistentCompiled;
            case VALGRIND -> valgrindHooks;
            case HUGE_PAGES -> hugePages;
        };
    }

    /** {@return a new set of the features usable now, those {@link #has(Feature)} accepts} */
    public Set<Feature> available() {
        Set<Feature> set = EnumSet.noneOf(Feature.class);
        for (Feature feature : Feature.values()) {
            if (has(feature)) {
                set.add(feature);
            }
        }
        return set;
    }

    /**
     * Throws unless the feature is usable.
     *
     * @param feature the feature the caller needs
     * @throws FeatureUnavailableException saying whether it is missing from the build or from the machine
     */
    public void require(Feature feature) {
        if (!has(feature)) {
            throw new FeatureUnavailableException(feature + " is unavailable: " + why(feature));
        }
    }

    private String why(Feature feature) {
        return switch (feature) {
            case CUDA -> cudaCompiled ? "no CUDA device is visible (driver missing or no GPU)"
                    : "this build of nativepool was compiled without CUDA";
            case NUMA -> numaUnavailableReason;
            case PERSISTENT -> "this build of nativepool has no persistent heaps";
            case VALGRIND -> "this build of nativepool was compiled without the Valgrind headers";
            case HUGE_PAGES -> "the kernel offers no transparent huge pages";
        };
    }

    @Override
    public String toString() {
        StringBuilder text = new StringBuilder("nativepool ").append(version).append(" (").append(libraryOrigin)
                .append(")\n");
        for (Feature feature : Feature.values()) {
            text.append(String.format("  %-10s %s%n", feature, has(feature) ? "yes" + detail(feature) : "no: " + why(feature)));
        }
        return text.toString();
    }

    private String detail(Feature feature) {
        return switch (feature) {
            case CUDA -> " (" + cudaDevices + " device(s))";
            case NUMA -> " (" + numaNodes + " node(s))";
            case VALGRIND -> runningOnValgrind ? " (running under Valgrind)" : "";
            case PERSISTENT -> " (" + PersistentPool.durabilitySummary() + ")";
            default -> "";
        };
    }
}
