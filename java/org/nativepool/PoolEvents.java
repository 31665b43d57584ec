package org.nativepool;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.WeakHashMap;
import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.FlightRecorder;
import jdk.jfr.FlightRecorderListener;
import jdk.jfr.Label;
import jdk.jfr.MemoryAddress;
import jdk.jfr.Name;
import jdk.jfr.Period;
import jdk.jfr.StackTrace;

/**
 * The JDK Flight Recorder events of the pools, all on slow paths: a call that
 * trims, flushes, runs out of memory, finds corruption or reports a leak, a
 * region mapped or unmapped (reported by the native core, {@link RegionEvents}),
 * and a persistent heap's open with its recovery. Each
 * is created where it happens and filled only when {@code shouldCommit()}
 * says a recording wants it, so without a recording, or with the events
 * disabled, the cost is that check. {@code org.nativepool.PoolStatistics} is
 * periodic (every second by default) over the open pools.
 */
final class PoolEvents {
    /** The open pools, for the periodic event; weak, so a dropped, unclosed pool is not held. */
    private static final Set<Pool> OPEN = Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));

    static {
        // Registered once the recorder starts, not at the first pool: setting up the recorder
        // takes the better part of a second, which a program that records nothing must not pay.
        FlightRecorder.addListener(new FlightRecorderListener() {
            @Override
            public void recorderInitialized(FlightRecorder recorder) {
                FlightRecorder.addPeriodicEvent(PoolStatistics.class, PoolEvents::emitStatistics);
            }
        });
    }

    private PoolEvents() {
    }

    @Name("org.nativepool.Trim")
    @Label("Pool Trim")
    @Category("nativepool")
    @Description("Wholly free regions returned to the backend")
    @StackTrace(false)
    static final class Trim extends Event {
        @Label("Pool")
        String pool;
        @Label("Bytes Released")
        @DataAmount
        long bytesReleased;
    }

    @Name("org.nativepool.CacheFlush")
    @Label("Thread Cache Flush")
    @Category("nativepool")
    @Description("The calling thread's caches, and those of ended threads, returned to the pool")
    @StackTrace(false)
    static final class CacheFlush extends Event {
        @Label("Pool")
        String pool;
    }

    @Name("org.nativepool.OutOfMemory")
    @Label("Pool Out Of Memory")
    @Category("nativepool")
    @Description("An allocation the pool refused for want of memory, with its free space")
    static final class OutOfMemory extends Event {
        @Label("Pool")
        String pool;
        @Label("Requested")
        @DataAmount
        long requested;
        @Label("Free Bytes")
        @DataAmount
        long freeBytes;
        @Label("Largest Free Block")
        @DataAmount
        long largestFreeBlock;
        @Label("External Fragmentation")
        double externalFragmentation;
    }

    @Name("org.nativepool.CorruptionDetected")
    @Label("Memory Corruption Detected")
    @Category("nativepool")
    @Description("A guard margin or freed memory found overwritten")
    static final class CorruptionDetected extends Event {
        @Label("Pool")
        String pool;
        @Label("Block Address")
        long address;
        @Label("Block Size")
        @DataAmount
        long size;
        @Label("Guard")
        String guard;
        @Label("Allocation Site")
        String site;
    }

    @Name("org.nativepool.LeakReported")
    @Label("Pool Closed With Live Blocks")
    @Category("nativepool")
    @Description("A pool closed with blocks still allocated; the report lists them with their sites")
    static final class LeakReported extends Event {
        @Label("Pool")
        String pool;
        @Label("Live Blocks")
        long liveBlocks;
        @Label("Bytes In Use")
        @DataAmount
        long bytesInUse;
        @Label("Report")
        String report;
    }

    /** What both region events carry: the region, its pool and where the memory lives. */
    @Category("nativepool")
    abstract static class RegionEvent extends Event {
        @Label("Pool")
        String pool;
        @Label("Backend")
        String backend;
        @Label("Memory Kind")
        String memoryKind;
        @Label("NUMA Node")
        @Description("The node the region is bound to; -1 for no single node")
        int node;
        @Label("Device")
        @Description("The GPU the region lies on; -1 for host memory")
        int device;
        @Label("Address")
        @MemoryAddress
        long address;
        @Label("Size")
        @DataAmount
        long size;
    }

    @Name("org.nativepool.RegionMapped")
    @Label("Region Mapped")
    @Description("A region (chunk or arena) taken from the backend as the pool grew; the stack is the call that grew it")
    static final class RegionMapped extends RegionEvent {
    }

    @Name("org.nativepool.RegionUnmapped")
    @Label("Region Unmapped")
    @Description("A region given back to the backend by a trim or as the pool closed")
    static final class RegionUnmapped extends RegionEvent {
    }

    @Name("org.nativepool.PersistentRecovery")
    @Label("Persistent Heap Recovery")
    @Category("nativepool")
    @Description("An open of a persistent heap and what its recovery replayed and rolled back; the duration is the open's")
    @StackTrace(false)
    static final class PersistentRecovery extends Event {
        @Label("Path")
        String path;
        @Label("Redo Replayed")
        @Description("1 when an interrupted atomic operation was replayed")
        long redoReplayed;
        @Label("Undo Ranges Rolled Back")
        @Description("Ranges of an interrupted transaction restored")
        long undoRangesRolledBack;
        @Label("Live Blocks")
        long liveBlocks;
        @Label("Bytes In Use")
        @DataAmount
        long bytesInUse;
        @Label("Durability")
        String durability;
    }

    @Name("org.nativepool.LargeAllocation")
    @Label("Large Allocation")
    @Category("nativepool")
    @Description("An allocation at or above the pool's threshold (VariablePool.Builder.largeAllocationEvent); its duration is the allocation's")
    static final class LargeAllocation extends Event {
        @Label("Pool")
        String pool;
        @Label("Size")
        @DataAmount
        long size;
        @Label("Alignment")
        long alignment;
        @Label("Blocks")
        @Description("1, or the count of a batch allocation")
        int blocks;
        @Label("Address")
        @MemoryAddress
        long address;
    }

    @Name("org.nativepool.PoolStatistics")
    @Label("Pool Statistics")
    @Category("nativepool")
    @Period("1 s")
    @StackTrace(false)
    static final class PoolStatistics extends Event {
        @Label("Pool")
        String pool;
        @Label("Live Blocks")
        long liveBlocks;
        @Label("Bytes In Use")
        @DataAmount
        long bytesInUse;
        @Label("Bytes Reserved")
        @DataAmount
        long bytesReserved;
        @Label("Free Bytes")
        @DataAmount
        long freeBytes;
        @Label("Largest Free Block")
        @DataAmount
        long largestFreeBlock;
        @Label("External Fragmentation")
        double externalFragmentation;
        @Label("Cached Blocks")
        long cachedBlocks;
        @Label("Failures")
        long failures;
    }

    static void opened(Pool pool) {
        OPEN.add(pool);
    }

    static void closed(Pool pool) {
        OPEN.remove(pool);
    }

    private static void emitStatistics() {
        List<Pool> pools;
        synchronized (OPEN) {
            pools = new ArrayList<>(OPEN);
        }
        for (Pool pool : pools) {
            PoolStatistics event = new PoolStatistics();
            PoolStats stats;
            try {
                stats = pool.stats();
            } catch (PoolClosedException closing) {
                continue;
            }
            event.pool = pool.name();
            event.liveBlocks = stats.liveBlocks();
            event.bytesInUse = stats.bytesInUse();
            event.bytesReserved = stats.bytesReserved();
            event.freeBytes = stats.freeBytes();
            event.largestFreeBlock = stats.largestFreeBlock();
            event.externalFragmentation = stats.externalFragmentation();
            event.cachedBlocks = stats.cachedBlocks();
            event.failures = stats.failures();
            event.commit();
        }
    }

    static void outOfMemory(Pool pool, OutOfPoolMemoryException e) {
        OutOfMemory event = new OutOfMemory();
        if (event.shouldCommit()) {
            event.pool = pool.name();
            event.requested = e.requestedBytes();
            event.freeBytes = e.freeBytes();
            event.largestFreeBlock = e.largestFreeBlock();
            event.externalFragmentation = e.externalFragmentation();
            event.commit();
        }
    }

    static void corruption(Pool pool, MemoryCorruptionException e) {
        CorruptionDetected event = new CorruptionDetected();
        if (event.shouldCommit()) {
            event.pool = pool.name();
            event.address = e.blockAddress();
            event.size = e.blockSize();
            event.guard = e.guard().name();
            event.site = e.allocationSite();
            event.commit();
        }
    }

    /** Commits {@code event}, begun before the open of {@code pool}, with what its recovery did. */
    static void recovered(PersistentPool pool, PersistentRecovery event) {
        if (event.shouldCommit()) {
            PersistentStats stats = pool.stats();
            event.path = pool.jmxName();
            event.redoReplayed = stats.recoveredRedo();
            event.undoRangesRolledBack = stats.recoveredUndo();
            event.liveBlocks = stats.liveBlocks();
            event.bytesInUse = stats.bytesInUse();
            event.durability = pool.durability().name();
            event.commit();
        }
    }

    /** Commits {@code event}, begun before an allocation of {@code pool} that returned {@code address}. */
    static void largeAllocation(Pool pool, LargeAllocation event, long size, long alignment, int blocks,
            long address) {
        if (event.shouldCommit()) {
            event.pool = pool.name();
            event.size = size;
            event.alignment = alignment;
            event.blocks = blocks;
            event.address = address;
            event.commit();
        }
    }

    static void leak(Pool pool, PoolStats last, String report) {
        leak(pool.name(), last.liveBlocks(), last.bytesInUse(), report);
    }

    /** A pool that closed with {@code liveBlocks} blocks ({@code bytesInUse} bytes) its program never gave back. */
    static void leak(String pool, long liveBlocks, long bytesInUse, String report) {
        LeakReported event = new LeakReported();
        if (event.shouldCommit()) {
            event.pool = pool;
            event.liveBlocks = liveBlocks;
            event.bytesInUse = bytesInUse;
            event.report = report;
            event.commit();
        }
    }
}
