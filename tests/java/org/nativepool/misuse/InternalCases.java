package org.nativepool.misuse;

import static org.nativepool.misuse.MisuseCase.throwing;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.nativepool.InvalidArgumentException;
import org.nativepool.internal.CacheNative;
import org.nativepool.internal.GpuNative;
import org.nativepool.internal.NumaNative;
import org.nativepool.internal.PoolNative;
import org.nativepool.internal.SafetyNative;

/**
 * The public natives of {@code org.nativepool.internal}, called as any code on
 * the class path can: with handle 0, a made-up handle, a destroyed one, one
 * whose slot a new object reuses, and a live handle of another kind. Each is
 * an {@link InvalidArgumentException} saying which, never a crash; the object
 * that reuses a slot stays usable. Named {@code internal/<Class.method>/<bad handle>}.
 */
final class InternalCases {
    private InternalCases() {
    }

    /** A native call given the bad handle in the position under test, and live handles elsewhere. */
    @FunctionalInterface
    private interface Call {
        void run(Live live, long bad) throws Exception;
    }

    /** Live objects a call needs besides the bad handle; all destroyed when the case ends. */
    private static final class Live implements AutoCloseable {
        final long pool = fixedPool();
        final long manager = GpuNative.createManager(true, 1, 1L << 20, 1L << 16, 0, 1L << 16, 0, 0, "internal");
        final long stream = GpuNative.createStream(manager, 0);
        final long event = GpuNative.createEvent(manager, 0);

        @Override
        public void close() {
            GpuNative.destroyEvent(manager, event);
            GpuNative.destroyStream(manager, stream);
            GpuNative.destroyManager(manager);
            PoolNative.destroy(pool);
        }
    }

    private static long fixedPool() {
        return PoolNative.createFixed(64, 16, 64, 0, 0, 0, 0, 0, 0, 0, null, null);
    }

    /** Generation 1, kind pool, an index far past any slot the table made. */
    private static final long MADE_UP = 0x0000_0001_01ff_fffeL;

    private static Map<String, Call> poolCalls() {
        return Map.ofEntries(
                Map.entry("PoolNative.destroy", (l, h) -> PoolNative.destroy(h)),
                Map.entry("PoolNative.allocate", (l, h) -> PoolNative.allocate(h, 64, 16)),
                Map.entry("PoolNative.free", (l, h) -> PoolNative.free(h, PoolNative.allocate(l.pool, 64, 16))),
                Map.entry("PoolNative.allocateBatch", (l, h) -> PoolNative.allocateBatch(h, 64, 16, new long[4], 4)),
                Map.entry("PoolNative.freeBatch", (l, h) -> PoolNative.freeBatch(h, new long[1], 1)),
                Map.entry("PoolNative.trim", (l, h) -> PoolNative.trim(h)),
                Map.entry("PoolNative.validate", (l, h) -> PoolNative.validate(h)),
                Map.entry("PoolNative.stats", (l, h) -> PoolNative.stats(h, new long[PoolNative.STATS_FIELDS])),
                Map.entry("PoolNative.info", (l, h) -> PoolNative.info(h, new long[PoolNative.INFO_FIELDS])),
                Map.entry("PoolNative.backendName", (l, h) -> PoolNative.backendName(h)),
                Map.entry("PoolNative.wrap", (l, h) -> PoolNative.wrap(h, PoolNative.allocate(l.pool, 64, 16), 64)),
                Map.entry("CacheNative.open", (l, h) -> CacheNative.open(h)),
                Map.entry("SafetyNative.verify", (l, h) -> SafetyNative.verify(h)),
                Map.entry("SafetyNative.leakReport", (l, h) -> SafetyNative.leakReport(h)),
                Map.entry("NumaNative.nodeStats",
                        (l, h) -> NumaNative.nodeStats(h, 0, new long[PoolNative.STATS_FIELDS])),
                Map.entry("NumaNative.poolNodes", (l, h) -> NumaNative.poolNodes(h)));
    }

    private static Map<String, Call> cacheCalls() {
        return Map.of(
                "CacheNative.counter", (l, h) -> CacheNative.counter(h),
                "CacheNative.close", (l, h) -> CacheNative.close(h));
    }

