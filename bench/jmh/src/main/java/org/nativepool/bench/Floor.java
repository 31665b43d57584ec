package org.nativepool.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Empty JNI functions shaped like {@code PoolNative.allocate} and
 * {@code PoolNative.free}: two calls are the cheapest any JNI allocator's
 * allocation + free pair can be.
 */
public final class Floor {
    static {
        try (InputStream library = Floor.class.getResourceAsStream("libfloor.so")) {
            if (library == null) {
                throw new IllegalStateException("libfloor.so is missing from the benchmark JAR");
            }
            Path file = Files.createTempFile("nativepool-floor", ".so");
            file.toFile().deleteOnExit();
            Files.copy(library, file, StandardCopyOption.REPLACE_EXISTING);
            System.load(file.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Floor() {
    }

    public static native long allocate(long pool, long size, long alignment);

    public static native void free(long pool, long address);
}
