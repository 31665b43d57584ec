package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nativepool.ChildJvm.JAR;
import static org.nativepool.ChildJvm.java;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nativepool.ChildJvm.Result;

/**
 * The JAR as a named module: a consumer module on the module path uses the
 * API, and can neither compile against nor reflect into the packages
 * module-info does not export; {@code java -m org.nativepool} runs the CLI.
 */
class ModulePathTest {
    @TempDir
    Path directory;

    /** Compiles {@code sources} (path, text pairs) as module sources into {@code out}; javac's status and output. */
    private String compile(Path out, String... sources) throws Exception {
        Path src = directory.resolve("src-" + out.getFileName());
        List<String> command = new ArrayList<>(List.of(
                Paths.get(System.getProperty("java.home"), "bin", "javac").toString(),
                "--module-path", JAR.toString(), "-d", out.toString(), "-implicit:none"));
        for (int i = 0; i < sources.length; i += 2) {
            Path file = src.resolve(sources[i]);
            Files.createDirectories(file.getParent());
            Files.writeString(file, sources[i + 1]);
            command.add(file.toString());
        }
        Process javac = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(javac.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return javac.waitFor() + ": " + output;
    }

    @Test
    void aConsumerModuleUsesTheApiAndCannotReachTheInternals() throws Exception {
        Path classes = directory.resolve("app");
        String compiled = compile(classes,
                "module-info.java", "module app { requires org.nativepool; }",
                "app/App.java", """
                        package app;
                        import java.lang.reflect.Method;
                        import org.nativepool.FixedPool;
                        import org.nativepool.MemoryBlock;
                        import org.nativepool.NativeResource;
                        public class App {
                            public static void main(String[] args) throws Exception {
                                try (FixedPool pool = FixedPool.builder(64).build();
                                        MemoryBlock block = pool.allocate()) {
                                    block.putLong(0, 42L);
                                    System.out.println("api: " + block.getLong(0) + " in " + App.class.getModule());
                                }
                                Class<?> natives = Class.forName("org.nativepool.internal.PoolNative");
                                try {
                                    natives.getMethod("trim", long.class).invoke(null, 1L);
                                    System.out.println("internal reachable");
                                } catch (IllegalAccessException e) {
                                    System.out.println("internal sealed: " + e.getMessage());
                                }
                                try {
                                    Method acquire = NativeResource.class.getDeclaredMethod("acquire");
                                    acquire.setAccessible(true);
                                    System.out.println("acquire reachable");
                                } catch (RuntimeException e) {
                                    System.out.println("acquire sealed: " + e.getClass().getSimpleName());
                                }
                            }
                        }
                        """);
        assertTrue(compiled.startsWith("0: "), compiled);
        Result run = java(directory, "-Dnativepool.extract.dir=" + directory.resolve("x"),
                "--module-path", JAR + File.pathSeparator + classes, "-m", "app/app.App");
        assertEquals(0, run.exitCode(), run.output());
        assertTrue(run.output().contains("api: 42 in module app"), run.output());
        assertTrue(run.output().contains("internal sealed: ")
                && run.output().contains("does not export org.nativepool.internal"), run.output());
        assertTrue(run.output().contains("acquire sealed: InaccessibleObjectException"), run.output());

        String linked = compile(directory.resolve("bad"),
                "module-info.java", "module bad { requires org.nativepool; }",
                "bad/Bad.java", """
                        package bad;
                        public class Bad {
                            long pool = org.nativepool.internal.PoolNative.createVariable(0, 0, 0, 0, 0, 0, 0, 0, 0, null, null);
                        }
                        """);
        assertNotEquals('0', linked.charAt(0), linked);
        assertTrue(linked.contains("package org.nativepool.internal is not visible")
                || linked.contains("does not export org.nativepool.internal"), linked);
    }

    @Test
    void theModuleRunsTheCli() throws Exception {
        Result run = java(directory, "-Dnativepool.extract.dir=" + directory.resolve("x"),
                "--module-path", JAR.toString(), "-m", "org.nativepool", "--help");
        assertEquals(0, run.exitCode(), run.output());
        assertTrue(run.output().startsWith("usage: java -jar nativepool.jar"), run.output());
    }
}
