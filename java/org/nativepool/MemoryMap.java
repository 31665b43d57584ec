package org.nativepool;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Draws a {@link MemorySnapshot} as a self-contained HTML page with an SVG
 * memory map, as Vulkan Memory Allocator's visualiser and PyTorch's
 * {@code _memory_viz} draw theirs: one band per region, to one scale, each
 * run of blocks a rectangle coloured by state (or by block size or age, to
 * choose on the page), free holes left light, the largest hole outlined and
 * marked, the figures and a legend above. Hovering a rectangle shows the
 * run's details. The page needs nothing but a browser: no network, no files
 * beside it.
 *
 * <pre>{@code
 * MemoryMap.write(pool.snapshot(), Path.of("pool.html"));
 * }</pre>
 */
public final class MemoryMap {
    /**
     * Snapshots with more runs are drawn {@link MemorySnapshot#sampled(int) sampled} to this many,
     * which browsers draw in a few seconds.
     */
    public static final int MAX_RUNS = 100_000;

    private static final int WIDTH = 1200;
    private static final int BAND = 26;
    private static final int GAP = 22;
    private static final int LEFT = 8;
    private static final String[] STATE_COLOURS = {"#d9534f", "#f4f4f4", "#5bc0de", "#f0ad4e", "#8e44ad"};
    /** Eight steps from light to dark, for sizes and ages by powers of two. */
    private static final String[] RAMP = {"#fff5eb", "#fee6ce", "#fdd0a2", "#fdae6b", "#fd8d3c", "#f16913",
        "#d94801", "#8c2d04"};

    private MemoryMap() {
    }

    /**
     * Writes the page of {@code snapshot} to {@code path}, replacing the file.
     *
     * @param snapshot what to draw; sampled first if it has more than {@link #MAX_RUNS} runs
     * @param path the HTML file to write
     * @throws IOException if the file cannot be written (a missing directory, no permission)
     */
    public static void write(MemorySnapshot snapshot, Path path) throws IOException {
        Objects.requireNonNull(snapshot, "snapshot");
        Objects.requireNonNull(path, "path");
        try (BufferedWriter out = Files.newBufferedWriter(path, StandardCharsets.UTF_8)) {
            out.write(render(snapshot));
        }
    }

    /**
     * {@return the page of {@code snapshot}, as {@link #write} writes it}
     *
     * @param snapshot what to draw
     */
    public static String render(MemorySnapshot snapshot) {
        MemorySnapshot drawn = snapshot.sampled(MAX_RUNS);
        MemorySnapshot.Figures f = drawn.figures();
        long widest = 1;
        for (MemorySnapshot.Region region : drawn.regions()) {
            widest = Math.max(widest, region.size());
        }
        double scale = (double) (WIDTH - 2 * LEFT) / widest;
        long[] largest = largestHole(drawn);
        StringBuilder svg = new StringBuilder();
        int height = drawn.regions().size() * (BAND + GAP) + GAP;
        svg.append(String.format(Locale.ROOT, "<svg id=\"map\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                + "height=\"%d\" viewBox=\"0 0 %d %d\">%n", WIDTH, height, WIDTH, height));
        List<MemorySnapshot.Region> regions = drawn.regions();
        for (int r = 0; r < regions.size(); r++) {
            MemorySnapshot.Region region = regions.get(r);
            int y = GAP + r * (BAND + GAP);
            svg.append(String.format(Locale.ROOT, "<g class=\"region\"><text x=\"%d\" y=\"%d\">region %d at 0x%x, "
                    + "%s</text>%n", LEFT, y - 6, r, region.base(), Sizes.format(region.size())));
            svg.append(String.format(Locale.ROOT, "<rect class=\"band\" x=\"%d\" y=\"%d\" width=\"%.2f\" "
                    + "height=\"%d\"/>%n", LEFT, y, region.size() * scale, BAND));
            for (MemorySnapshot.Run run : region.runs()) {
                double x = LEFT + run.offset() * scale;
                double w = Math.max(run.length() * scale, 0.25);
                svg.append(String.format(Locale.ROOT, "<rect class=\"run %s\" data-s=\"%d\" data-a=\"%d\" x=\"%.2f\" "
                        + "y=\"%d\" width=\"%.2f\" height=\"%d\"><title>%s</title></rect>%n",
                        run.state().letter(), sizeStep(run.blockSize()), ageStep(run.ageNanos()), x, y, w, BAND,
                        escape(describe(region, run))));
            }
            if (largest[0] == r) {
                MemorySnapshot.Run hole = region.runs().get((int) largest[1]);
                double x = LEFT + hole.offset() * scale;
                double w = Math.max(hole.length() * scale, 0.25);
                svg.append(String.format(Locale.ROOT, "<rect id=\"largest\" x=\"%.2f\" y=\"%d\" width=\"%.2f\" "
                        + "height=\"%d\"/><text class=\"mark\" x=\"%.2f\" y=\"%d\">&#9660; largest free block, "
                        + "%s</text>%n", x, y - 1, w, BAND + 2, x + w / 2, y + BAND / 2 + 4,
                        Sizes.format(hole.length())));
            }
            svg.append("</g>\n");
        }
        svg.append("</svg>\n");
        return page(snapshot, drawn, f, svg);
    }

