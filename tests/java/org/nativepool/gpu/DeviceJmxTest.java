package org.nativepool.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import javax.management.JMX;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.nativepool.PoolNameInUseException;
import org.junit.jupiter.api.Test;

/** A device manager's JMX beans, on simulated devices: the sum, each device, the pinned pool; names unique. */
class DeviceJmxTest {
    private static final MBeanServer SERVER = ManagementFactory.getPlatformMBeanServer();

    private static ObjectName name(String manager, String pool) throws Exception {
        return new ObjectName("org.nativepool:type=DeviceManager,name=" + manager + (pool == null ? "" : ",pool=" + pool));
    }

    @Test
    void theBeansFollowTheManagerAndGoAtClose() throws Exception {
        try (DeviceManager manager = DeviceManager.builder().simulated(2, 64L << 20).arenaSize(1 << 20)
                .name("jmx-gpus").jmx(true).build()) {
            assertEquals("jmx-gpus", manager.name());
            DeviceBuffer buffer = manager.device(1).allocate(1000);
            DevicePoolMXBean device1 = JMX.newMXBeanProxy(SERVER, name("jmx-gpus", "device1"),
                    DevicePoolMXBean.class);
            assertEquals("device1", device1.getPool());
            assertEquals("simulated", device1.getRuntime());
            assertEquals(1, device1.getLiveBlocks());
            assertEquals(1024, device1.getBytesInUse());
            assertEquals(manager.device(1).stats().reservedBytes(), device1.getReservedBytes());
            assertEquals(0L, SERVER.getAttribute(name("jmx-gpus", "device0"), "LiveBlocks"));
            assertEquals(1L, SERVER.getAttribute(name("jmx-gpus", null), "LiveBlocks"), "the sum");
            manager.allocatePinned(300).close();
            assertEquals(manager.pinnedStats().reservedBytes(),
                    SERVER.getAttribute(name("jmx-gpus", "pinned"), "ReservedBytes"));
            buffer.close();
            assertEquals(0, device1.getLiveBlocks());
            PoolNameInUseException taken = assertThrows(PoolNameInUseException.class,
                    () -> DeviceManager.builder().simulated(1, 1 << 20).name("jmx-gpus").jmx(true).build());
            assertTrue(taken.getMessage().contains("another device manager named \"jmx-gpus\""), taken.getMessage());
        }
        for (String pool : new String[] {null, "device0", "device1", "pinned"}) {
            assertFalse(SERVER.isRegistered(name("jmx-gpus", pool)), pool);
        }
        try (DeviceManager unregistered = DeviceManager.builder().simulated(1, 1 << 20).name("jmx-gpus").build()) {
            assertFalse(SERVER.isRegistered(name("jmx-gpus", null)), "off unless asked");
        }
    }
}
