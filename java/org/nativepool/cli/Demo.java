package org.nativepool.cli;

import java.io.PrintStream;
import org.nativepool.Backend;
import org.nativepool.FixedPool;
import org.nativepool.MemoryBlock;
import org.nativepool.NativePool;
import org.nativepool.OutOfPoolMemoryException;
import org.nativepool.ThreadSafety;
import org.nativepool.VariablePool;

/**
 * The {@code demo} subcommand, which the README's main command runs: shows
 * which native features are present, then builds a fixed and a variable pool,
 * allocates, frees and prints the stats.
 */
final class Demo {
    private Demo() {
    }

    static void run(PrintStream out) {
        out.println(NativePool.features());

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
    }
}
