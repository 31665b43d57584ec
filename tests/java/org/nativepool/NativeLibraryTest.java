package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nativepool.ChildJvm.JAR;
import static org.nativepool.ChildJvm.finish;
import static org.nativepool.ChildJvm.java;
import static org.nativepool.ChildJvm.start;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nativepool.ChildJvm.Result;
import org.nativepool.internal.NativeLibrary;

/** Loading the native library the way users do: from the packaged JAR. */
class NativeLibraryTest {

    @Test
    void loadsTheLibraryBundledInTheJar() {
        Features features = NativePool.features();
        assertTrue(features.libraryOrigin().startsWith("jar:/org/nativepool/native/" + NativeLibrary.platform()),
                features.libraryOrigin());
        assertEquals(NativeLibrary.javaVersion(), features.version());
        assertFalse(features.version().isBlank());
    }

    @Test
    void featuresSayPlainlyWhatIsAbsent() {
        Features features = NativePool.features();
        for (Feature feature : Feature.values()) {
            if (features.has(feature)) {
                features.require(feature);
            } else {
                FeatureUnavailableException e = org.junit.jupiter.api.Assertions.assertThrows(
                        FeatureUnavailableException.class, () -> features.require(feature));
                assertTrue(e.getMessage().startsWith(feature + " is unavailable: "), e.getMessage());
            }
        }
        assertTrue(features.toString().contains("CUDA"), features.toString());
    }

    @Test
    void theJarAloneLoadsAndAllocatesFromAnEmptyDirectory(@TempDir Path empty) throws Exception {
        Path jar = Files.copy(JAR, empty.resolve("nativepool.jar"), StandardCopyOption.REPLACE_EXISTING);
        Result result = java(empty, "-Dnativepool.extract.dir=" + empty.resolve("x"), "-cp", jar.toString(),
                "org.nativepool.cli.Main");
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("PoolStats{"), result.output());
        assertTrue(result.output().contains("a 3 MiB request fails"), result.output());
    }

    /** Public entry points that need the native library but build no pool. */
    @ParameterizedTest
    @ValueSource(strings = {
        "org.nativepool.SafetyLevel.defaultLevel()",
        "org.nativepool.gpu.HostMemory.of(java.nio.ByteBuffer.allocateDirect(64))"})
    void anyPublicEntryPointCanBeTheFirstCallIntoNativepool(String call, @TempDir Path directory) throws Exception {
        // A fresh JVM, so that nothing has loaded the library before.
        Path program = Files.writeString(directory.resolve("FirstCall.java"), """
                public class FirstCall {
                    public static void main(String[] args) {
                        System.out.println("first call: " + %s);
                    }
                }
                """.formatted(call));
        Result result = java(directory, "-Dnativepool.extract.dir=" + directory.resolve("x"), "-cp", JAR.toString(),
                program.toString());
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("first call: "), result.output());
    }

    @Test
    void severalJvmsExtractingAtOnceAllSucceed(@TempDir Path directory) throws Exception {
        Path extractTo = directory.resolve("shared");
        List<Process> processes = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            processes.add(start(directory, "-Dnativepool.extract.dir=" + extractTo, "-cp", JAR.toString(),
                    "org.nativepool.cli.Main"));
        }
        for (Process process : processes) {
            Result result = finish(process);
            assertEquals(0, result.exitCode(), result.output());
        }
        try (var files = Files.walk(extractTo)) {
            // The demo also extracts the bundled plugins, each once, the same way.
            List<Path> libraries = files.filter(p -> p.toString().endsWith(".so")).toList();
            assertEquals(1 + NativeLibrary.bundledPlugins().size(), libraries.size(),
                    "one verified copy of each: " + libraries);
            assertEquals(1, libraries.stream().filter(p -> p.toString().endsWith("-libnativepool.so")).count(),
                    libraries.toString());
        }
    }

    @Test
    void aCorruptedExtractedCopyIsReplaced(@TempDir Path directory) throws Exception {
        Path extractTo = directory.resolve("x");
        assertEquals(0, java(directory, "-Dnativepool.extract.dir=" + extractTo, "-cp", JAR.toString(),
                "org.nativepool.cli.Main").exitCode());
        Path library;
        try (var files = Files.walk(extractTo)) {
            library = files.filter(p -> p.toString().endsWith(".so")).findFirst().orElseThrow();
        }
        Files.write(library, "not a library".getBytes(StandardCharsets.UTF_8));
        Result again = java(directory, "-Dnativepool.extract.dir=" + extractTo, "-cp", JAR.toString(),
                "org.nativepool.cli.Main");
        assertEquals(0, again.exitCode(), again.output());
    }

    @Test
    void aBadOverridePathFailsWithAMessageNamingTheProperty(@TempDir Path directory) throws Exception {
        Result result = java(directory, "-D" + NativeLibrary.PATH_PROPERTY + "=" + directory.resolve("nope.so"),
                "-cp", JAR.toString(), "org.nativepool.cli.Main");
        assertEquals(1, result.exitCode(), result.output());
        assertTrue(result.output().contains("cannot load the nativepool native library"), result.output());
        assertTrue(result.output().contains(NativeLibrary.PATH_PROPERTY), result.output());
    }

    @Test
    void anUnbundledPlatformIsRefusedWithThePlatformsTheJarCarries(@TempDir Path directory) throws Exception {
        List<String> bundled = platformsInTheJar();
        assertTrue(bundled.contains(NativeLibrary.platform()), "the JAR under test carries " + bundled);
        Result result = java(directory, "-Dos.arch=riscv64", "-Dnativepool.extract.dir=" + directory.resolve("x"),
                "-cp", JAR.toString(), "org.nativepool.cli.Main");
        assertEquals(1, result.exitCode(), result.output());
        assertTrue(result.output().contains("no library bundled for platform linux-riscv64"), result.output());
        assertTrue(result.output().contains("this JAR carries " + String.join(", ", bundled) + ";"), result.output());
    }

    /** The platforms of the JAR's libraries, read with ZipFile rather than the loader's own listing. */
    private static List<String> platformsInTheJar() throws IOException {
        try (ZipFile jar = new ZipFile(JAR.toFile())) {
            return jar.stream().map(ZipEntry::getName)
                    .filter(name -> name.matches("org/nativepool/native/[^/]+/libnativepool\\.so"))
                    .map(name -> name.split("/")[3]).sorted().toList();
        }
    }

    @Test
    void anUnwritableExtractionDirectoryFailsWithAMessageNamingTheProperty(@TempDir Path directory)
            throws Exception {
        Path file = Files.writeString(directory.resolve("a-file"), "x");
        Result result = java(directory, "-Dnativepool.extract.dir=" + file, "-cp", JAR.toString(),
                "org.nativepool.cli.Main");
        assertTrue(result.exitCode() != 0);
        assertTrue(result.output().contains(NativeLibrary.EXTRACT_DIR_PROPERTY), result.output());
    }
}
