package org.nativepool;

import java.util.Arrays;

/**
 * The size classes of a pool's thread caches: a {@link FixedPool} has one,
 * its block; a {@link VariablePool} one per small size, so that a cache holds
 * interchangeable blocks. A class's blocks are allocated at the class size,
 * which is what they count for in the pool's statistics.
 *
 * <p>The variable classes are the sizes up to 3 KiB a quarter to a half apart
 * ({@link #VARIABLE_SIZES}), each rounded up to the granularity: from 48
 * bytes up, less than a third of a block is ever left unused (below, the
 * granularity's own rounding decides), and a thread's caches stay few enough
 * to bound in bytes. There are as many as {@link IssuedBlocks} can tag, and
 * they reach far enough for the sizes of network packets (a 1500-byte MTU
 * frame is a block of 1536). Larger requests are rarer, vary more, and go to
 * the pool (whose own thread caches serve them up to 4 KiB).
 */
final class SizeClasses {
    /** The class sizes of a variable pool before rounding to its granularity. */
    static final int[] VARIABLE_SIZES = {16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072};
    /** The largest size a variable pool's thread caches serve. */
    static final long MAX_CACHED = 3072;
    /**
     * The smallest granularity with thread caches: {@link IssuedBlocks} keeps a
     * block's class in the low 4 bits of its address, which finer blocks use.
     */
    static final long MIN_GRANULARITY = 1L << IssuedBlocks.TAG_BITS;

    /** The bytes of each class's blocks, as the pool allocates and counts them. */
    private final long[] bytes;
    /** Variable pools: the class of sizes {@code 16i + 1 .. 16i + 16}, at {@code [i]}; fixed pools: null. */
    private final byte[] classOf16;
    private final long granularity;

    private SizeClasses(long[] bytes, byte[] classOf16, long granularity) {
        this.bytes = bytes;
        this.classOf16 = classOf16;
        this.granularity = granularity;
    }

    /** {@return the one class of a fixed pool: its blocks, at their stride} */
    static SizeClasses fixed(long blockSize, long alignment) {
        return new SizeClasses(new long[] {(blockSize + alignment - 1) & -alignment}, null, alignment);
    }

    /** {@return the classes of a variable pool, or null if its granularity is too fine for thread caches} */
    static SizeClasses variable(long granularity) {
        if (granularity < MIN_GRANULARITY) {
            return null;
        }
        long[] bytes = Arrays.stream(VARIABLE_SIZES).mapToLong(size -> (size + granularity - 1) & -granularity)
                .distinct().toArray();
        byte[] classOf16 = new byte[(int) (MAX_CACHED / 16)];
        for (int i = 0, cls = 0; i < classOf16.length; i++) {
            while (bytes[cls] < 16L * (i + 1)) {
                cls++;
            }
            classOf16[i] = (byte) cls;
        }
        return new SizeClasses(bytes, classOf16, granularity);
    }

    /**
     * {@return the class serving {@code size} bytes at {@code alignment}, or -1
     * for a request the pool serves itself} A size of 0 or above {@link #MAX_CACHED}, and an
     * alignment above the granularity or not a power of two, go to the pool,
     * which also refuses what is invalid. Variable pools only.
     */
    int of(long size, long alignment) {
        if (Long.compareUnsigned(size - 1, MAX_CACHED) >= 0 || Long.compareUnsigned(alignment, granularity) > 0
                || (alignment & (alignment - 1)) != 0) {
            return -1;
        }
        return classOf16[(int) (size - 1) >>> 4];
    }

    /** {@return the bytes of the blocks of class {@code cls}} */
    long bytes(int cls) {
        return bytes[cls];
    }

    /** {@return the number of classes} */
    int count() {
        return bytes.length;
    }
}
