package org.nativepool;

/**
 * A document given to {@link MemorySnapshot#fromJson(CharSequence)} is not a
 * memory snapshot: malformed JSON, a missing or mistyped field, or figures
 * that contradict each other. The message says what and where.
 */
public class SnapshotFormatException extends NativePoolException {
    private static final long serialVersionUID = 1L;

    /** @param message what is wrong, and where in the document */
    public SnapshotFormatException(String message) {
        super(message);
    }
}
