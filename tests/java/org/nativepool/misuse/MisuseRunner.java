package org.nativepool.misuse;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The child JVM of {@link MisuseCatalogueTest}: runs the named cases in
 * order and prints one line per case, so that the parent can tell which case
 * a crash happened in and go on with the rest in a new JVM.
 *
 * <p>Protocol: case names one per line on standard input; on standard
 * output, one line each: {@code START <name>}, then {@code PASS <name>}
 * or {@code FAIL <name>\t<reason>}.
 */
public final class MisuseRunner {
    private MisuseRunner() {
    }

    /**
     * Runs the cases named one per line on standard input.
     *
     * @param args unused
     * @throws IOException if standard input cannot be read
     */
    public static void main(String[] args) throws IOException {
        List<String> names = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).lines()
                .filter(line -> !line.isBlank()).toList();
        Map<String, MisuseCase> cases = Stream.concat(MisuseCatalogue.all().stream(), harnessCases().stream())
                .collect(Collectors.toMap(MisuseCase::name, Function.identity()));
        PrintStream out = System.out;
        for (String name : names) {
            MisuseCase misuse = cases.get(name);
            out.println("START " + name);
            out.flush();
            String failure = misuse == null ? "no such case" : run(misuse);
            out.println(failure == null ? "PASS " + name : "FAIL " + name + "\t" + failure.replace('\n', ' '));
            out.flush();
        }
    }

    /**
     * Cases outside the catalogue that prove the harness itself: one that
     * kills the JVM as a native crash would (a read of an unmapped page
     * through {@code sun.misc.Unsafe}, since the glue refuses to view such an
     * address), one that breaks its promise.
     */
    static List<MisuseCase> harnessCases() {
        return List.of(
                MisuseCase.noOp("harness/crash", f -> {
                    Class<?> type = Class.forName("sun.misc.Unsafe");
                    Field theUnsafe = type.getDeclaredField("theUnsafe");
                    theUnsafe.setAccessible(true);
                    type.getMethod("getLong", long.class).invoke(theUnsafe.get(null), 8L);
                }),
                MisuseCase.throwing("harness/accepts-silently", IllegalStateException.class, "", f -> {
                }));
    }

    /** {@return null when the case behaved as catalogued, else why not} */
    static String run(MisuseCase misuse) {
        PoolKind kind = kindOf(misuse.name());
        try (Fixture fixture = new Fixture(kind)) {
            Throwable thrown = null;
            try {
                misuse.body().run(fixture);
            } catch (Throwable t) {
                thrown = t;
            }
            String verdict = verdict(misuse, thrown);
            if (verdict != null) {
                return verdict;
            }
            fixture.checkConsistent();
            return null;
        } catch (Throwable t) {
            return "after the misuse: " + t;
        }
    }

    private static String verdict(MisuseCase misuse, Throwable thrown) {
        if (misuse.expected() == null) {
            return thrown == null ? null : "expected no exception, got " + thrown;
        }
        if (thrown == null) {
            return "accepted silently; expected " + misuse.expected().getSimpleName();
        }
        if (thrown.getClass() != misuse.expected()) {
            return "expected " + misuse.expected().getSimpleName() + ", got " + thrown;
        }
        String message = String.valueOf(thrown.getMessage());
        if (!message.contains(misuse.message())) {
            return "message lacks '" + misuse.message() + "': " + message;
        }
        return null;
    }

    /** Generic cases are named {@code <KIND>/<case>}; the others ({@code builder/...}, ...) get a MUTEX fixed pool. */
    static PoolKind kindOf(String name) {
        String prefix = name.substring(0, Math.max(0, name.indexOf('/')));
        for (PoolKind kind : PoolKind.values()) {
            if (kind.name().equals(prefix)) {
                return kind;
            }
        }
        return PoolKind.FIXED_MUTEX;
    }
}
