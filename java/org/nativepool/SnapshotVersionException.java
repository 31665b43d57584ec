package org.nativepool;

/**
 * A memory snapshot document of a schema version this library does not read
 * (see {@link MemorySnapshot#SCHEMA_VERSION}).
 */
public class SnapshotVersionException extends SnapshotFormatException {
    private static final long serialVersionUID = 1L;
    /** The version the document declares. */
    private final long version;

    /**
     * @param message the detail message, naming both versions
     * @param version the version the document declares
     */
    public SnapshotVersionException(String message, long version) {
        super(message);
        this.version = version;
    }

    /** {@return the schema version the document declares} */
    public long version() {
        return version;
    }
}