    /** {@return {region index, run index} of the largest free run, or {-1, -1}} */
    private static long[] largestHole(MemorySnapshot snapshot) {
        long[] at = {-1, -1};
        long best = 0;
        List<MemorySnapshot.Region> regions = snapshot.regions();
        for (int r = 0; r < regions.size(); r++) {
            List<MemorySnapshot.Run> runs = regions.get(r).runs();
            for (int i = 0; i < runs.size(); i++) {
                MemorySnapshot.Run run = runs.get(i);
                if (run.state() == BlockState.FREE && run.length() > best) {
                    best = run.length();
                    at[0] = r;
                    at[1] = i;
                }
            }
        }
        return at;
    }

    /** {@return 0-7: the block size by powers of four from 16 bytes} */
    private static int sizeStep(long bytes) {
        int log2 = 63 - Long.numberOfLeadingZeros(Math.max(bytes, 1));
        return Math.min(7, Math.max(0, (log2 - 4) / 2));
    }

    /** {@return 0-7: the age by powers of ten from a millisecond; -1 when not recorded} */
    private static int ageStep(long nanos) {
        if (nanos < 0) {
            return -1;
        }
        int step = 0;
        for (long limit = 1_000_000; nanos >= limit && step < 7; limit *= 10) {
            step++;
        }
        return step;
    }

    private static String describe(MemorySnapshot.Region region, MemorySnapshot.Run run) {
        StringBuilder text = new StringBuilder();
        text.append(run.state().name().toLowerCase(Locale.ROOT)).append(String.format(Locale.ROOT,
                " at 0x%x (offset %d): ", region.base() + run.offset(), run.offset()));
        if (run.count() == 1) {
            text.append(Sizes.format(run.length()));
        } else {
            text.append(run.count()).append(" blocks, ").append(Sizes.format(run.length()));
        }
        if (run.requestedSize() != 0) {
            text.append(", requested ").append(Sizes.format(run.requestedSize()));
        }
        if (run.ageNanos() >= 0) {
            text.append(String.format(Locale.ROOT, ", age %.3f s", run.ageNanos() / 1e9));
        }
        if (run.site() != null) {
            text.append(", allocated at ").append(run.site());
        }
        return text.toString();
    }

