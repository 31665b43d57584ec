package org.nativepool.misuse;

/**
 * One entry of the bad-input catalogue: a misuse, the exception it must
 * raise (or none, for calls documented as no-ops), a fragment its message
 * must contain, and the pools it runs against. The runner checks afterwards
 * that every pool of the fixture is still consistent and usable.
 *
 * @param name unique, stable name (the runner is told cases by name)
 * @param expected the exact exception class, or null when the call must succeed
 * @param message a fragment of the message, or "" for any message
 * @param body the misuse
 */
record MisuseCase(String name, Class<? extends Throwable> expected, String message, Body body) {
    /** The misuse itself, given a fresh fixture it may use up. */
    @FunctionalInterface
    interface Body {
        void run(Fixture fixture) throws Exception;
    }

    static MisuseCase throwing(String name, Class<? extends Throwable> expected, String message, Body body) {
        return new MisuseCase(name, expected, message, body);
    }

    static MisuseCase noOp(String name, Body body) {
        return new MisuseCase(name, null, "", body);
    }
}
