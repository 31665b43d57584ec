package org.nativepool.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.nativepool.Backend;
import org.nativepool.Feature;
import org.nativepool.Features;
import org.nativepool.FixedPool;
import org.nativepool.MemoryBlock;
import org.nativepool.NativePool;
import org.nativepool.NativePoolException;
import org.nativepool.NumaPolicy;
import org.nativepool.NumaTopology;
import org.nativepool.OutOfPoolMemoryException;
import org.nativepool.PersistentBlock;
import org.nativepool.PersistentPool;
import org.nativepool.PersistentTransaction;
import org.nativepool.PluginInfo;
import org.nativepool.SharedRegion;
import org.nativepool.ThreadSafety;
import org.nativepool.VariablePool;

/**
 * The {@code demo} subcommand, which the README's main command runs: shows
 * which native features are present, then builds a fixed and a variable pool,
 * allocates, frees and prints the stats; where NUMA works, a pool bound to
 * the caller's node and where its pages went; then creates a persistent pool
 * in a temporary file, reopens it and checks what it kept.
 */
final class Demo {
    private Demo() {
    }

    static void run(PrintStream out) {
        Features features = NativePool.features();
        out.print(features);
        printPlugins(out);
        out.println();
        if (features.has(Feature.NUMA)) {
            numa(out);
        }
        memfd(out);

        try (FixedPool pages = FixedPool.builder(4096).name("pages").maxBlocks(1024)
                .threadSafety(ThreadSafety.LOCK_FREE).backend(Backend.mmap()).build()) {
            long[] batch = new long[256];
            pages.allocate(batch.length, batch);
            try (MemoryBlock page = pages.allocate()) {
                page.putLong(0, 0xC0FFEEL);
                out.printf("%s: block at 0x%x holds 0x%x%n", pages, page.address(), page.getLong(0));
            }
            out.println("  after 257 allocations: " + pages.stats());
            pages.free(batch);
            out.println("  after freeing them:    " + pages.stats());
        }

        try (VariablePool heap = VariablePool.builder().name("records").arenaSize(1 << 20).maxCapacity(4 << 20)
                .build()) {
            long[] held = new long[2000];
            for (int i = 0; i < held.length; i++) {
                held[i] = heap.allocateAddress(16L << (i % 10));
            }
            for (int i = 0; i < held.length; i += 2) {
                heap.free(held[i]);
            }
            out.println(heap + " with every other block freed:\n  " + heap.stats());
            try {
                heap.allocateAddress(3 << 20);
            } catch (OutOfPoolMemoryException e) {
                out.println("  a 3 MiB request fails: " + e.getMessage());
            }
            for (int i = 1; i < held.length; i += 2) {
                heap.free(held[i]);
            }
            out.println("  freed the rest and trimmed " + heap.trim() + " bytes: " + heap.stats());
            try (MemoryBlock big = heap.allocate(3 << 20)) {
                big.putByte(big.size() - 1, (byte) 1);
                out.println("  now a 3 MiB block fits in an arena of its own: " + big.size() + " bytes, "
                        + heap.stats());
            }
        }
        persistent(out);
    }

    private static void persistent(PrintStream out) {
        try {
            Path directory = Files.createTempDirectory("nativepool-demo");
            Path file = directory.resolve("heap");
            try {
                persistent(out, file);
            } finally {
                Files.deleteIfExists(file);
                Files.delete(directory);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void persistent(PrintStream out, Path file) {
        try (PersistentPool pool = PersistentPool.create(file, 1 << 20)) {
            PersistentBlock counter = pool.allocate(64, 0);
            try (PersistentTransaction tx = pool.begin()) {
                tx.snapshot(counter, 0, 8);
                counter.putLong(0, 41);
                tx.commit();
            }
            try (PersistentTransaction tx = pool.begin()) {
                tx.snapshot(counter, 0, 8);
                counter.putLong(0, -1);
                // closed without commit: rolled back
            }
            out.printf("persistent pool (%s): root 0 holds the block at offset %d%n", pool.durability(),
                    counter.offset());
        }
        try (PersistentPool pool = PersistentPool.open(file)) {
            pool.validate();
            long value = pool.root(0).getLong(0);
            if (value != 41) {
                throw new IllegalStateException("the reopened persistent pool holds " + value + ", not 41");
            }
            out.println("  reopened and validated: the counter reads " + value + " (the uncommitted -1 was rolled"
                    + " back), " + pool.stats().liveBlocks() + " live block(s)");
        }
    }

    /** The plugins the JAR carries and what each found here (also part of {@code features}). */
    static void printPlugins(PrintStream out) {
        for (PluginInfo plugin : Backend.bundledPlugins()) {
            out.println("  plugin     " + plugin);
        }
    }

    // A pool over the bundled memfd plugin, and the file another process would map.
    private static void memfd(PrintStream out) {
        Backend memfd;
        try {
            memfd = Backend.bundledPlugin("memfd", Map.of());
        } catch (NativePoolException e) {
            out.println("the memfd plugin is unavailable: " + e.getMessage());
            return;
        }
        try (FixedPool shared = FixedPool.builder(4096).name("shared").backend(memfd).build();
             MemoryBlock page = shared.allocate()) {
            page.putLong(0, 42L);
            SharedRegion region = memfd.exportRegion(page);
            out.printf("%s: another process maps fd %d at offset %d and reads the page at +%d%n%n", shared,
                    region.fd(), region.fileOffset(), region.blockOffset());
        }
    }

    private static void numa(PrintStream out) {
        NumaTopology topology = NativePool.numa();
        for (NumaTopology.Node node : topology.nodes()) {
            // Free memory is left out: the demo's output is the same from run to run.
            out.printf("NUMA node %d: CPUs %s, %d MiB, distances %s%n", node.id(), node.cpus(),
                    node.totalBytes() >> 20, node.distances());
        }
        int here = topology.currentNode();
        try (FixedPool local = FixedPool.builder(4096).name("node-" + here).maxBlocks(256)
                .backend(Backend.numa(here, NumaPolicy.BIND)).build();
             MemoryBlock page = local.allocate()) {
            page.putLong(0, 1L);
            out.printf("%s: a touched page lies on %s%n%n", local, NativePool.placement(page).pagesOnNode());
        }
    }
}
