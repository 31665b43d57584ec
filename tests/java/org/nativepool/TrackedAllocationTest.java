package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.ref.Reference;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Raw addresses registered with the leak detector on behalf of an integration's object. */
class TrackedAllocationTest {

    /** An integration's owner object, as an Arrow AllocationManager would be. */
    private static final class Owner {
    }

    @Test
    void aDroppedOwnerIsReportedWithTheRegisteringStack() throws Exception {
        try (VariablePool pool = VariablePool.builder().leakDetection(LeakDetection.ALL)
                .reclaimLeakedBlocks(false).leakPolicy(LeakPolicy.IGNORE).build()) {
            LeakDetector.drainLeaks();
            long address = registerAndDrop(pool);
            LeakDetector.collectLeaks(5000);
            List<LeakedBlock> leaks = LeakDetector.drainLeaks();
            LeakedBlock leak = leaks.stream().filter(l -> l.address() == address).findFirst().orElseThrow(
                    () -> new AssertionError("no report of the dropped owner: " + leaks));
            assertEquals(4000, leak.size());
            assertFalse(leak.reclaimed(), "reclaimLeakedBlocks(false): the integration still counts it");
            assertTrue(List.of(leak.allocationStack().getStackTrace()).stream()
                    .anyMatch(frame -> frame.getMethodName().equals("registerAndDrop")));
            assertEquals(1, pool.stats().liveBlocks());
            pool.free(address);
        }
    }

    private static long registerAndDrop(VariablePool pool) {
        long address = pool.allocateAddress(4000);
        pool.trackAllocation(new Owner(), address, 4000);
        return address;
    }

    @Test
    void aClosedRegistrationIsNoLeakAndReclaimFreesTheBlock() throws Exception {
        try (FixedPool pool = FixedPool.builder(256).leakDetection(LeakDetection.ALL).build()) {
            LeakDetector.drainLeaks();
            Owner owner = new Owner();
            long address = pool.allocateAddress();
            long dropped = pool.allocateAddress();
            TrackedAllocation tracked = pool.trackAllocation(owner, address, 256);
            assertTrue(tracked.isTracked());
            assertNotNull(tracked.allocationStack());
            tracked.close();
            tracked.close();
            Reference.reachabilityFence(owner); // closed while the owner was still reachable
            pool.free(address);
            pool.trackAllocation(new Owner(), dropped, 256);
            LeakDetector.collectLeaks(5000);
            List<LeakedBlock> leaks = LeakDetector.drainLeaks();
            assertTrue(leaks.stream().noneMatch(l -> l.address() == address), "closed, so no leak: " + leaks);
            assertTrue(leaks.stream().anyMatch(l -> l.address() == dropped && l.reclaimed()), leaks.toString());
            assertEquals(0, pool.stats().liveBlocks(), "the detector freed the dropped block");
        }
    }

    @Test
    void offLevelTracksNothingAndBadInputIsRefused() {
        try (FixedPool pool = FixedPool.builder(64).leakDetection(LeakDetection.OFF).build()) {
            long address = pool.allocateAddress();
            TrackedAllocation none = pool.trackAllocation(new Owner(), address, 64);
            assertFalse(none.isTracked());
            none.close();
            assertThrows(InvalidArgumentException.class, () -> pool.trackAllocation(new Owner(), 0, 64));
            assertThrows(InvalidArgumentException.class, () -> pool.trackAllocation(new Owner(), address, 0));
            assertThrows(NullPointerException.class, () -> pool.trackAllocation(null, address, 64));
            pool.free(address);
        }
        FixedPool closed = FixedPool.builder(64).build();
        closed.close();
        assertThrows(PoolClosedException.class, () -> closed.trackAllocation(new Owner(), 64, 64));
    }
}
