package org.nativepool;

import java.util.Locale;

/**
 * Which {@link MemoryBlock} handles record the stack that allocated them, so
 * that a handle that becomes unreachable without {@code close()} is reported
 * with it (the levels of Netty's ResourceLeakDetector). Reports go to the
 * {@code org.nativepool} logger and to {@link LeakDetector#drainLeaks()}.
 */
public enum LeakDetection {
    /** No tracking: an unreachable handle's block stays allocated until its pool closes. */
    OFF,
    /** One handle in {@value LeakDetector#SAMPLING_PROPERTY} (default 128) is tracked: cheap enough to keep on. */
    SAMPLED,
    /** Every handle is tracked: for tests and debugging. */
    ALL;

    /** System property that sets the default level: {@code off}, {@code sampled} or {@code all}. */
    public static final String PROPERTY = "nativepool.leakDetection";

    /**
     * {@return the level of pools whose builder sets none} That is the
     * {@value #PROPERTY} system property if set, else {@link #ALL} for
     * {@link SafetyLevel#FULL} pools and {@link #SAMPLED} for the others.
     *
     * @param safetyLevel the safety level of the pool
     * @throws InvalidArgumentException if the property holds an unknown level
     */
    public static LeakDetection defaultFor(SafetyLevel safetyLevel) {
        String property = System.getProperty(PROPERTY);
        if (property != null) {
            try {
                return valueOf(property.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new InvalidArgumentException(PROPERTY + " must be off, sampled or all, not '" + property + "'");
            }
        }
        return safetyLevel == SafetyLevel.FULL ? ALL : SAMPLED;
    }
}