    private static Map<String, Call> managerCalls() {
        long[] host = {0, 0, 0, -1, 0};
        return Map.ofEntries(
                Map.entry("GpuNative.destroyManager", (l, h) -> GpuNative.destroyManager(h)),
                Map.entry("GpuNative.deviceCount", (l, h) -> GpuNative.deviceCount(h)),
                Map.entry("GpuNative.runtimeName", (l, h) -> GpuNative.runtimeName(h)),
                Map.entry("GpuNative.selectDevice", (l, h) -> GpuNative.selectDevice(h, 0, 0)),
                Map.entry("GpuNative.peerAccess", (l, h) -> GpuNative.peerAccess(h, 0, 0)),
                Map.entry("GpuNative.createStream", (l, h) -> GpuNative.createStream(h, 0)),
                Map.entry("GpuNative.createEvent", (l, h) -> GpuNative.createEvent(h, 0)),
                Map.entry("GpuNative.allocate", (l, h) -> GpuNative.allocate(h, 0, 64, 0)),
                Map.entry("GpuNative.free", (l, h) -> GpuNative.free(h, 0, GpuNative.allocate(l.manager, 0, 64, 0), 0)),
                Map.entry("GpuNative.trim", (l, h) -> GpuNative.trim(h, 0)),
                Map.entry("GpuNative.copy", (l, h) -> GpuNative.copy(h, host, ByteBuffer.allocateDirect(8), host,
                        ByteBuffer.allocateDirect(8), 0, 0, true)),
                Map.entry("GpuNative.stats", (l, h) -> GpuNative.stats(h, 0, new long[GpuNative.DEVICE_STATS_FIELDS])),
                Map.entry("GpuNative.wrapPinned", (l, h) -> GpuNative.wrapPinned(h,
                        GpuNative.allocate(l.manager, GpuNative.PINNED, 64, 0), 64)));
    }

    private static Map<String, Call> streamCalls() {
        return Map.of(
                "GpuNative.destroyStream", (l, h) -> GpuNative.destroyStream(l.manager, h),
                "GpuNative.synchronizeStream", (l, h) -> GpuNative.synchronizeStream(l.manager, h),
                "GpuNative.recordEvent.stream", (l, h) -> GpuNative.recordEvent(l.manager, l.event, h),
                "GpuNative.waitEvent.stream", (l, h) -> GpuNative.waitEvent(l.manager, h, l.event),
                "GpuNative.allocate.stream", (l, h) -> GpuNative.allocate(l.manager, 0, 64, h));
    }

    private static Map<String, Call> eventCalls() {
        return Map.of(
                "GpuNative.destroyEvent", (l, h) -> GpuNative.destroyEvent(l.manager, h),
                "GpuNative.recordEvent", (l, h) -> GpuNative.recordEvent(l.manager, h, l.stream),
                "GpuNative.queryEvent", (l, h) -> GpuNative.queryEvent(l.manager, h),
                "GpuNative.synchronizeEvent", (l, h) -> GpuNative.synchronizeEvent(l.manager, h),
                "GpuNative.waitEvent", (l, h) -> GpuNative.waitEvent(l.manager, l.stream, h));
    }

    /**
     * A way to make a bad handle of one kind: given the live objects, makes the
     * handle and runs the call with it, then checks what must still work.
     */
    @FunctionalInterface
    private interface Bad {
        void run(Live live, Call call) throws Exception;
    }

    /** {@return the bad handles of one kind, by name, each with the message fragment it must produce} */
    private static List<Object[]> bads(Kind kind) {
        List<Object[]> bads = new ArrayList<>();
        if (kind.zeroIsBad) {
            bads.add(new Object[] {"zero", "handle 0 names no", (Bad) (l, c) -> c.run(l, 0L)});
        }
        bads.add(new Object[] {"made-up", "is not a " + kind.noun + " handle nativepool issued",
                (Bad) (l, c) -> c.run(l, MADE_UP)});
        bads.add(new Object[] {"destroyed", "was destroyed", (Bad) (l, c) -> {
            long stale = kind.create(l);
            kind.destroy(l, stale);
            c.run(l, stale);
        }});
        bads.add(new Object[] {"reused-slot", "was destroyed", (Bad) (l, c) -> {
            long stale = kind.create(l);
            kind.destroy(l, stale);
            long reuser = kind.create(l); // the table hands the freed slot out again, one generation on
            try {
                c.run(l, stale);
            } finally {
                kind.check(l, reuser);
                kind.destroy(l, reuser);
            }
        }});
        bads.add(new Object[] {"other-kind", "not a " + kind.noun + " handle",
                (Bad) (l, c) -> c.run(l, kind.otherKind(l))});
        return bads;
    }

