package org.nativepool.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.nativepool.MemoryMap;
import org.nativepool.MemorySnapshot;
import org.nativepool.NativeLibraryUnavailableException;
import org.nativepool.SafetyLevel;
import org.nativepool.SnapshotFormatException;
import org.nativepool.VariablePool;

/**
 * {@code snapshot}: draws a memory map ({@link MemoryMap}) of a demo pool,
 * or of a snapshot a program saved as JSON, and optionally saves the JSON.
 */
final class SnapshotCommand {
    static final String USAGE = "snapshot (--demo [--trim] | --from SNAPSHOT.json) [--json OUT.json] MAP.html";

    private SnapshotCommand() {
    }

    /** {@return the exit status} Usage errors print the usage line and return {@link Main#USAGE}. */
    static int run(List<String> args, PrintStream out, PrintStream err) {
        boolean demo = false;
        boolean trim = false;
        String from = null;
        String json = null;
        String map = null;
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            switch (arg) {
                case "--demo" -> demo = true;
                case "--trim" -> trim = true;
                case "--from", "--json" -> {
                    if (i + 1 == args.size()) {
                        return usage(err, "'" + arg + "' needs a file name");
                    }
                    if (arg.equals("--from")) {
                        from = args.get(++i);
                    } else {
                        json = args.get(++i);
                    }
                }
                default -> {
                    if (arg.startsWith("-")) {
                        return usage(err, "unknown option '" + arg + "'");
                    }
                    if (map != null) {
                        return usage(err, "one map file, got '" + map + "' and '" + arg + "'");
                    }
                    map = arg;
                }
            }
        }
        if (demo == (from != null)) {
            return usage(err, "give either --demo or --from SNAPSHOT.json");
        }
        if (trim && !demo) {
            return usage(err, "--trim applies to --demo only");
        }
        if (map == null) {
            return usage(err, "no map file given");
        }
        try {
            MemorySnapshot snapshot = demo ? demoSnapshot(trim)
                    : MemorySnapshot.fromJson(Files.readString(Path.of(from), StandardCharsets.UTF_8));
            if (json != null) {
                Files.writeString(Path.of(json), snapshot.toJson(), StandardCharsets.UTF_8);
            }
            MemoryMap.write(snapshot, Path.of(map));
            out.println("wrote " + map + ": " + snapshot);
            return Main.OK;
        } catch (IOException | InvalidPathException e) {
            err.println("nativepool snapshot: cannot " + (e instanceof InvalidPathException ? "use" : "access") + " "
                    + describe(e));
            return Main.FAILED;
        } catch (SnapshotFormatException e) {
            err.println("nativepool snapshot: " + from + ": " + e.getMessage());
            return Main.FAILED;
        } catch (NativeLibraryUnavailableException e) {
            err.println("nativepool snapshot: " + e.getMessage());
            return Main.FAILED;
        }
    }

    private static String describe(Exception e) {
        if (e instanceof java.nio.file.NoSuchFileException missing) {
            return missing.getFile() + ": no such file or directory";
        }
        if (e instanceof java.nio.file.AccessDeniedException denied) {
            return denied.getFile() + ": permission denied";
        }
        return e.getMessage();
    }

    private static int usage(PrintStream err, String problem) {
        err.println("nativepool snapshot: " + problem);
        err.println("usage: java -jar nativepool.jar " + USAGE);
        return Main.USAGE;
    }

    /**
     * A fragmented variable pool: long-lived blocks of mixed sizes, most of them freed at random,
     * and a burst that grew arenas of its own and is gone, so that {@code trim()} has whole arenas
     * to return. At {@link SafetyLevel#FULL}, so the map shows margins, requested sizes and ages.
     */
    static MemorySnapshot demoSnapshot(boolean trim) {
        Random random = new Random(14);
        try (VariablePool pool = VariablePool.builder().name("demo").arenaSize(256 << 10)
                .safetyLevel(SafetyLevel.FULL).build()) {
            List<Long> kept = new ArrayList<>();
            List<Long> burst = new ArrayList<>();
            for (int i = 0; i < 900; i++) {
                kept.add(pool.allocateAddress(32L << random.nextInt(8), 16));
            }
            for (int i = 0; i < 300; i++) {
                burst.add(pool.allocateAddress(1024 + random.nextInt(4096), 16));
            }
            burst.forEach(pool::free);
            Collections.shuffle(kept, random);
            int freed = kept.size() * 2 / 3;
            kept.subList(0, freed).forEach(pool::free);
            kept.subList(0, freed).clear();
            if (trim) {
                pool.trim();
            }
            MemorySnapshot snapshot = pool.snapshot();
            kept.forEach(pool::free);
            return snapshot;
        }
    }
}
