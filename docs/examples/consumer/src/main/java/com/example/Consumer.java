package com.example;

import org.nativepool.FixedPool;
import org.nativepool.MemoryBlock;
import org.nativepool.NativePool;
import org.nativepool.PoolStats;
import org.nativepool.ThreadSafety;
import org.nativepool.VariablePool;

/**
 * A user's program: a fixed pool of 4 KiB pages and a variable heap, a typed
 * handle, the raw fast path, and the statistics. Exits non-zero if a figure is
 * not what the program did, so CI can run it as a test of the published artifact.
 */
public final class Consumer {
    private Consumer() {
    }

    public static void main(String[] args) {
        System.out.println("nativepool " + NativePool.features().version() + " from "
                + NativePool.features().libraryOrigin());
        try (FixedPool pages = NativePool.fixedPool(4096).maxBlocks(64).threadSafety(ThreadSafety.LOCK_FREE).build();
             VariablePool heap = NativePool.variablePool().arenaSize(1 << 20).build()) {
            try (MemoryBlock page = pages.allocate()) {
                page.putLong(0, 42L); // bounds-checked, and an exception once the page is closed
                check(page.getLong(0) == 42L, "a page reads back what was written");
            }
            long record = heap.allocateAddress(1000, 64);
            check(record % 64 == 0, "a 64-byte aligned record");
            PoolStats live = heap.stats();
            check(live.liveBlocks() == 1 && live.bytesInUse() >= 1000, "one live record: " + live);
            heap.free(record);
            check(heap.stats().liveBlocks() == 0, "no live record after free");
            check(pages.stats().liveBlocks() == 0, "no live page after close");
            System.out.println("pages: " + pages.stats());
            System.out.println("heap:  " + heap.stats());
        }
        System.out.println("consumer example: OK");
    }

    private static void check(boolean condition, String what) {
        if (!condition) {
            System.err.println("consumer example: FAILED: " + what);
            System.exit(1);
        }
    }
}
