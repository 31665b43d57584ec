package org.nativepool.cli;

import java.io.PrintStream;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import org.nativepool.NativeLibraryUnavailableException;
import org.nativepool.NativePool;
import org.nativepool.internal.NativeLibrary;

/**
 * The JAR's command line: {@code java -jar nativepool.jar [subcommand]}.
 * Without a subcommand it runs {@code demo}, so the README's main command
 * stays one word shorter.
 *
 * <p>Exit status: 0 on success, 1 when the subcommand failed (the native
 * library cannot load, say: the message says why on stderr), 2 for a usage
 * error (an unknown subcommand or option, or arguments a subcommand takes
 * none of), as POSIX utilities and {@code getopt} users do.
 */
public final class Main {
    static final int OK = 0;
    static final int FAILED = 1;
    static final int USAGE = 2;

    /** A subcommand: its name, what {@code --help} says of it, and what it prints. */
    private record Command(String name, String summary, Consumer<PrintStream> action) {
    }

    /** In the order {@code --help} lists them. */
    private static final List<Command> COMMANDS = List.of(
            new Command("demo", "build a fixed and a variable pool, allocate, free and print their stats (default)",
                    Demo::run),
            new Command("features", "what this build has compiled in and what is usable here, with the reasons",
                    Main::features));

    private Main() {
    }

    /**
     * Runs the subcommand named by {@code args[0]} and exits with its status.
     *
     * @param args the subcommand, or {@code --help}; none runs {@code demo}
     */
    public static void main(String[] args) {
        int status = run(args, System.out, System.err);
        if (status != OK) {
            System.exit(status);
        }
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0) {
            return execute(COMMANDS.get(0), out, err);
        }
        String first = args[0];
        if (first.equals("--help") || first.equals("-h") || first.equals("help")) {
            usage(out);
            return OK;
        }
        if (first.equals("--version")) {
            out.println("nativepool " + NativeLibrary.javaVersion());
            return OK;
        }
        if (first.equals("snapshot")) {
            return SnapshotCommand.run(List.of(args).subList(1, args.length), out, err);
        }
        Optional<Command> command = COMMANDS.stream().filter(c -> c.name().equals(first)).findFirst();
        if (command.isEmpty()) {
            err.println("nativepool: unknown " + (first.startsWith("-") ? "option" : "subcommand") + " '" + first
                    + "'");
            usage(err);
            return USAGE;
        }
        if (args.length > 1) {
            err.println("nativepool: '" + first + "' takes no arguments, got '" + args[1] + "'");
            usage(err);
            return USAGE;
        }
        return execute(command.get(), out, err);
    }

    private static int execute(Command command, PrintStream out, PrintStream err) {
        try {
            command.action().accept(out);
            out.flush();
            return OK;
        } catch (NativeLibraryUnavailableException e) {
            err.println("nativepool " + command.name() + ": " + e.getMessage());
            return FAILED;
        }
    }

    private static void usage(PrintStream out) {
        out.println("usage: java -jar nativepool.jar [subcommand]");
        out.println();
        out.println("subcommands:");
        for (Command command : COMMANDS) {
            out.printf("  %-10s %s%n", command.name(), command.summary());
        }
        out.printf("  %-10s %s%n", "snapshot", "draw a memory map (HTML with SVG) of a demo pool or a saved snapshot:");
        out.printf("  %-10s %s%n", "", SnapshotCommand.USAGE);
        out.println();
        out.println("options:");
        out.printf("  %-10s %s%n", "--help", "print this text");
        out.printf("  %-10s %s%n", "--version", "print the version of the Java API");
        out.println();
        out.println("Exit status: 0 success, 1 failure (reason on stderr), 2 usage error.");
    }

    private static void features(PrintStream out) {
        out.print(NativePool.features());
        Demo.printPlugins(out);
        out.println("  platform   " + NativeLibrary.platform() + ", Java " + Runtime.version() + " ("
                + System.getProperty("java.vm.name") + ")");
    }
}
