package org.nativepool;

import java.util.Locale;
import org.nativepool.internal.NativeLibrary;
import org.nativepool.internal.SafetyNative;

/**
 * How much a pool checks what user code does to its memory, chosen per pool
 * with {@link PoolBuilder#safetyLevel(SafetyLevel)}. Invalid, double, foreign
 * and interior frees are detected at every level. docs/debugging.md gives
 * the measured cost of each level.
 */
public enum SafetyLevel {
    /** The allocator alone: no cost. */
    OFF(0),
    /**
     * Guard bytes before and after every block, checked on free, by
     * {@link Pool#verify()} and at close; freed memory is poisoned and the
     * poison checked when it is handed out again. Damage throws
     * {@link MemoryCorruptionException}. Device pools
     * ({@link org.nativepool.gpu.DeviceManager.Builder#safetyLevel(SafetyLevel)})
     * set and check their guards with copies to and from the device.
     */
    CANARIES(1),
    /**
     * {@link #CANARIES}, plus a native record of every live block (size,
     * age, allocation site) for {@link Pool#leakReport()}, and the Java
     * allocation stack of every {@link MemoryBlock} handle.
     */
    FULL(2);

    /** System property that sets the default level: {@code off}, {@code canaries} or {@code full}. */
    public static final String PROPERTY = "nativepool.safety";

    private final int code;

    SafetyLevel(int code) {
        this.code = code;
    }

    int code() {
        return code;
    }

    /**
     * {@return the level of pools whose builder sets none} That is the
     * {@value #PROPERTY} system property if set, else the native build's default
     * ({@link #FULL} in a build configured with {@code NATIVEPOOL_DEBUG_SAFETY},
     * else {@link #OFF}).
     *
     * @throws InvalidArgumentException if the property holds an unknown level
     */
    public static SafetyLevel defaultLevel() {
        String property = System.getProperty(PROPERTY);
        if (property != null) {
            return parse(property, PROPERTY);
        }
        // The build's default is a native constant, and this may be the first
        // call into nativepool.
        NativeLibrary.ensureLoaded();
        int code = SafetyNative.defaultLevel();
        for (SafetyLevel level : values()) {
            if (level.code == code) {
                return level;
            }
        }
        return OFF;
    }

    static SafetyLevel parse(String text, String source) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new InvalidArgumentException(source + " must be off, canaries or full, not '" + text + "'");
        }
    }
}
