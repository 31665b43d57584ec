package org.nativepool;

import static org.junit.jupiter.api.Assumptions.abort;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Debian's headless chromium, for the memory map tests: loads a page as a
 * browser does and dumps its DOM or a screenshot. Tests that need it are
 * skipped, with the reason printed, where it is not installed (tests/run
 * installs it).
 */
final class Chromium {
    private static final long TIMEOUT_SECONDS = 90;

    /** What a run left: the DOM or nothing on stdout, the browser's log (console messages) on stderr. */
    record Output(String stdout, String stderr) {
    }

    private Chromium() {
    }

    /** {@return the chromium binary, or a skipped test naming why} */
    static Path binary() {
        for (String directory : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path candidate = Path.of(directory, "chromium");
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        String reason = "chromium is not installed (Debian package chromium; bash tests/run installs it): "
                + "the memory map is not checked in a browser";
        System.out.println("SKIPPED: " + reason);
        return abort(reason);
    }

    /** {@return the DOM of {@code page} once its scripts ran} */
    static Output dumpDom(Path page, Path scratch) throws IOException, InterruptedException {
        return run(scratch, "--dump-dom", page.toUri().toString());
    }

    /** Writes a PNG of {@code page} at {@code width} x {@code height} to {@code png}. */
    static Output screenshot(Path page, Path png, int width, int height, Path scratch)
            throws IOException, InterruptedException {
        return run(scratch, "--screenshot=" + png.toAbsolutePath(), "--window-size=" + width + "," + height,
                "--hide-scrollbars", page.toUri().toString());
    }

    private static Output run(Path scratch, String... args) throws IOException, InterruptedException {
        Path profile = Files.createTempDirectory(scratch, "chromium-profile");
        List<String> command = new ArrayList<>(List.of(binary().toString(), "--headless", "--no-sandbox",
                "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0",
                "--user-data-dir=" + profile));
        command.addAll(List.of(args));
        Path out = scratch.resolve("chromium-" + System.nanoTime() + ".out");
        Path err = scratch.resolve("chromium-" + System.nanoTime() + ".err");
        Process process = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile())
                .start();
        if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
            throw new AssertionError("chromium did not finish in " + TIMEOUT_SECONDS + " s: " + command);
        }
        Output output = new Output(Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
        if (process.exitValue() != 0) {
            throw new AssertionError("chromium exited with " + process.exitValue() + ": " + command + "\n"
                    + output.stderr());
        }
        return output;
    }
}
