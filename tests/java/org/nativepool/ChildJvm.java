package org.nativepool;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A fresh JVM for tests that load the library the way a user does, or whose
 * subject may exit or crash: its exit status and output (stdout and stderr
 * together) are the result, so a crash fails the test, not the run.
 */
final class ChildJvm {
    /** The packaged JAR under test (failsafe sets the property). */
    static final Path JAR = Paths.get(System.getProperty("nativepool.test.jar", "missing.jar"));

    record Result(int exitCode, String output) {
    }

    private ChildJvm() {
    }

    /** Runs the test's own JVM binary with {@code args} in {@code workingDirectory} and waits. */
    static Result java(Path workingDirectory, String... args) throws IOException, InterruptedException {
        return finish(start(workingDirectory, args));
    }

    /** Runs {@code javaHome/bin/java}, for tests that need a JDK other than the test's own. */
    static Result java(Path javaHome, Path workingDirectory, String... args) throws IOException, InterruptedException {
        return finish(start(javaHome, workingDirectory, args));
    }

    static Process start(Path workingDirectory, String... args) throws IOException {
        return start(Paths.get(System.getProperty("java.home")), workingDirectory, args);
    }

    private static Process start(Path javaHome, Path workingDirectory, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(javaHome.resolve("bin").resolve("java").toString());
        command.addAll(List.of(args));
        return new ProcessBuilder(command).directory(workingDirectory.toFile()).redirectErrorStream(true).start();
    }

    static Result finish(Process process) throws IOException, InterruptedException {
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("child JVM timed out:\n" + output);
        }
        return new Result(process.exitValue(), output);
    }
}
