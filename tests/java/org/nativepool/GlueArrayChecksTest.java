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
        "short copy destination | GpuNative.copy(m, new long[2], null, new long[5], null, 1, 0, true) | destination descriptor has 2 elements, needs 5",
        "null copy source       | GpuNative.copy(m, new long[5], null, null, null, 1, 0, true)        | source descriptor is null",
        "short device stats     | GpuNative.stats(m, 0, new long[3])                      | device stats array has 3 elements, needs 15",
        "short pool stats       | PoolNative.stats(p, new long[3])                        | stats array has 3 elements, needs 15",
        "null pool info         | PoolNative.info(p, null)                                | info array is null",
        "batch past the array   | PoolNative.allocateBatch(p, 64, 0, new long[2], 5)      | address array has 2 elements, needs 5",
        "negative batch count   | PoolNative.allocateBatch(p, 64, 0, new long[2], -1)     | count must not be negative",
        "null batch to free     | PoolNative.freeBatch(p, null, 1)                        | address array is null",
        "free past the array    | PoolNative.freeBatch(p, new long[1], 2)                 | address array has 1 elements, needs 2",
        "short feature array    | FeatureNative.probe(new long[4])                        | feature array has 4 elements, needs 10",
        "null NUMA node set     | NumaNative.registerSpec(0, null)                        | node array is null",
    })
    void aShortOrNullArrayIsRefusedByName(String name, String call, String message, @TempDir Path directory)
            throws Exception {
        Path program = Files.writeString(directory.resolve("Glue.java"), """
                import java.lang.reflect.Field;
                import java.lang.reflect.Method;
                import org.nativepool.FixedPool;
                import org.nativepool.NativeResource;
                import org.nativepool.gpu.DeviceManager;
                import org.nativepool.internal.FeatureNative;
                import org.nativepool.internal.GpuNative;
                import org.nativepool.internal.InFlightGuard;
                import org.nativepool.internal.NumaNative;
                import org.nativepool.internal.PoolNative;
                public class Glue {
                    public static void main(String[] args) throws Exception {
                        Method acquire = NativeResource.class.getDeclaredMethod("acquire");
                        Method release = NativeResource.class.getDeclaredMethod("release");
                        Field managerGuard = DeviceManager.class.getDeclaredField("guard");
                        acquire.setAccessible(true);
                        release.setAccessible(true);
                        managerGuard.setAccessible(true);
                        try (DeviceManager manager = DeviceManager.simulated(1, 1L << 20);
                                FixedPool pool = FixedPool.builder(64).build()) {
                            InFlightGuard guard = (InFlightGuard) managerGuard.get(manager);
                            long m = guard.acquire();
                            long p = (long) acquire.invoke(pool);
                            try {
                                %s;
                                System.out.println("accepted");
                            } catch (org.nativepool.InvalidArgumentException e) {
                                System.out.println("refused: " + e.getMessage());
                            } finally {
                                release.invoke(pool);
                                guard.release();
                            }
                            System.out.println("manager still usable: " + manager.stats().deviceTotalBytes());
                            pool.free(pool.allocateAddress());
                            pool.validate();
                            System.out.println("pool still usable: " + pool.stats().liveBlocks());
                        }
                    }
                }
                """.formatted(call));
        Result result = java(directory, "-Dnativepool.extract.dir=" + directory.resolve("x"), "-cp", JAR.toString(),
                program.toString());
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("refused: "), result.output());
        assertTrue(result.output().contains(message), result.output());
        assertTrue(result.output().contains("manager still usable: 1048576"), result.output());
        assertTrue(result.output().contains("pool still usable: 0"), result.output());
    }
}
