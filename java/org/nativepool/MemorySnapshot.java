package org.nativepool;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * A pool's memory at one moment: its regions (chunks or arenas) in address
 * order, and in each the blocks in address order as runs of equal blocks,
 * with their {@link BlockState}. Taken by {@link Pool#snapshot()} (and
 * {@code DeviceManager.snapshot} for device memory), drawn by
 * {@link MemoryMap}, written and read as JSON by {@link #toJson()} and
 * {@link #fromJson(CharSequence)} (schema: docs/observability.md).
 *
 * <p>Runs keep large pools small: adjacent blocks of one state and size that
 * carry no detail of their own are one run, so a pool's free space costs one
 * entry per hole, not per block. Where the safety level records them, a live
 * block carries its requested size ({@link SafetyLevel#CANARIES}) and its age
 * and allocation site ({@link SafetyLevel#FULL}), and guard margins are runs
 * of their own. Immutable.
 */
public final class MemorySnapshot {
    /** The version of the JSON form this class writes, and the only one it reads. */
    public static final int SCHEMA_VERSION = 1;
    /** The value of the JSON form's {@code "format"} field. */
    public static final String FORMAT = "nativepool-memory-snapshot";

    /**
     * {@code count} adjacent blocks of one state, {@code length} bytes from
     * {@code offset} on in their region.
     *
     * @param offset from the region's base
     * @param length bytes of the whole run
     * @param count blocks in the run; each is {@code length / count} bytes, except in a
     *     {@link #sampled(int) sampled} snapshot, where a merged run's blocks may differ in size
     * @param state what the blocks are
     * @param requestedSize bytes the user asked for (a single live block at
     *     {@link SafetyLevel#CANARIES} and above); 0 when not recorded
     * @param ageNanos nanoseconds since the block was allocated ({@link SafetyLevel#FULL}); -1 when
     *     not recorded
     * @param site where the block was allocated ({@link SafetyLevel#FULL}); null when not recorded
     */
    public record Run(long offset, long length, long count, BlockState state, long requestedSize, long ageNanos,
            String site) {
        /**
         * Checks the figures: {@code offset >= 0}, {@code length >= count >= 1}, the details in range.
         *
         * @param offset from the region's base
         * @param length bytes of the whole run
         * @param count blocks in the run
         * @param state what the blocks are
         * @param requestedSize bytes the user asked for; 0 when not recorded
         * @param ageNanos nanoseconds since allocation; -1 when not recorded
         * @param site the allocation site; null when not recorded
         * @throws InvalidArgumentException for a figure out of range
         */
        public Run {
            Objects.requireNonNull(state, "state");
            if (offset < 0 || count < 1 || length < count || requestedSize < 0 || ageNanos < -1) {
                throw new InvalidArgumentException(String.format(Locale.ROOT,
                        "bad run: offset %d, length %d, count %d, requested %d, age %d", offset, length, count,
                        requestedSize, ageNanos));
            }
        }

        /** {@return the bytes of each block: {@code length / count}} */
        public long blockSize() {
            return length / count;
        }

        /** {@return the offset just past the run} */
        public long end() {
            return offset + length;
        }
    }

    /**
     * One chunk or arena: {@code size} bytes at {@code base}, tiled exactly by its runs.
     *
     * @param base the region's address
     * @param size its bytes
     * @param runs its runs in address order, from offset 0 to {@code size} without a gap
     */
    public record Region(long base, long size, List<Run> runs) {
        /**
         * Copies the runs and checks that they tile the region.
         *
         * @param base the region's address
         * @param size its bytes
         * @param runs its runs in address order
         * @throws InvalidArgumentException if the runs leave a gap, overlap or pass the end
         */
        public Region {
            runs = List.copyOf(runs);
            long at = 0;
            for (Run run : runs) {
                if (run.offset() != at) {
                    throw new InvalidArgumentException(String.format(Locale.ROOT,
                            "region at 0x%x: a run starts at offset %d where %d was expected", base, run.offset(), at));
                }
                at = run.end();
            }
            if (at != size) {
                throw new InvalidArgumentException(String.format(Locale.ROOT,
                        "region at 0x%x: runs cover %d of its %d bytes", base, at, size));
            }
        }
    }

    /**
     * Figures of the whole snapshot, added up from its runs.
     *
     * @param regions regions
     * @param reservedBytes bytes of all regions
     * @param liveBlocks live blocks
     * @param liveBytes bytes of live blocks (as the pool counts them: strides or rounded sizes)
     * @param freeBlocks free blocks
     * @param freeBytes bytes of free blocks
     * @param holes stretches of free memory between other blocks (adjacent free runs are one)
     * @param largestHole the bytes of the largest free run
     * @param cachedBlocks cached blocks
     * @param cachedBytes bytes of cached blocks
     * @param guardBytes bytes of guard margins
     * @param externalFragmentation {@code 1 - largestHole / freeBytes} for variable-size pools; 0 for
     *     fixed pools, whose every free block serves every request, and when nothing is free
     */
    public record Figures(long regions, long reservedBytes, long liveBlocks, long liveBytes, long freeBlocks,
            long freeBytes, long holes, long largestHole, long cachedBlocks, long cachedBytes, long guardBytes,
            double externalFragmentation) {
    }

    private final String poolName;
    private final String algorithm;
    private final MemoryKind memoryKind;
    private final int device;
    private final long blockSize;
    private final Instant takenAt;
    private final boolean sampled;
    private final List<Region> regions;
    private final Figures figures;

    /**
     * A snapshot from its parts: what {@link Pool#snapshot()} and {@link #fromJson(CharSequence)} build.
     *
     * @param poolName the pool's name
     * @param algorithm {@code "fixed"}, {@code "variable"}, {@code "device"} or {@code "persistent"}
     * @param memoryKind where the memory lives
     * @param device the device index for device memory; -1 otherwise
     * @param blockSize a fixed pool's block size; 0 otherwise
     * @param takenAt when it was taken
     * @param sampled whether runs were merged by {@link #sampled(int)}
     * @param regions the regions, in address order, without overlap
     * @throws InvalidArgumentException if regions overlap or are out of order, or a figure is negative
     */
    public MemorySnapshot(String poolName, String algorithm, MemoryKind memoryKind, int device, long blockSize,
            Instant takenAt, boolean sampled, List<Region> regions) {
        this.poolName = Objects.requireNonNull(poolName, "poolName");
        this.algorithm = Objects.requireNonNull(algorithm, "algorithm");
        this.memoryKind = Objects.requireNonNull(memoryKind, "memoryKind");
        this.takenAt = Objects.requireNonNull(takenAt, "takenAt");
        if (device < -1 || blockSize < 0) {
            throw new InvalidArgumentException("bad snapshot: device " + device + ", block size " + blockSize);
        }
        this.device = device;
        this.blockSize = blockSize;
        this.sampled = sampled;
        this.regions = List.copyOf(regions);
        for (int i = 1; i < this.regions.size(); i++) {
            Region before = this.regions.get(i - 1);
            if (Long.compareUnsigned(before.base() + before.size(), this.regions.get(i).base()) > 0) {
                throw new InvalidArgumentException(String.format(Locale.ROOT,
                        "regions %d and %d overlap or are out of address order", i - 1, i));
            }
        }
        this.figures = addUp();
    }

    private Figures addUp() {
        long reserved = 0;
        long[] blocks = new long[BlockState.values().length];
        long[] bytes = new long[blocks.length];
        long holes = 0;
        long largestHole = 0;
        for (Region region : regions) {
            reserved += region.size();
            // A hole is a stretch of free memory: adjacent free runs (a slab's free
            // blocks next to its free tail or to free arena space) are one hole.
            long holeEnd = -1;
            long hole = 0;
            for (Run run : region.runs()) {
                blocks[run.state().ordinal()] += run.count();
                bytes[run.state().ordinal()] += run.length();
                if (run.state() == BlockState.FREE) {
                    hole = run.offset() == holeEnd ? hole + run.length() : run.length();
                    holes += run.offset() == holeEnd ? 0 : 1;
                    holeEnd = run.offset() + run.length();
                    largestHole = Math.max(largestHole, hole);
                }
            }
        }
        long free = bytes[BlockState.FREE.ordinal()];
        double fragmentation = blockSize != 0 || free == 0 ? 0.0 : 1.0 - (double) largestHole / free;
        // Quarantined blocks are live blocks whose handle closed under a view: live, as PoolStats counts them.
        int live = BlockState.LIVE.ordinal();
        int quarantined = BlockState.QUARANTINED.ordinal();
        return new Figures(regions.size(), reserved, blocks[live] + blocks[quarantined],
                bytes[live] + bytes[quarantined], blocks[BlockState.FREE.ordinal()], free, holes, largestHole,
                blocks[BlockState.CACHED.ordinal()], bytes[BlockState.CACHED.ordinal()],
                bytes[BlockState.GUARD.ordinal()], fragmentation);
    }

    /** {@return the name of the pool it was taken of} */
    public String poolName() {
        return poolName;
    }

    /** {@return {@code "fixed"}, {@code "variable"} or {@code "device"}} */
    public String algorithm() {
        return algorithm;
    }

    /** {@return where the memory lives} */
    public MemoryKind memoryKind() {
        return memoryKind;
    }

    /** {@return the device index for device memory; -1 otherwise} */
    public int device() {
        return device;
    }

    /** {@return a fixed pool's block size; 0 for other pools} */
    public long blockSize() {
        return blockSize;
    }

    /** {@return when the snapshot was taken} */
    public Instant takenAt() {
        return takenAt;
    }

    /** {@return whether runs were merged by {@link #sampled(int)}} */
    public boolean isSampled() {
        return sampled;
    }

    /** {@return the regions, in address order} */
    public List<Region> regions() {
        return regions;
    }

    /** {@return the figures added up from the runs} */
    public Figures figures() {
        return figures;
    }

    /** {@return the number of runs in all regions} */
    public long runCount() {
        long count = 0;
        for (Region region : regions) {
            count += region.runs().size();
        }
        return count;
    }

    /**
     * A smaller snapshot for pools of many blocks: when this one has more
     * than {@code maxRuns} runs, neighbouring runs of one state merge
     * whatever their sizes and details, and guard margins merge into their
     * live block, so that live memory between two holes is one run. A merged
     * run keeps the details of its first block as the sample; the counts of
     * blocks stay exact and every hole stays exactly where and as large as it
     * was, so the free space and its fragmentation read the same (a snapshot
     * with more holes than {@code maxRuns} keeps them all). Margins count as
     * live bytes once merged.
     *
     * @param maxRuns the most runs wanted; at least 1
     * @return this snapshot if it has at most {@code maxRuns} runs, else the merged one
     * @throws InvalidArgumentException if {@code maxRuns} is below 1
     */
    public MemorySnapshot sampled(int maxRuns) {
        if (maxRuns < 1) {
            throw new InvalidArgumentException("maxRuns must be at least 1, not " + maxRuns);
        }
        if (runCount() <= maxRuns) {
            return this;
        }
        List<Region> merged = new ArrayList<>(regions.size());
        for (Region region : regions) {
            merged.add(new Region(region.base(), region.size(), merge(region.runs())));
        }
        return new MemorySnapshot(poolName, algorithm, memoryKind, device, blockSize, takenAt, true, merged);
    }

    private static List<Run> merge(List<Run> runs) {
        List<Run> out = new ArrayList<>();
        Run guard = null; // margins waiting for the live block they lead
        for (Run run : runs) {
            Run last = out.isEmpty() ? null : out.get(out.size() - 1);
            if (run.state() == BlockState.GUARD) {
                if (last != null && last.state() == BlockState.LIVE && guard == null) {
                    out.set(out.size() - 1, grow(last, run.length(), 0));
                } else {
                    guard = guard == null ? run : grow(guard, run.length(), 0);
                }
                continue;
            }
            if (guard != null) {
                if (run.state() == BlockState.LIVE) {
                    run = new Run(guard.offset(), guard.length() + run.length(), run.count(), run.state(),
                            run.requestedSize(), run.ageNanos(), run.site());
                } else {
                    out.add(guard);
                    last = guard;
                }
                guard = null;
            }
            if (last != null && last.state() == run.state()) {
                out.set(out.size() - 1, grow(last, run.length(), run.count()));
            } else {
                out.add(run);
            }
        }
        if (guard != null) {
            out.add(guard);
        }
        return out;
    }

    private static Run grow(Run run, long length, long count) {
        return new Run(run.offset(), run.length() + length, run.count() + count, run.state(), run.requestedSize(),
                run.ageNanos(), run.site());
    }

    // ---- JSON ---------------------------------------------------------------

    /**
     * {@return the snapshot as a JSON document of schema version {@link #SCHEMA_VERSION}} One
     * line; runs are arrays ({@code [offset, length, count, state]}, and
     * {@code [..., requested, ageNanos, siteIndex]} when a detail is recorded), and allocation
     * sites are listed once and referred to by index. docs/observability.md describes every field.
     */
    public String toJson() {
        StringBuilder out = new StringBuilder(64 + 24 * (int) Math.min(runCount(), 1 << 26));
        Map<String, Integer> siteIndex = new LinkedHashMap<>();
        for (Region region : regions) {
            for (Run run : region.runs()) {
                if (run.site() != null) {
                    siteIndex.putIfAbsent(run.site(), siteIndex.size());
                }
            }
        }
        out.append("{\"format\":\"").append(FORMAT).append("\",\"version\":").append(SCHEMA_VERSION);
        out.append(",\"pool\":{\"name\":");
        quote(out, poolName);
        out.append(",\"algorithm\":");
        quote(out, algorithm);
        out.append(",\"memoryKind\":\"").append(memoryKind.name()).append("\",\"device\":").append(device)
                .append(",\"blockSize\":").append(blockSize).append('}');
        out.append(",\"takenAt\":");
        quote(out, takenAt.toString());
        out.append(",\"sampled\":").append(sampled);
        Figures f = figures;
        out.append(",\"figures\":{\"regions\":").append(f.regions()).append(",\"reservedBytes\":")
                .append(f.reservedBytes()).append(",\"liveBlocks\":").append(f.liveBlocks())
                .append(",\"liveBytes\":").append(f.liveBytes()).append(",\"freeBlocks\":").append(f.freeBlocks())
                .append(",\"freeBytes\":").append(f.freeBytes()).append(",\"holes\":").append(f.holes())
                .append(",\"largestHole\":").append(f.largestHole()).append(",\"cachedBlocks\":")
                .append(f.cachedBlocks()).append(",\"cachedBytes\":").append(f.cachedBytes())
                .append(",\"guardBytes\":").append(f.guardBytes()).append(",\"externalFragmentation\":")
                .append(f.externalFragmentation()).append('}');
        out.append(",\"sites\":[");
        boolean first = true;
        for (String site : siteIndex.keySet()) {
            if (!first) {
                out.append(',');
            }
            first = false;
            quote(out, site);
        }
        out.append("],\"regions\":[");
        for (int r = 0; r < regions.size(); r++) {
            Region region = regions.get(r);
            out.append(r == 0 ? "" : ",").append("{\"base\":").append(region.base()).append(",\"size\":")
                    .append(region.size()).append(",\"runs\":[");
            for (int i = 0; i < region.runs().size(); i++) {
                Run run = region.runs().get(i);
                out.append(i == 0 ? "[" : ",[").append(run.offset()).append(',').append(run.length()).append(',')
                        .append(run.count()).append(",\"").append(run.state().letter()).append('"');
                if (run.requestedSize() != 0 || run.ageNanos() != -1 || run.site() != null) {
                    out.append(',').append(run.requestedSize()).append(',').append(run.ageNanos()).append(',')
                            .append(run.site() == null ? -1 : siteIndex.get(run.site()));
                }
                out.append(']');
            }
            out.append("]}");
        }
        return out.append("]}").toString();
    }

    private static void quote(StringBuilder out, String text) {
        out.append('"');
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    /**
     * Reads a document {@link #toJson()} wrote. The {@code figures} it
     * carries are checked against the runs, so an edited document whose
     * figures no longer add up is refused.
     *
     * @param json the document
     * @return the snapshot it describes
     * @throws SnapshotVersionException if the document is of another schema version
     * @throws SnapshotFormatException if it is malformed JSON, not a memory snapshot, or
     *     inconsistent (runs that do not tile their region, figures that do not add up)
     */
    public static MemorySnapshot fromJson(CharSequence json) {
        Objects.requireNonNull(json, "json");
        Map<String, Object> doc = object(JsonReader.parse(json), "the document");
        if (!FORMAT.equals(doc.get("format"))) {
            throw new SnapshotFormatException("not a memory snapshot: \"format\" is " + describe(doc.get("format"))
                    + ", not \"" + FORMAT + "\"");
        }
        long version = number(doc, "version", "the document");
        if (version != SCHEMA_VERSION) {
            throw new SnapshotVersionException("memory snapshot of schema version " + version
                    + "; this library reads version " + SCHEMA_VERSION, version);
        }
        Map<String, Object> pool = object(doc.get("pool"), "\"pool\"");
        List<Object> sites = list(doc.get("sites"), "\"sites\"");
        List<Object> regionList = list(doc.get("regions"), "\"regions\"");
        List<Region> regions = new ArrayList<>(regionList.size());
        MemorySnapshot snapshot;
        try {
            for (int r = 0; r < regionList.size(); r++) {
                String where = "regions[" + r + "]";
                Map<String, Object> region = object(regionList.get(r), where);
                List<Object> runList = list(region.get("runs"), where + ".runs");
                List<Run> runs = new ArrayList<>(runList.size());
                for (int i = 0; i < runList.size(); i++) {
                    runs.add(run(list(runList.get(i), where + ".runs[" + i + "]"), sites, where + ".runs[" + i + "]"));
                }
                regions.add(new Region(number(region, "base", where), number(region, "size", where), runs));
            }
            MemoryKind kind;
            try {
                kind = MemoryKind.valueOf(text(pool, "memoryKind"));
            } catch (IllegalArgumentException unknown) {
                throw new SnapshotFormatException("\"pool\".memoryKind " + describe(pool.get("memoryKind"))
                        + " is no MemoryKind");
            }
            Instant takenAt;
            try {
                takenAt = Instant.parse(text(doc, "takenAt"));
            } catch (java.time.format.DateTimeParseException bad) {
                throw new SnapshotFormatException("\"takenAt\" is no ISO-8601 instant: " + bad.getMessage());
            }
            if (!(doc.get("sampled") instanceof Boolean sampled)) {
                throw new SnapshotFormatException("\"sampled\" must be true or false");
            }
            snapshot = new MemorySnapshot(text(pool, "name"), text(pool, "algorithm"), kind,
                    Math.toIntExact(number(pool, "device", "\"pool\"")), number(pool, "blockSize", "\"pool\""),
                    takenAt, sampled, regions);
        } catch (InvalidArgumentException | ArithmeticException inconsistent) {
            throw new SnapshotFormatException("inconsistent memory snapshot: " + inconsistent.getMessage());
        }
        checkFigures(object(doc.get("figures"), "\"figures\""), snapshot.figures());
        return snapshot;
    }

    private static Run run(List<Object> fields, List<Object> sites, String where) {
        if (fields.size() != 4 && fields.size() != 7) {
            throw new SnapshotFormatException(where + " has " + fields.size() + " fields, not 4 or 7");
        }
        if (!(fields.get(3) instanceof String letter)) {
            throw new SnapshotFormatException(where + "[3], the state, must be a string");
        }
        long requested = 0;
        long age = -1;
        String site = null;
        if (fields.size() == 7) {
            requested = integer(fields.get(4), where + "[4]");
            age = integer(fields.get(5), where + "[5]");
            long index = integer(fields.get(6), where + "[6]");
            if (index < -1 || index >= sites.size() || (index >= 0 && !(sites.get((int) index) instanceof String))) {
                throw new SnapshotFormatException(where + "[6], the site index " + index + ", names no site");
            }
            site = index < 0 ? null : (String) sites.get((int) index);
        }
        return new Run(integer(fields.get(0), where + "[0]"), integer(fields.get(1), where + "[1]"),
                integer(fields.get(2), where + "[2]"), BlockState.fromLetter(letter), requested, age, site);
    }

    private static void checkFigures(Map<String, Object> written, Figures actual) {
        long[][] pairs = {
            {number(written, "regions", "\"figures\""), actual.regions()},
            {number(written, "reservedBytes", "\"figures\""), actual.reservedBytes()},
            {number(written, "liveBlocks", "\"figures\""), actual.liveBlocks()},
            {number(written, "liveBytes", "\"figures\""), actual.liveBytes()},
            {number(written, "freeBlocks", "\"figures\""), actual.freeBlocks()},
            {number(written, "freeBytes", "\"figures\""), actual.freeBytes()},
            {number(written, "holes", "\"figures\""), actual.holes()},
            {number(written, "largestHole", "\"figures\""), actual.largestHole()},
            {number(written, "cachedBlocks", "\"figures\""), actual.cachedBlocks()},
            {number(written, "cachedBytes", "\"figures\""), actual.cachedBytes()},
            {number(written, "guardBytes", "\"figures\""), actual.guardBytes()},
        };
        String[] names = {"regions", "reservedBytes", "liveBlocks", "liveBytes", "freeBlocks", "freeBytes", "holes",
            "largestHole", "cachedBlocks", "cachedBytes", "guardBytes"};
        for (int i = 0; i < pairs.length; i++) {
            if (pairs[i][0] != pairs[i][1]) {
                throw new SnapshotFormatException("inconsistent memory snapshot: \"figures\"." + names[i] + " is "
                        + pairs[i][0] + " but the runs add up to " + pairs[i][1]);
            }
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(Object value, String where) {
        if (value instanceof Map<?, ?> map) {
            return (Map<String, Object>) map;
        }
        throw new SnapshotFormatException(where + " must be an object, not " + describe(value));
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object value, String where) {
        if (value instanceof List<?> items) {
            return (List<Object>) items;
        }
        throw new SnapshotFormatException(where + " must be an array, not " + describe(value));
    }

    private static long number(Map<String, Object> map, String field, String where) {
        return integer(map.get(field), where + "." + field);
    }

    private static long integer(Object value, String where) {
        if (value instanceof Long n) {
            return n;
        }
        throw new SnapshotFormatException(where + " must be an integer, not " + describe(value));
    }

    private static String text(Map<String, Object> map, String field) {
        if (map.get(field) instanceof String s) {
            return s;
        }
        throw new SnapshotFormatException("\"" + field + "\" must be a string, not " + describe(map.get(field)));
    }

    private static String describe(Object value) {
        return value == null ? "missing or null" : value instanceof String s ? "\"" + s + "\"" : value.toString();
    }

    @Override
    public String toString() {
        Figures f = figures;
        return String.format(Locale.ROOT,
                "MemorySnapshot[%s, %s, %d regions / %s: live %d blocks / %s, free %s in %d holes (largest %s), "
                        + "cached %d, fragmentation %.3f%s]",
                poolName, algorithm, f.regions(), Sizes.format(f.reservedBytes()), f.liveBlocks(),
                Sizes.format(f.liveBytes()), Sizes.format(f.freeBytes()), f.holes(), Sizes.format(f.largestHole()),
                f.cachedBlocks(), f.externalFragmentation(), sampled ? ", sampled" : "");
    }
}
