package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * NUMA on this machine (the CI machine has one node, node 0) and without it:
 * the container case under a seccomp filter, and libnuma hidden from the loader.
 */
class NumaTest {
    private static final Path LAUNCHER = Paths.get(System.getProperty("nativepool.test.noNumaLauncher", "missing"));

    private static void requireNuma() {
        Features features = NativePool.features();
        assumeTrue(features.has(Feature.NUMA), "NUMA unavailable: " + features.numaUnavailableReason());
    }

    @Test
    void featuresReportNodesOrTheReason() {
        Features features = NativePool.features();
        assertTrue(features.numaCompiled(), "libnuma is opened at run time, so always compiled in");
        assertEquals(features.numaAvailable(), features.numaNodes() > 0);
        assertEquals(features.numaAvailable(), features.numaUnavailableReason().isEmpty(),
                features.numaUnavailableReason());
        assertTrue(features.toString().contains(features.numaAvailable()
                ? "NUMA       yes (" + features.numaNodes() + " node(s))"
                : "NUMA       no: " + features.numaUnavailableReason()), features.toString());
    }

    @Test
    void topologyListsEveryNodeWithItsCpusDistancesAndMemory() {
        requireNuma();
        NumaTopology topology = NativePool.numa();
        assertEquals(NativePool.features().numaNodes(), topology.nodes().size());
        int cpus = 0;
        for (NumaTopology.Node node : topology.nodes()) {
            assertEquals(10, node.distances().get(node.id()), "distance to itself");
            assertEquals(topology.nodes().size(), node.distances().size());
            assertTrue(node.freeBytes() <= node.totalBytes());
            cpus += node.cpus().size();
        }
        assertTrue(Runtime.getRuntime().availableProcessors() <= cpus, "every CPU the JVM sees is on a node");
        NumaTopology.Node current = topology.node(topology.currentNode());
        assertTrue(current.totalBytes() > 0);
        assertThrows(UnsupportedOperationException.class, () -> topology.nodes().clear());
        assertThrows(UnsupportedOperationException.class, () -> current.cpus().clear());
        assertThrows(NoSuchElementException.class, () -> topology.node(100_000));
    }

    static Stream<Arguments> everyPool() {
        Stream.Builder<Arguments> all = Stream.builder();
        for (SafetyLevel safety : SafetyLevel.values()) {
            for (ThreadSafety mode : ThreadSafety.values()) {
                all.add(Arguments.of(true, mode, safety));
                if (mode != ThreadSafety.LOCK_FREE) {
                    all.add(Arguments.of(false, mode, safety));
                }
            }
        }
        return all.build();
    }

