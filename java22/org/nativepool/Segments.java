package org.nativepool;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * {@link MemorySegment} views of pool blocks, bound to the block's lifetime:
 * once the block or its pool is closed, every access through the segment
 * throws {@link IllegalStateException} instead of reaching freed memory. JDK
 * 22 and later only (this class is in the JAR's {@code META-INF/versions/22}).
 *
 * <p>Each block's segments belong to one shared {@link Arena}, made at the
 * first call for that block and closed before the block goes back to its pool;
 * closing a shared arena waits for the accesses in flight on other threads,
 * so no access ever overlaps the free. Making a segment is a restricted
 * operation: the JVM needs native access for nativepool, as for loading its
 * library ({@code --enable-native-access=ALL-UNNAMED}, or
 * {@code Enable-Native-Access} in the manifest of {@code java -jar}).
 */
public final class Segments {
    private Segments() {
    }

    /**
     * {@return a segment over the whole block, valid while the block is open}
     *
     * @param block a block of host-accessible memory
     * @throws NullPointerException if {@code block} is null
     * @throws PoolClosedException if the block or its pool is closed
     */
    public static MemorySegment of(MemoryBlock block) {
        long address = block.address(); // throws once closed
        Arena arena = block.scope(Arena::ofShared);
        return MemorySegment.ofAddress(address).reinterpret(block.size(), arena, null);
    }
}
