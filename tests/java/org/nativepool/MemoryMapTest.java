package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link MemoryMap}'s page: its SVG, and the page as headless chromium loads and draws it. */
class MemoryMapTest {
    private static final Pattern RUN = Pattern.compile("<rect class=\"run ([LFCG])\"");

    @TempDir
    Path directory;

    @Test
    void thePageHasARectanglePerRunTheLargestHoleAndTheFigures() throws IOException {
        MemorySnapshot snapshot = fragmentedSnapshot();
        String page = MemoryMap.render(snapshot);
        assertEquals(snapshot.runCount(), count(page), "one rectangle per run");
        assertEquals(snapshot.regions().size(), page.split("<rect class=\"band\"", -1).length - 1);
        assertTrue(page.contains("id=\"largest\""), "the largest free block is marked");
        assertTrue(page.contains(Sizes.format(snapshot.figures().largestHole())), "its size is written");
        assertTrue(page.contains(String.format(java.util.Locale.ROOT, "%.3f",
                snapshot.figures().externalFragmentation())), "the fragmentation figure");
        assertTrue(page.contains("<title>live at 0x"), "hover details");
        assertFalse(page.contains("src=") || page.contains("href="), "self-contained: nothing to fetch");
    }

    @Test
    void anUnwritablePathThrows() {
        MemorySnapshot snapshot = fragmentedSnapshot();
        assertThrows(NoSuchFileException.class,
                () -> MemoryMap.write(snapshot, directory.resolve("no-such-dir").resolve("map.html")));
    }

    @Test
    void chromiumLoadsThePageWithoutErrorsAndDrawsEveryRun() throws Exception {
        Chromium.binary();
        MemorySnapshot snapshot = fragmentedSnapshot();
        Path page = directory.resolve("map.html");
        MemoryMap.write(snapshot, page);
        Chromium.Output dom = Chromium.dumpDom(page, directory);
        assertTrue(dom.stdout().contains("data-ready=\"yes\""), "the page's script ran to its end:\n" + dom.stderr());
        assertFalse(dom.stderr().contains("Uncaught"), "a script error:\n" + dom.stderr());
        assertEquals(snapshot.runCount(), count(dom.stdout()), "one SVG rectangle per run in the loaded DOM");
        Path png = directory.resolve("map.png");
        Chromium.screenshot(page, png, 1240, 900, directory);
        byte[] bytes = Files.readAllBytes(png);
        assertTrue(bytes.length > 10_000, "a screenshot of " + bytes.length + " bytes");
        assertEquals(List.of((byte) 0x89, (byte) 'P', (byte) 'N', (byte) 'G'),
                List.of(bytes[0], bytes[1], bytes[2], bytes[3]));
    }

    private static long count(String html) {
        Matcher matcher = RUN.matcher(html);
        long n = 0;
        while (matcher.find()) {
            n++;
        }
        return n;
    }

    private static MemorySnapshot fragmentedSnapshot() {
        try (VariablePool pool = VariablePool.builder().arenaSize(64 << 10).safetyLevel(SafetyLevel.FULL).build()) {
            List<Long> live = MemorySnapshotTest.fragment(pool, 300);
            MemorySnapshot snapshot = pool.snapshot();
            live.forEach(pool::free);
            return snapshot;
        }
    }
}
