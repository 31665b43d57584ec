package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.nativepool.ChildJvm.JAR;
import static org.nativepool.ChildJvm.java;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nativepool.ChildJvm.Result;

/** {@code java -jar nativepool.jar ...} as a user types it, each in a fresh JVM. */
class CliTest {
    @TempDir
    Path directory;

    private Result jar(String... args) throws Exception {
        String[] command = new String[args.length + 3];
        command[0] = "-Dnativepool.extract.dir=" + directory.resolve("x");
        command[1] = "-jar";
        command[2] = JAR.toString();
        System.arraycopy(args, 0, command, 3, args.length);
        return java(directory, command);
    }

    @Test
    void helpListsEverySubcommandAndExitsZero() throws Exception {
        Result result = jar("--help");
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().startsWith("usage: java -jar nativepool.jar [subcommand]"), result.output());
        for (String subcommand : new String[] {"demo", "features", "snapshot"}) {
            assertTrue(result.output().contains("\n  " + subcommand + " "), subcommand + " missing:\n" + result.output());
        }
    }

    @Test
    void noArgumentsRunsTheDemo() throws Exception {
        Result result = jar();
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("PoolStats{"), result.output());
        Result demo = jar("demo");
        assertEquals(0, demo.exitCode(), demo.output());
        // The same program: equal but for the addresses it prints, the figures of free space
        // that depend on them (a variable pool carves its 64 KiB-aligned slabs from arenas
        // wherever malloc put them, so the pieces left over, their count, the largest and the
        // fragmentation differ from run to run), and the number of the memfd it shares, which
        // depends on what else the JVM has open.
        assertEquals(sameProgram(result.output()), sameProgram(demo.output()));
    }

    private static String sameProgram(String output) {
        return output.replaceAll("0x[0-9a-f]+", "0x?").replaceAll("in \\d+ blocks", "in ? blocks")
                .replaceAll("largest [0-9.]+( [KMG]?i?B)?", "largest ?")
                .replaceAll("fragmentation [0-9.]+", "fragmentation ?")
                .replaceAll("maps fd \\d+", "maps fd ?");
    }

    @Test
    void featuresNamesEveryFeatureWithAVerdict() throws Exception {
        Result result = jar("features");
        assertEquals(0, result.exitCode(), result.output());
        for (Feature feature : Feature.values()) {
            assertTrue(result.output().matches("(?s).*\\n  " + feature + " +(yes|no: \\S).*"),
                    feature + " has no verdict:\n" + result.output());
        }
        assertTrue(result.output().contains("platform"), result.output());
        assertFalse(result.output().contains("PoolStats"), "features builds no pool");
    }

    @ParameterizedTest
    @ValueSource(strings = {"bogus", "--bogus", "-x"})
    void anUnknownArgumentPrintsUsageAndExitsTwo(String argument) throws Exception {
        Result result = jar(argument);
        assertEquals(2, result.exitCode(), result.output());
        assertTrue(result.output().contains("unknown"), result.output());
        assertTrue(result.output().contains("'" + argument + "'"), result.output());
        assertTrue(result.output().contains("usage: java -jar nativepool.jar"), result.output());
    }

    @Test
    void anExtraArgumentToASubcommandIsAUsageError() throws Exception {
        Result result = jar("features", "extra");
        assertEquals(2, result.exitCode(), result.output());
        assertTrue(result.output().contains("'features' takes no arguments, got 'extra'"), result.output());
    }

    /** JDK 24+: {@code java -jar} gets native access from the manifest, so no restricted-method warning. */
    @Test
    void javaDashJarPrintsNoNativeAccessWarning() throws Exception {
        assumeTrue(Runtime.version().feature() >= 24, "restricted-method warnings exist from JDK 24 on; this is "
                + Runtime.version());
        Result result = jar("features");
        assertEquals(0, result.exitCode(), result.output());
        assertFalse(result.output().contains("WARNING"), result.output());
    }

    /** JDK 24+ with native access denied: a clear NativeLibraryUnavailableException naming the flag. */
    @Test
    void deniedNativeAccessSaysWhichFlagToAdd() throws Exception {
        assumeTrue(Runtime.version().feature() >= 24, "--illegal-native-access exists from JDK 24 on; this is "
                + Runtime.version());
        Result result = java(directory, "--illegal-native-access=deny",
                "-Dnativepool.extract.dir=" + directory.resolve("x"), "-cp", JAR.toString(),
                "org.nativepool.cli.Main", "features");
        assertEquals(1, result.exitCode(), result.output());
        assertTrue(result.output().contains("denies native access"), result.output());
        assertTrue(result.output().contains("--enable-native-access=ALL-UNNAMED"), result.output());
        assertFalse(result.output().contains("IllegalCallerException\n\tat"), "no stack from deep inside:\n"
                + result.output());
    }

    @Test
    void snapshotDrawsTheDemoPoolAndItsJsonRendersTheSameMap() throws Exception {
        Path map = directory.resolve("map.html");
        Path json = directory.resolve("map.json");
        Result result = jar("snapshot", "--demo", "--json", json.toString(), map.toString());
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("wrote " + map), result.output());
        String page = java.nio.file.Files.readString(map);
        assertTrue(page.contains("<svg id=\"map\"") && page.contains("id=\"largest\""), "a memory map");
        Path again = directory.resolve("again.html");
        Result replay = jar("snapshot", "--from", json.toString(), again.toString());
        assertEquals(0, replay.exitCode(), replay.output());
        assertEquals(page, java.nio.file.Files.readString(again));
        Result trimmed = jar("snapshot", "--demo", "--trim", directory.resolve("trimmed.html").toString());
        assertEquals(0, trimmed.exitCode(), trimmed.output());
        int regions = regions(result.output());
        int after = regions(trimmed.output());
        assertTrue(after < regions, "trim() returned whole arenas: " + regions + " regions, then " + after);
    }

    private static int regions(String output) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d+) regions").matcher(output);
        assertTrue(m.find(), output);
        return Integer.parseInt(m.group(1));
    }

    @ParameterizedTest
    @ValueSource(strings = {"--demo", "--demo --bogus map.html", "--demo --from x.json map.html", "--from",
        "--trim --from x.json map.html"})
    void snapshotUsageErrorsExitTwo(String arguments) throws Exception {
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("snapshot"));
        if (!arguments.isEmpty()) {
            args.addAll(java.util.List.of(arguments.split(" ")));
        }
        Result result = jar(args.toArray(String[]::new));
        assertEquals(2, result.exitCode(), result.output());
        assertTrue(result.output().contains("usage: java -jar nativepool.jar snapshot"), result.output());
    }

    @Test
    void snapshotToAnUnwritablePathExitsOneWithTheReason() throws Exception {
        Path map = directory.resolve("missing").resolve("map.html");
        Result result = jar("snapshot", "--demo", map.toString());
        assertEquals(1, result.exitCode(), result.output());
        assertTrue(result.output().contains(map + ": no such file or directory"), result.output());
        Path json = directory.resolve("bad.json");
        java.nio.file.Files.writeString(json, "{\"format\":\"nativepool-memory-snapshot\",\"version\":9}");
        Result version = jar("snapshot", "--from", json.toString(), directory.resolve("m.html").toString());
        assertEquals(1, version.exitCode(), version.output());
        assertTrue(version.output().contains("schema version 9"), version.output());
    }
}
