package org.nativepool;

/**
 * What a stretch of a pool's region holds in a {@link MemorySnapshot}.
 * The codes are those of the native core (all but {@link #QUARANTINED}) and of
 * the snapshot's JSON form.
 */
public enum BlockState {
    /** In a user's hands. */
    LIVE("L"),
    /** In the pool's free lists: a hole. */
    FREE("F"),
    /**
     * Parked in a native thread cache or a stream's cache of freed device blocks: out of the free
     * lists, in no user's hands.
     */
    CACHED("C"),
    /** A canary margin around a live block ({@link SafetyLevel#CANARIES} and above). */
    GUARD("G"),
    /**
     * A block whose {@link MemoryBlock} was closed while a {@link MemoryBlock#asByteBuffer() view}
     * of it was still reachable: kept allocated until the view is collected, counted as live in
     * {@link PoolStats} and in {@link MemorySnapshot.Figures}. Marked by the Java layer; the native
     * core has no such code.
     */
    QUARANTINED("Q");

    private static final BlockState[] BY_CODE = values();
    private final String letter;

    BlockState(String letter) {
        this.letter = letter;
    }

    /** {@return the one-letter name of the state in the JSON form} */
    public String letter() {
        return letter;
    }

    static BlockState fromCode(long code) {
        if (code < 0 || code >= BY_CODE.length) {
            throw new IllegalStateException("native snapshot has unknown block state " + code);
        }
        return BY_CODE[(int) code];
    }

    static BlockState fromLetter(String letter) {
        for (BlockState state : BY_CODE) {
            if (state.letter.equals(letter)) {
                return state;
            }
        }
        throw new SnapshotFormatException("unknown block state \"" + letter + "\" (expected L, F, C or G)");
    }
}
