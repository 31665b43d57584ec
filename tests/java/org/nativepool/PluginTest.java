package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nativepool.internal.NativeLibrary;

/**
 * Backend plugins from Java: the bundled memfd plugin loaded from the JAR and
 * from a user path, each load failure as its own exception, the misbehaving
 * test plugin refused without harm, region keys, exports and region listeners.
 */
class PluginTest {
    private static final Path TEST_PLUGINS = Paths.get(System.getProperty("nativepool.test.pluginDir", "missing"));

    private static Path testPlugin(String variant) {
        Path file = TEST_PLUGINS.resolve(System.mapLibraryName("np_test_" + variant));
        assertTrue(Files.isRegularFile(file), "the build makes " + file);
        return file;
    }

    @Test
    void theJarListsItsPluginsAndWhatTheyFound() {
        List<PluginInfo> plugins = Backend.bundledPlugins();
        PluginInfo memfd = plugins.stream().filter(p -> p.name().equals("memfd")).findFirst().orElseThrow();
        assertTrue(memfd.loaded(), memfd.toString());
        assertTrue(memfd.description().contains("pages"), memfd.toString());
        PluginInfo rdma = plugins.stream().filter(p -> p.name().equals("rdma")).findFirst().orElseThrow();
        // No RDMA hardware here: libibverbs is loaded and reports no device, or is absent.
        assertTrue(rdma.loaded() || rdma.description().contains("no RDMA device")
                || rdma.description().contains("libibverbs.so.1 not found"), rdma.toString());
    }

    @Test
    void rdmaBlocksReportTheirKeysThroughTheVerbsTestDouble() {
        Backend rdma = Backend.bundledPlugin("rdma", Map.of("verbs", testPlugin("verbs_double").toString()));
        assertEquals("plugin:rdma:double0", rdma.toString());
        try (FixedPool pool = FixedPool.builder(4096).blocksPerChunk(8).backend(rdma).build();
             MemoryBlock block = pool.allocate()) {
            RegionKeys keys = rdma.regionKeys(block);
            assertEquals(keys.localKey() + 0x10000, keys.remoteKey(), keys.toString());
        }
    }

    @Test
    void poolsOfEveryKindWorkOverTheBundledMemfdPlugin() {
        Backend memfd = Backend.bundledPlugin("memfd", Map.of("huge_pages", "off"));
        assertEquals(memfd, Backend.bundledPlugin("memfd", Map.of("huge_pages", "off")), "one instance per options");
        assertEquals("small pages of 4 KiB (huge_pages=off)", memfd.description());
        for (ThreadSafety mode : ThreadSafety.values()) {
            try (FixedPool pool = FixedPool.builder(256).threadSafety(mode).safetyLevel(SafetyLevel.FULL)
                    .backend(memfd).build();
                 MemoryBlock block = pool.allocate()) {
                block.putLong(8, 7L);
                assertEquals(7L, block.getLong(8));
                assertEquals(1, pool.stats().liveBlocks());
                assertEquals(256, pool.stats().bytesInUse());
            }
        }
        try (VariablePool heap = VariablePool.builder().arenaSize(1 << 20).backend(memfd).build()) {
            heap.free(heap.allocateAddress(1000, 64));
            assertEquals(1 << 20, heap.trim());
            assertEquals(0, heap.stats().bytesReserved());
        }
    }

    @Test
    void aRegionIsReadThroughItsExportedFileDescriptor() throws Exception {
        Backend memfd = Backend.bundledPlugin("memfd", Map.of());
        try (FixedPool pool = FixedPool.builder(4096).backend(memfd).build(); MemoryBlock block = pool.allocate()) {
            block.putLong(0, 0x1122334455667788L);
            SharedRegion region = memfd.exportRegion(block);
            // Another process opens the same path of this process; here a second mapping of the same file shows it.
            try (FileChannel file = FileChannel.open(Paths.get("/proc/self/fd/" + region.fd()), StandardOpenOption.READ)) {
                MappedByteBuffer mapped = file.map(FileChannel.MapMode.READ_ONLY, region.fileOffset(), region.length());
                mapped.order(java.nio.ByteOrder.nativeOrder());
                assertEquals(0x1122334455667788L, mapped.getLong((int) region.blockOffset()));
            }
            assertThrows(FeatureUnavailableException.class, () -> memfd.regionKeys(block));
            assertThrows(InvalidArgumentException.class, () -> Backend.mmap().exportRegion(block));
        }
    }

    @Test
    void aPluginLoadsFromAUserPath(@TempDir Path directory) throws Exception {
        Path file = directory.resolve("libmy_memfd.so");
        try (InputStream in = PluginTest.class.getResourceAsStream(
                "/org/nativepool/native/" + NativeLibrary.platform() + "/plugins/libnativepool_memfd.so")) {
            Files.copy(in, file);
        }
        Backend memfd = Backend.plugin(file, Map.of("name", "user"));
        assertTrue(memfd.toString().startsWith("plugin:memfd"), memfd.toString());
        try (VariablePool heap = VariablePool.builder().backend(memfd).build(); MemoryBlock block = heap.allocate(100)) {
            assertTrue(heap.toString().contains("memfd"), heap.toString());
        }
    }

