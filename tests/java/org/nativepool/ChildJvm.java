package org.nativepool;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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

    /** What a child wrote on stdout and on stderr, kept apart. */
    record Streams(int exitCode, String stdout, String stderr) {
    }

    /**
     * Runs the test's own JVM with {@code args} through {@code launcher} (a
     * command that execs its arguments; may be empty), with {@code environment}
     * added, keeping stderr apart for tests that check it stays silent.
     */
    static Streams javaVia(List<String> launcher, Map<String, String> environment, Path workingDirectory,
            String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(launcher);
        command.add(javaBinary(ownJavaHome()));
        command.addAll(List.of(args));
        File errors = File.createTempFile("child-jvm", ".stderr");
        try {
            ProcessBuilder builder = new ProcessBuilder(command).directory(workingDirectory.toFile())
                    .redirectError(errors);
            builder.environment().putAll(environment);
            Result result = finish(builder.start());
            return new Streams(result.exitCode(), result.output(),
                    new String(Files.readAllBytes(errors.toPath()), StandardCharsets.UTF_8));
        } finally {
            errors.delete();
        }
    }

    static Process start(Path workingDirectory, String... args) throws IOException {
        return start(ownJavaHome(), workingDirectory, args);
    }

    private static Process start(Path javaHome, Path workingDirectory, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(javaBinary(javaHome));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).directory(workingDirectory.toFile()).redirectErrorStream(true).start();
    }

    private static Path ownJavaHome() {
        return Paths.get(System.getProperty("java.home"));
    }

    private static String javaBinary(Path javaHome) {
        return javaHome.resolve("bin").resolve("java").toString();
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