    /** The pool tests' main cycle over a NUMA backend bound to node 0. */
    @ParameterizedTest
    @MethodSource("everyPool")
    void everyPoolWorksOverANodeAndItsPagesLieThere(boolean fixed, ThreadSafety mode, SafetyLevel safety) {
        requireNuma();
        Backend node0 = Backend.numa(0, NumaPolicy.BIND);
        assertEquals("numa:bind:0", node0.toString());
        try (Pool pool = fixed
                ? FixedPool.builder(8192).threadSafety(mode).safetyLevel(safety).backend(node0).build()
                : VariablePool.builder().arenaSize(1 << 20).threadSafety(mode).safetyLevel(safety).backend(node0)
                        .build()) {
            assertEquals(MemoryKind.NUMA_HOST, pool.memoryKind());
            assertEquals(node0, pool.backend());
            MemoryBlock[] blocks = new MemoryBlock[100];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = fixed ? ((FixedPool) pool).allocate() : ((VariablePool) pool).allocate(8192);
                for (int at = 0; at < 8192; at += 4096) {
                    blocks[i].putInt(at, i);
                }
            }
            NumaPlacement placement = NativePool.placement(blocks[7]);
            assertEquals(0, placement.notPresent(), "every page was touched");
            assertEquals(placement.pagesOnNode().values().stream().mapToLong(Long::longValue).sum(),
                    placement.pagesOn(0), "all on node 0: " + placement);
            assertTrue(placement.pagesOn(0) >= 8192 / placement.pageSize());
            PoolStats stats = pool.stats();
            assertEquals(100, stats.liveBlocks());
            assertEquals(100 * 8192, stats.bytesInUse());
            for (MemoryBlock block : blocks) {
                block.close();
            }
            assertEquals(0, pool.stats().liveBlocks());
            assertThrows(PoolClosedException.class, () -> NativePool.placement(blocks[0]));
            pool.validate();
        }
    }

    @Test
    void untouchedPagesAreOnNoNodeYet() {
        requireNuma();
        try (VariablePool pool = VariablePool.builder().arenaSize(4 << 20).backend(Backend.numa(NumaPolicy.LOCAL))
                .build(); MemoryBlock block = pool.allocate(1 << 20, 4096)) {
            NumaPlacement before = NativePool.placement(block);
            assertEquals((1 << 20) / before.pageSize(), before.notPresent());
            block.putByte(0, (byte) 1);
            NumaPlacement after = NativePool.placement(block);
            assertEquals(before.notPresent() - 1, after.notPresent());
            assertEquals(1, after.pagesOnNode().values().stream().mapToLong(Long::longValue).sum(), after.toString());
            if (NativePool.numa().nodes().size() == 1) {
                assertEquals(1, after.pagesOn(NativePool.numa().nodes().get(0).id()));
            }
        }
    }

    @Test
    void backendsAreValuesOfTheirPolicyAndNodes() {
        requireNuma();
        assertEquals(Backend.numa(NumaPolicy.INTERLEAVE, 0, 0), Backend.numa(0, NumaPolicy.INTERLEAVE));
        assertEquals("numa:interleave:0", Backend.numa(NumaPolicy.INTERLEAVE, 0, 0).toString());
        assertEquals("numa:local", Backend.numa(NumaPolicy.LOCAL).toString());
        assertNotEquals(Backend.numa(0, NumaPolicy.BIND), Backend.numa(0, NumaPolicy.PREFERRED));
        assertNotEquals(Backend.numa(0, NumaPolicy.BIND), Backend.mmap());
    }

    @Test
    void badNodesAndNodeSetsAreSpecificExceptions() {
        requireNuma();
        int missing = NativePool.numa().nodes().get(NativePool.numa().nodes().size() - 1).id() + 1;
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                () -> Backend.numa(missing, NumaPolicy.BIND));
        assertTrue(e.getMessage().contains("NUMA node " + missing + " does not exist"), e.getMessage());
        e = assertThrows(InvalidArgumentException.class, () -> Backend.numa(-1, NumaPolicy.PREFERRED));
        assertTrue(e.getMessage().contains("NUMA node -1 does not exist"), e.getMessage());
        e = assertThrows(InvalidArgumentException.class, () -> Backend.numa(NumaPolicy.INTERLEAVE));
        assertTrue(e.getMessage().contains("INTERLEAVE needs at least one node"), e.getMessage());
        e = assertThrows(InvalidArgumentException.class, () -> Backend.numa(0, NumaPolicy.LOCAL));
        assertTrue(e.getMessage().contains("LOCAL takes no nodes"), e.getMessage());
        e = assertThrows(InvalidArgumentException.class, () -> NativePool.placement(4096, 4096));
        assertTrue(e.getMessage().contains("not mapped"), e.getMessage());
        assertThrows(InvalidArgumentException.class, () -> NativePool.placement(4096, 0));
        assertThrows(InvalidArgumentException.class, () -> NativePool.placement(4096, -1));
        assertThrows(NullPointerException.class, () -> Backend.numa(null, 0));
    }

    @Test
    void nodeLocalPoolsServeEachThreadFromItsNodeAndCountPerNode() throws Exception {
        requireNuma();
        List<Integer> withMemory = NativePool.numa().nodes().stream().filter(node -> node.totalBytes() > 0)
                .map(NumaTopology.Node::id).toList();
        try (FixedPool pool = FixedPool.builder(4096).threadSafety(ThreadSafety.LOCK_FREE).maxBlocks(512)
                .backend(Backend.nodeLocal()).build()) {
            assertEquals(MemoryKind.NUMA_HOST, pool.memoryKind());
            assertEquals(withMemory, NativePool.nodes(pool));
            long[] held = new long[64];
            Thread[] threads = new Thread[4];
            for (int t = 0; t < threads.length; t++) {
                int first = t * 16;
                threads[t] = new Thread(() -> {
                    for (int i = first; i < first + 16; i++) {
                        held[i] = pool.allocateAddress();
                    }
                });
                threads[t].start();
            }
            for (Thread thread : threads) {
                thread.join();
            }
            long live = 0;
            for (int node : NativePool.nodes(pool)) {
                live += NativePool.nodeStats(pool, node).liveBlocks();
            }
            assertEquals(64, live, "the nodes' blocks add up");
            assertEquals(64, pool.stats().liveBlocks());
            try (BlockCache cache = pool.newCache(16)) {  // refills from this thread's node, drains to the owners
                long block = cache.allocate();
                assertEquals(0, block % 4096);
                cache.free(block);
            }
            assertEquals(64, pool.stats().liveBlocks());
            assertEquals(0, pool.stats().cachedBlocks());
            pool.free(held);  // from this thread, whatever node allocated them
            assertEquals(0, pool.stats().liveBlocks());
            try (MemoryBlock block = pool.allocate()) {
                block.putLong(0, 1L);
                NumaPlacement placement = NativePool.placement(block);
                assertEquals(1, placement.pagesOnNode().size(), placement.toString());
                assertTrue(withMemory.containsAll(placement.pagesOnNode().keySet()), placement.toString());
            }
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                    () -> NativePool.nodeStats(pool, 100_000));
            assertTrue(e.getMessage().contains("node 100000 has no pool"), e.getMessage());
        }
        try (VariablePool plain = VariablePool.builder().build()) {
            assertEquals(List.of(), NativePool.nodes(plain));
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                    () -> NativePool.nodeStats(plain, 0));
            assertTrue(e.getMessage().contains("only pools over Backend.nodeLocal() have per-node stats"),
                    e.getMessage());
        }
    }

    @Test
    void inAContainerThatRefusesTheNumaCallsNumaIsUnavailableAndHostPoolsWork(@TempDir Path dir) throws Exception {
        assumeTrue(Files.isExecutable(LAUNCHER), "the native test build has no " + LAUNCHER);
        assertUnavailable(ChildJvm.javaVia(List.of(LAUNCHER.toString()), Map.of(), dir, "-jar",
                ChildJvm.JAR.toString(), "demo"), "the kernel refuses get_mempolicy: Operation not permitted");
    }

    @Test
    void withoutLibnumaNumaIsUnavailableAndHostPoolsWork(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("no-such-dir").resolve("libnuma.so.1");
        assertUnavailable(ChildJvm.javaVia(List.of(), Map.of("NATIVEPOOL_LIBNUMA", missing.toString()), dir, "-jar",
                ChildJvm.JAR.toString(), "demo"), missing + " not found");
    }

    private static void assertUnavailable(ChildJvm.Streams child, String reason) {
        assertEquals(0, child.exitCode(), child.stdout() + child.stderr());
        assertEquals("", child.stderr(), "nothing on stderr");
        assertTrue(child.stdout().contains("NUMA       no: " + reason), child.stdout());
        assertTrue(child.stdout().contains("after freeing them"), "the demo's host pools ran: " + child.stdout());
    }
}