    @Test
    void eachLoadFailureIsItsOwnException(@TempDir Path directory) throws Exception {
        PluginNotFoundException missing = assertThrows(PluginNotFoundException.class,
                () -> Backend.plugin(directory.resolve("libnone.so"), Map.of()));
        assertTrue(missing.getMessage().contains("No such file"), missing.getMessage());
        Path notElf = Files.writeString(directory.resolve("libtext.so"), "not a library");
        assertThrows(PluginNotFoundException.class, () -> Backend.plugin(notElf, Map.of()));
        assertThrows(PluginNotFoundException.class, () -> Backend.bundledPlugin("nosuch", Map.of()));
        PluginSymbolMissingException symbol = assertThrows(PluginSymbolMissingException.class,
                () -> Backend.plugin(testPlugin("no_entry"), Map.of()));
        assertTrue(symbol.getMessage().contains("nativepool_plugin_entry"), symbol.getMessage());
        PluginAbiException abi = assertThrows(PluginAbiException.class,
                () -> Backend.plugin(testPlugin("new_major"), Map.of()));
        assertTrue(abi.getMessage().contains("built for plugin ABI 2."), abi.getMessage());
        assertThrows(PluginAbiException.class, () -> Backend.plugin(testPlugin("truncated"), Map.of()));
        PluginOptionException option = assertThrows(PluginOptionException.class,
                () -> Backend.bundledPlugin("memfd", Map.of("huge_pages", "sometimes")));
        assertTrue(option.getMessage().contains("huge_pages must be auto, on or off, not 'sometimes'"),
                option.getMessage());
        assertThrows(FeatureUnavailableException.class,
                () -> Backend.plugin(testPlugin("misbehaving"), Map.of("unavailable", "")));
        // An older minor still loads.
        try (FixedPool pool = FixedPool.builder(64).backend(Backend.plugin(testPlugin("old_minor"), Map.of())).build()) {
            pool.free(pool.allocateAddress());
        }
    }

    @Test
    void aMisbehavingPluginIsRefusedAndThePoolStaysUsable() {
        for (String mode : new String[] {"null", "misaligned", "fail_alloc", "fail_register"}) {
            Backend bad = Backend.plugin(testPlugin("misbehaving"), Map.of("mode", mode));
            try (FixedPool pool = FixedPool.builder(64).threadCache(0).backend(bad).build()) {
                PluginFaultException fault = assertThrows(PluginFaultException.class, pool::allocateAddress);
                assertTrue(fault.getMessage().contains("plugin misbehaving"), fault.getMessage());
                PoolStats stats = pool.stats();
                assertEquals(0, stats.allocations(), mode);
                assertEquals(0, stats.bytesReserved(), mode);
                pool.validate();
            }
        }
        Backend overlapping = Backend.plugin(testPlugin("misbehaving"), Map.of("mode", "overlap"));
        try (FixedPool pool = FixedPool.builder(64).blocksPerChunk(16).threadCache(0).backend(overlapping).build()) {
            long[] first = new long[16];
            pool.allocate(first.length, first);
            assertThrows(PluginFaultException.class, pool::allocateAddress);
            assertEquals(16, pool.stats().liveBlocks());
            pool.free(first);
        }
    }

    @Test
    void eachBlockReportsTheKeysOfItsRegion() {
        Backend keyed = Backend.plugin(testPlugin("misbehaving"), Map.of("mode", "good"));
        try (VariablePool heap = VariablePool.builder().arenaSize(1 << 20).backend(keyed).build();
             MemoryBlock block = heap.allocate(100)) {
            RegionKeys keys = keyed.regionKeys(block);
            assertTrue(keys.localKey() <= block.address(), keys.toString());  // the test plugin's keys: base and size
            assertEquals(1 << 20, keys.remoteKey());
        }
    }

    @Test
    void aRegionListenerSeesEveryMapAndUnmap() {
        List<long[]> mapped = new ArrayList<>();
        List<long[]> unmapped = new ArrayList<>();
        RegionListener listener = new RegionListener() {
            @Override
            public void mapped(long address, long bytes) {
                mapped.add(new long[] {address, bytes});
            }

            @Override
            public void unmapped(long address, long bytes) {
                unmapped.add(new long[] {address, bytes});
            }
        };
        Backend memfd = Backend.bundledPlugin("memfd", Map.of());
        Backend listened = memfd.withRegionListener(listener);
        assertNotEquals(memfd, listened);
        try (VariablePool heap = VariablePool.builder().arenaSize(1 << 16).backend(listened).build()) {
            long a = heap.allocateAddress(40_000);
            long b = heap.allocateAddress(40_000);
            assertEquals(2, mapped.size());
            assertTrue(mapped.stream().anyMatch(r -> a >= r[0] && a < r[0] + r[1]));
            assertEquals(memfd.description(), listened.description(), "the plugin is the same instance");
            heap.free(a);
            heap.free(b);
            heap.trim();
            assertEquals(2, unmapped.size());
        }
        assertArrayEquals(mapped.get(0), unmapped.stream().filter(r -> r[0] == mapped.get(0)[0]).findFirst().orElseThrow());
        assertThrows(InvalidArgumentException.class, () -> Backend.nodeLocal().withRegionListener(listener));
    }
}