    /** The kinds of handle, how to make and end one, and what a live one must still do. */
    private enum Kind {
        POOL("pool", true) {
            @Override
            long create(Live l) {
                return fixedPool();
            }

            @Override
            void destroy(Live l, long h) {
                PoolNative.destroy(h);
            }

            @Override
            void check(Live l, long h) {
                PoolNative.free(h, PoolNative.allocate(h, 64, 16));
                PoolNative.validate(h);
            }

            @Override
            long otherKind(Live l) {
                return l.manager;
            }
        },
        CACHE("block cache", true) {
            @Override
            long create(Live l) {
                return CacheNative.open(l.pool);
            }

            @Override
            void destroy(Live l, long h) {
                CacheNative.close(h);
            }

            @Override
            void check(Live l, long h) {
                CacheNative.counter(h).getLong(0);
            }

            @Override
            long otherKind(Live l) {
                return l.pool;
            }
        },
        MANAGER("device manager", true) {
            @Override
            long create(Live l) {
                return GpuNative.createManager(true, 1, 1L << 20, 1L << 16, 0, 1L << 16, 0, 0, "internal");
            }

            @Override
            void destroy(Live l, long h) {
                GpuNative.destroyManager(h);
            }

            @Override
            void check(Live l, long h) {
                GpuNative.free(h, 0, GpuNative.allocate(h, 0, 64, 0), 0);
            }

            @Override
            long otherKind(Live l) {
                return l.pool;
            }
        },
        // Stream 0 is "no stream" for allocate, free and copy, so zero is not a bad stream there.
        STREAM("stream", false) {
            @Override
            long create(Live l) {
                return GpuNative.createStream(l.manager, 0);
            }

            @Override
            void destroy(Live l, long h) {
                GpuNative.destroyStream(l.manager, h);
            }

            @Override
            void check(Live l, long h) {
                GpuNative.synchronizeStream(l.manager, h);
            }

            @Override
            long otherKind(Live l) {
                return l.event;
            }
        },
        EVENT("event", true) {
            @Override
            long create(Live l) {
                return GpuNative.createEvent(l.manager, 0);
            }

            @Override
            void destroy(Live l, long h) {
                GpuNative.destroyEvent(l.manager, h);
            }

            @Override
            void check(Live l, long h) {
                GpuNative.recordEvent(l.manager, h, l.stream);
                GpuNative.synchronizeEvent(l.manager, h);
            }

            @Override
            long otherKind(Live l) {
                return l.stream;
            }
        };

        final String noun;
        final boolean zeroIsBad;

        Kind(String noun, boolean zeroIsBad) {
            this.noun = noun;
            this.zeroIsBad = zeroIsBad;
        }

        abstract long create(Live l);

        abstract void destroy(Live l, long h);

        abstract void check(Live l, long h);

        abstract long otherKind(Live l);
    }

    static List<MisuseCase> all() {
        List<MisuseCase> cases = new ArrayList<>();
        add(cases, Kind.POOL, poolCalls());
        add(cases, Kind.CACHE, cacheCalls());
        add(cases, Kind.MANAGER, managerCalls());
        add(cases, Kind.STREAM, streamCalls());
        add(cases, Kind.EVENT, eventCalls());
        cases.addAll(specialCases());
        return cases;
    }

    private static void add(List<MisuseCase> cases, Kind kind, Map<String, Call> calls) {
        calls.keySet().stream().sorted().forEach(name -> {
            Call call = calls.get(name);
            for (Object[] bad : bads(kind)) {
                cases.add(throwing("internal/" + name + "/" + bad[0], InvalidArgumentException.class,
                        (String) bad[1], f -> {
                            try (Live live = new Live()) {
                                ((Bad) bad[2]).run(live, call);
                            }
                        }));
            }
        });
    }

