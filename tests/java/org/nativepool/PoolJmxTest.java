package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.util.List;
import javax.management.JMX;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;

/** A pool's JMX beans: attributes, the buffer-pool view, unique names, registration and its default. */
class PoolJmxTest {
    private static final MBeanServer SERVER = ManagementFactory.getPlatformMBeanServer();

    private static ObjectName poolName(String name) throws Exception {
        return new ObjectName("org.nativepool:type=Pool,name=" + name);
    }

    private static ObjectName bufferName(String name) throws Exception {
        return new ObjectName("java.nio:type=BufferPool,name=nativepool-" + name);
    }

    @Test
    void attributesFollowThePoolAndTheBeansGoAtClose() throws Exception {
        ObjectName name = poolName("jmx-attributes");
        try (VariablePool pool = VariablePool.builder().name("jmx-attributes").threadCache(0).jmx(true).build()) {
            long address = pool.allocateAddress(1000);
            PoolMXBean bean = JMX.newMXBeanProxy(SERVER, name, PoolMXBean.class);
            PoolStats stats = pool.stats();
            assertEquals("jmx-attributes", bean.getName());
            assertEquals("variable", bean.getAlgorithm());
            assertEquals(1, bean.getLiveBlocks());
            assertEquals(stats.bytesInUse(), bean.getBytesInUse());
            assertEquals(stats.bytesReserved(), SERVER.getAttribute(name, "BytesReserved"));
            assertEquals(stats.externalFragmentation(), bean.getExternalFragmentation());
            assertEquals("OFF", SERVER.getAttribute(name, "SafetyLevel"));
            assertEquals("MUTEX", bean.getThreadSafety());
            BufferPoolMXBean buffers = JMX.newMXBeanProxy(SERVER, bufferName("jmx-attributes"),
                    BufferPoolMXBean.class);
            assertEquals("nativepool-jmx-attributes", buffers.getName());
            assertEquals(1, buffers.getCount());
            assertEquals(stats.bytesInUse(), buffers.getTotalCapacity());
            assertEquals(stats.bytesReserved(), buffers.getMemoryUsed());
            assertEquals(1, SERVER.queryNames(new ObjectName("java.nio:type=BufferPool,*"), null).stream()
                    .filter(n -> n.getKeyProperty("name").equals("nativepool-jmx-attributes")).count());
            pool.free(address);
            assertEquals(0, bean.getLiveBlocks());
        }
        assertFalse(SERVER.isRegistered(name));
        assertFalse(SERVER.isRegistered(bufferName("jmx-attributes")));
    }

    @Test
    void aDuplicateNameIsRefusedAndLeavesNothing() throws Exception {
        try (FixedPool first = FixedPool.builder(64).name("jmx-twice").jmx(true).build()) {
            PoolNameInUseException e = assertThrows(PoolNameInUseException.class,
                    () -> VariablePool.builder().name("jmx-twice").jmx(true).build());
            assertTrue(e.getMessage().contains("jmx-twice"), e.getMessage());
            assertEquals("fixed", SERVER.getAttribute(poolName("jmx-twice"), "Algorithm"));
            assertEquals(64L, SERVER.getAttribute(poolName("jmx-twice"), "BlockSize"));
            // Without JMX the same name is fine: names must be unique among registered pools only.
            VariablePool.builder().name("jmx-twice").build().close();
        }
        assertFalse(SERVER.isRegistered(poolName("jmx-twice")));
        VariablePool.builder().name("jmx-twice").jmx(true).build().close();
    }

    @Test
    void theSystemPropertySetsTheDefaultAndAwkwardNamesAreQuoted() throws Exception {
        String before = System.getProperty("nativepool.jmx");
        System.setProperty("nativepool.jmx", "true");
        try (VariablePool on = VariablePool.builder().name("jmx, \"quoted\"=name").build();
                VariablePool off = VariablePool.builder().name("jmx-off").jmx(false).build()) {
            ObjectName quoted = new ObjectName("org.nativepool:type=Pool,name="
                    + ObjectName.quote("jmx, \"quoted\"=name"));
            assertEquals("jmx, \"quoted\"=name", SERVER.getAttribute(quoted, "Name"));
            assertFalse(SERVER.isRegistered(poolName("jmx-off")));
        } finally {
            if (before == null) {
                System.clearProperty("nativepool.jmx");
            } else {
                System.setProperty("nativepool.jmx", before);
            }
        }
        try (VariablePool unset = VariablePool.builder().name("jmx-unset").build()) {
            assertFalse(SERVER.isRegistered(poolName("jmx-unset")), "off when the property is unset");
        }
    }

    @Test
    void aNodeLocalGroupRegistersABeanPerNode() throws Exception {
        Features features = NativePool.features();
        assumeTrue(features.has(Feature.NUMA), "NUMA unavailable: " + features.numaUnavailableReason());
        try (FixedPool pool = FixedPool.builder(4096).threadSafety(ThreadSafety.LOCK_FREE).threadCache(0)
                .backend(Backend.nodeLocal()).name("jmx-nodes").jmx(true).build()) {
            List<Integer> nodes = NativePool.nodes(pool);
            long address = pool.allocateAddress();
            long live = 0;
            for (int node : nodes) {
                ObjectName name = new ObjectName("org.nativepool:type=Pool,name=jmx-nodes,node=" + node);
                long reported = (long) SERVER.getAttribute(name, "LiveBlocks");
                assertEquals(NativePool.nodeStats(pool, node).liveBlocks(), reported);
                assertEquals(NativePool.nodeStats(pool, node).bytesReserved(), SERVER.getAttribute(name,
                        "BytesReserved"));
                live += reported;
            }
            assertEquals(1, live, "the block is in one node's figures");
            assertEquals(1L, SERVER.getAttribute(poolName("jmx-nodes"), "LiveBlocks"), "the group's sum");
            pool.free(address);
        }
        assertTrue(SERVER.queryNames(new ObjectName("org.nativepool:type=Pool,name=jmx-nodes,*"), null).isEmpty());
    }
}
