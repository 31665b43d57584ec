package org.nativepool.misuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bad-input catalogue ({@link MisuseCatalogue}): every case runs in a
 * child JVM, so a crash fails that case and the rest go on in a new JVM.
 * Each case becomes one test in the report.
 */
class MisuseCatalogueTest {
    /** The floor: the catalogue covers the public API with at least this many cases. */
    private static final int MINIMUM_CASES = 150;

    @TempDir
    static Path scratch;

    @Test
    void theCatalogueIsLargeAndItsNamesUnique() {
        List<MisuseCase> cases = MisuseCatalogue.all();
        assertTrue(cases.size() >= MINIMUM_CASES, cases.size() + " cases");
        assertTrue(cases.stream().map(MisuseCase::name).distinct().count() == cases.size(), "duplicate names");
    }

    @TestFactory
    Stream<DynamicTest> everyMisuseIsASpecificExceptionAndLeavesThePoolUsable() throws Exception {
        Map<String, String> results = runAll(MisuseCatalogue.all().stream().map(MisuseCase::name).toList());
        return results.entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey(), () -> {
            if (!e.getValue().equals("PASS")) {
                fail(e.getKey() + ": " + e.getValue());
            }
        }));
    }

    @Test
    void aCrashFailsItsCaseAndTheNextCaseRunsInANewJvm() throws Exception {
        Map<String, String> results = runAll(List.of("harness/crash", FIRST_GENERIC, "harness/accepts-silently"));
        assertTrue(results.get("harness/crash").startsWith("the JVM died in this case"), results.toString());
        assertEquals("PASS", results.get(FIRST_GENERIC), results.toString());
        assertTrue(results.get("harness/accepts-silently").startsWith("accepted silently"), results.toString());
    }

    private static final String FIRST_GENERIC = PoolKind.FIXED_NONE + "/free-zero";

    /** Runs the cases in as few JVMs as crashes allow; a case whose JVM died is recorded as such. */
    private static Map<String, String> runAll(List<String> names) throws IOException, InterruptedException {
        Map<String, String> results = new LinkedHashMap<>();
        List<String> pending = new ArrayList<>(names);
        while (!pending.isEmpty()) {
            List<String> command = new ArrayList<>(List.of(
                    Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", System.getProperty("java.class.path"),
                    "-Dnativepool.extract.dir=" + scratch.resolve("x"),
                    "-XX:-CreateCoredumpOnCrash", "-XX:ErrorFile=" + scratch.resolve("hs_err_%p.log")));
            if (Runtime.version().feature() >= 24) {
                command.add("--enable-native-access=ALL-UNNAMED");
            }
            command.add(MisuseRunner.class.getName());
            Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
            try (var stdin = child.getOutputStream()) {
                stdin.write(String.join("\n", pending).getBytes(StandardCharsets.UTF_8));
            }
            String started = null;
            StringBuilder tail = new StringBuilder();
            try (BufferedReader lines = new BufferedReader(
                    new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = lines.readLine()) != null;) {
                    if (line.startsWith("START ")) {
                        started = line.substring(6);
                        tail.setLength(0);
                    } else if (line.startsWith("PASS ")) {
                        results.put(line.substring(5), "PASS");
                        pending.remove(line.substring(5));
                        started = null;
                    } else if (line.startsWith("FAIL ")) {
                        int tab = line.indexOf('\t');
                        String name = line.substring(5, tab);
                        results.put(name, line.substring(tab + 1));
                        pending.remove(name);
                        started = null;
                    } else if (tail.length() < 4000) {
                        tail.append(line).append('\n');
                    }
                }
            }
            if (!child.waitFor(600, TimeUnit.SECONDS)) {
                child.destroyForcibly();
            }
            if (started != null) {
                results.put(started, "the JVM died in this case (exit " + child.exitValue() + "):\n" + tail);
                pending.remove(started);
            } else if (!pending.isEmpty()) {
                // Died between cases, or never started: report them all rather than loop.
                for (String name : pending) {
                    results.put(name, "never ran: the child JVM exited with " + child.exitValue() + "\n" + tail);
                }
                pending.clear();
            }
        }
        return results;
    }
}
