package org.nativepool;

import java.security.CodeSource;
import java.util.function.LongFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Names the Java code that allocated a block, for the native reports of
 * {@link SafetyLevel#FULL} pools, which know only sites set in C++: where a
 * report says "(no site set)" and the leak detector recorded the handle's
 * allocation stack, the report names the first frame outside nativepool.
 * Runs on report paths only.
 */
final class JavaSites {
    /** What the native tracking layer writes for a block allocated without a site. */
    static final String NO_SITE = "(no site set)";
    private static final Pattern LIVE_BLOCK_LINE = Pattern.compile("(?m)^(  0x([0-9a-f]+): .* at )"
            + Pattern.quote(NO_SITE) + "$");
    private static final CodeSource LIBRARY = JavaSites.class.getProtectionDomain().getCodeSource();

    private JavaSites() {
    }

    /** {@return "Java frame" of the first caller outside nativepool in {@code stack}, or null} */
    static String callerOf(Throwable stack) {
        if (stack == null) {
            return null;
        }
        for (StackTraceElement frame : stack.getStackTrace()) {
            if (!inLibrary(frame)) {
                return "Java " + frame;
            }
        }
        return null;
    }

    /**
     * {@return {@code report} with each live block's missing site replaced by its Java caller,
     * where {@code stackOf} knows the block's allocation stack}
     */
    static String fill(String report, LongFunction<Throwable> stackOf) {
        Matcher line = LIVE_BLOCK_LINE.matcher(report);
        StringBuilder filled = new StringBuilder(report.length());
        while (line.find()) {
            String caller = callerOf(stackOf.apply(Long.parseUnsignedLong(line.group(2), 16)));
            line.appendReplacement(filled, Matcher.quoteReplacement(line.group(1) + (caller != null ? caller : NO_SITE)));
        }
        line.appendTail(filled);
        return filled.toString();
    }

    private static boolean inLibrary(StackTraceElement frame) {
        if (!frame.getClassName().startsWith("org.nativepool.")) {
            return false;
        }
        try {
            Class<?> type = Class.forName(frame.getClassName(), false, JavaSites.class.getClassLoader());
            CodeSource source = type.getProtectionDomain().getCodeSource();
            return source == null ? LIBRARY == null : source.equals(LIBRARY);
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }
}