    private static String page(MemorySnapshot original, MemorySnapshot drawn, MemorySnapshot.Figures f,
            CharSequence svg) {
        StringBuilder css = new StringBuilder();
        BlockState[] states = BlockState.values();
        for (int i = 0; i < states.length; i++) {
            css.append(String.format(Locale.ROOT, ".by-state .%s,.swatch.%s{fill:%s;background:%s}%n",
                    states[i].letter(), states[i].letter(), STATE_COLOURS[i], STATE_COLOURS[i]));
        }
        for (int i = 0; i < RAMP.length; i++) {
            css.append(String.format(Locale.ROOT, ".by-size .run[data-s=\"%d\"]{fill:%s}%n.by-age .run[data-a=\"%d\"]"
                    + "{fill:%s}%n", i, RAMP[i], i, RAMP[i]));
        }
        String title = escape("nativepool memory map: " + original.poolName());
        StringBuilder html = new StringBuilder(svg.length() + 8192);
        html.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").append(title)
                .append("</title>\n<style>\nbody{font:13px sans-serif;margin:16px;color:#222}\n")
                .append("table{border-collapse:collapse;margin:8px 0}td{padding:1px 12px 1px 0}\n")
                .append(".band{fill:#fff;stroke:#999;stroke-width:0.5}\n.run{stroke:none}\n")
                .append(".by-age .run[data-a=\"-1\"]:not(.F):not(.G){fill:#bbb}\n")
                .append("#largest{fill:none;stroke:#1a7f37;stroke-width:2}\n.mark{fill:#1a7f37;text-anchor:middle;")
                .append("font-size:11px}\ntext{font-size:11px}\n.swatch{display:inline-block;width:14px;")
                .append("height:14px;border:1px solid #999;vertical-align:middle;margin:0 4px 0 12px}\n")
                .append("#details{min-height:1.4em;font-family:monospace}\n").append(css)
                // After the ramps, at their specificity: holes and margins keep their colours.
                .append(".by-size .run.F,.by-age .run.F{fill:#f4f4f4}.by-size .run.G,.by-age .run.G{fill:#f0ad4e}\n")
                .append("</style></head>\n")
                .append("<body class=\"by-state\">\n<h1 style=\"font-size:17px\">").append(title).append("</h1>\n");
        html.append("<p>").append(escape(original.algorithm())).append(" pool, ")
                .append(original.memoryKind()).append(original.device() >= 0 ? " device " + original.device() : "")
                .append(original.blockSize() != 0 ? ", blocks of " + Sizes.format(original.blockSize()) : "")
                .append(", taken ").append(original.takenAt()).append(drawn.isSampled()
                        ? ", drawn sampled: " + drawn.runCount() + " of " + original.runCount() + " runs" : "")
                .append("</p>\n<table id=\"figures\">\n");
        row(html, "reserved", Sizes.format(f.reservedBytes()) + " in " + f.regions() + " region(s)");
        row(html, "live", f.liveBlocks() + " block(s), " + Sizes.format(f.liveBytes()));
        row(html, "free", f.freeBlocks() + " block(s), " + Sizes.format(f.freeBytes()) + " in " + f.holes()
                + " hole(s)");
        row(html, "largest free block", Sizes.format(f.largestHole()));
        row(html, "external fragmentation", String.format(Locale.ROOT, "%.3f", f.externalFragmentation())
                + (original.blockSize() != 0 ? " (fixed pool: every free block serves every request)" : ""));
        row(html, "cached", f.cachedBlocks() + " block(s), " + Sizes.format(f.cachedBytes()));
        row(html, "guard margins", Sizes.format(f.guardBytes()));
        html.append("</table>\n<p id=\"legend\">");
        for (BlockState state : states) {
            html.append("<span class=\"swatch ").append(state.letter()).append("\"></span>")
                    .append(state.name().toLowerCase(Locale.ROOT));
        }
        html.append("<span class=\"swatch\" style=\"border:2px solid #1a7f37\"></span>largest free block</p>\n")
                .append("<p>colour by: <label><input type=\"radio\" name=\"colour\" value=\"by-state\" checked> ")
                .append("state</label> <label><input type=\"radio\" name=\"colour\" value=\"by-size\"> block size ")
                .append("(light: 16 B, dark: 256 KiB and up)</label> <label><input type=\"radio\" name=\"colour\" ")
                .append("value=\"by-age\"> age (light: under 1 ms, dark: 10^4 s and up; grey: not recorded)")
                .append("</label></p>\n<p id=\"details\">hover a block for its details</p>\n").append(svg)
                .append("<script>\n")
                .append("document.querySelectorAll('input[name=colour]').forEach(function(input){\n")
                .append("  input.addEventListener('change',function(){document.body.className=input.value;});\n")
                .append("});\nvar details=document.getElementById('details');\n")
                .append("document.getElementById('map').addEventListener('mouseover',function(e){\n")
                .append("  var t=e.target.querySelector&&e.target.querySelector('title');\n")
                .append("  if(t){details.textContent=t.textContent;}\n});\n")
                // Last: tools (and the tests) that load the page see that its script ran to the end.
                .append("document.body.setAttribute('data-ready','yes');\n</script>\n</body></html>\n");
        return html.toString();
    }

    private static void row(StringBuilder html, String name, String value) {
        html.append("<tr><td>").append(escape(name)).append("</td><td>").append(escape(value)).append("</td></tr>\n");
    }

    private static String escape(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '&' -> out.append("&amp;");
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '"' -> out.append("&quot;");
                default -> out.append(c);
            }
        }
        return out.toString();
    }
}
