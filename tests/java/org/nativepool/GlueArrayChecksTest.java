package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nativepool.ChildJvm.JAR;
import static org.nativepool.ChildJvm.java;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nativepool.ChildJvm.Result;

/**
 * Arrays that reach the JNI glue are checked before native code reads or
 * writes them: a null or short array is an InvalidArgumentException naming
 * the array, never a read of uninitialised memory or a write past the end.
 * Each case runs in a fresh JVM, so a crash fails the case, not the run.
 */
class GlueArrayChecksTest {
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "short copy destination | GpuNative.copy(m, new long[2], new long[5], 1, 0, true) | destination descriptor has 2 elements, needs 5",
        "null copy source       | GpuNative.copy(m, new long[5], null, 1, 0, true)        | source descriptor is null",
        "short device stats     | GpuNative.stats(m, 0, new long[3])                      | device stats array has 3 elements, needs 15",
    })
    void aShortOrNullArrayIsRefusedByName(String name, String call, String message, @TempDir Path directory)
            throws Exception {
        Path program = Files.writeString(directory.resolve("Glue.java"), """
                import org.nativepool.gpu.DeviceManager;
                import org.nativepool.internal.GpuNative;
                public class Glue {
                    public static void main(String[] args) throws Exception {
                        try (DeviceManager manager = DeviceManager.simulated(1, 1L << 20)) {
                            java.lang.reflect.Method acquire = org.nativepool.NativeResource.class
                                    .getDeclaredMethod("acquire");
                            acquire.setAccessible(true);
                            long m = (long) acquire.invoke(manager);
                            try {
                                %s;
                                System.out.println("accepted");
                            } catch (org.nativepool.InvalidArgumentException e) {
                                System.out.println("refused: " + e.getMessage());
                            } finally {
                                java.lang.reflect.Method release = org.nativepool.NativeResource.class
                                        .getDeclaredMethod("release");
                                release.setAccessible(true);
                                release.invoke(manager);
                            }
                            System.out.println("manager still usable: " + manager.stats().deviceTotalBytes());
                        }
                    }
                }
                """.formatted(call));
        Result result = java(directory, "-Dnativepool.extract.dir=" + directory.resolve("x"), "-cp", JAR.toString(),
                program.toString());
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("refused: " + message), result.output());
        assertTrue(result.output().contains("manager still usable: 1048576"), result.output());
    }
}