    /** Checks beyond the handle: what a live handle still may not reach. */
    private static List<MisuseCase> specialCases() {
        return List.of(
                throwing("internal/PoolNative.wrap/address-outside-the-pool", InvalidArgumentException.class,
                        "no view of it", f -> {
                            try (Live l = new Live()) {
                                PoolNative.wrap(l.pool, 8, 8);
                            }
                        }),
                throwing("internal/PoolNative.wrap/range-past-the-region", InvalidArgumentException.class,
                        "no view of it", f -> {
                            try (Live l = new Live()) {
                                PoolNative.wrap(l.pool, PoolNative.allocate(l.pool, 64, 16), 1L << 40);
                            }
                        }),
                throwing("internal/PoolNative.wrap/negative-size", InvalidArgumentException.class, "view size",
                        f -> {
                            try (Live l = new Live()) {
                                PoolNative.wrap(l.pool, PoolNative.allocate(l.pool, 64, 16), -1);
                            }
                        }),
                throwing("internal/GpuNative.wrapPinned/freed-buffer", InvalidArgumentException.class,
                        "no live pinned buffer", f -> {
                            try (Live l = new Live()) {
                                long buffer = GpuNative.allocate(l.manager, GpuNative.PINNED, 64, 0);
                                GpuNative.free(l.manager, GpuNative.PINNED, buffer, 0);
                                GpuNative.wrapPinned(l.manager, buffer, 64);
                            }
                        }),
                throwing("internal/GpuNative.wrapPinned/larger-than-the-buffer", InvalidArgumentException.class,
                        "no live pinned buffer", f -> {
                            try (Live l = new Live()) {
                                GpuNative.wrapPinned(l.manager, GpuNative.allocate(l.manager, GpuNative.PINNED, 64, 0),
                                        1L << 20);
                            }
                        }),
                throwing("internal/GpuNative.copy/made-up-device-address", InvalidArgumentException.class,
                        "is no live", f -> {
                            try (Live l = new Live()) {
                                long[] bogus = {8, 64, 3, 0, 0};
                                long[] buffer = {GpuNative.allocate(l.manager, 0, 64, 0), 64, 3, 0, 0};
                                GpuNative.copy(l.manager, buffer, null, bogus, null, 64, 0, true);
                            }
                        }),
                throwing("internal/GpuNative.copy/made-up-host-address", InvalidArgumentException.class,
                        "must come as a direct ByteBuffer", f -> {
                            try (Live l = new Live()) {
                                long[] bogus = {8, 64, 0, -1, 0}; // pageable host memory at address 8
                                long[] device = {GpuNative.allocate(l.manager, 0, 64, 0), 64, 3, 0, 0};
                                GpuNative.copy(l.manager, device, null, bogus, null, 64, 0, true);
                            }
                        }),
                throwing("internal/GpuNative.copy/host-size-past-its-buffer", InvalidArgumentException.class,
                        "runs past the end of the 64-byte", f -> {
                            try (Live l = new Live()) {
                                // The descriptor claims 4 KiB at the buffer; the glue takes its 64 bytes.
                                ByteBuffer small = ByteBuffer.allocateDirect(64);
                                long[] claimed = {GpuNative.directAddress(small), 4096, 0, -1, 0};
                                long[] device = {GpuNative.allocate(l.manager, 0, 4096, 0), 4096, 3, 0, 0};
                                GpuNative.copy(l.manager, device, null, claimed, small, 4096, 0, true);
                            }
                        }),
                throwing("internal/GpuNative.synchronizeStream/stream-of-another-manager",
                        InvalidArgumentException.class, "belongs to handle", f -> {
                            try (Live l = new Live(); Live other = new Live()) {
                                GpuNative.synchronizeStream(l.manager, other.stream);
                            }
                        }),
                throwing("internal/GpuNative.synchronizeStream/zero", InvalidArgumentException.class,
                        "stream handle 0 names no stream", f -> {
                            try (Live l = new Live()) {
                                GpuNative.synchronizeStream(l.manager, 0);
                            }
                        }),
                throwing("internal/GpuNative.directAddress/null", InvalidArgumentException.class, "null",
                        f -> GpuNative.directAddress(null)));
    }
}
