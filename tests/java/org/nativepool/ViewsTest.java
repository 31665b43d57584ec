package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.nativepool.gpu.DeviceManager;
import org.nativepool.gpu.PinnedBuffer;

/**
 * Views never outlive their memory: a block closed while its ByteBuffer
 * view is reachable stays allocated until the view is collected, and the
 * leak detector never frees under a live view. The crash cases (views used
 * after close, after trim, after the pool closed) are in the misuse
 * catalogue, which runs them in a child JVM.
 */
class ViewsTest {
    /** Collects garbage until {@code condition} holds; false after 10 s. */
    private static boolean collectUntil(BooleanSupplier condition) throws InterruptedException {
        for (int i = 0; i < 1000 && !condition.getAsBoolean(); i++) {
            System.gc();
            Thread.sleep(10);
        }
        return condition.getAsBoolean();
    }

    @Test
    void aClosedBlockIsQuarantinedUntilItsLastViewIsCollected() throws Exception {
        try (FixedPool pool = FixedPool.builder(64).build()) {
            MemoryBlock block = pool.allocate();
            long address = block.address();
            ByteBuffer view = block.asByteBuffer();
            ByteBuffer second = block.asByteBuffer();
            block.close();
            assertEquals(1, pool.stats().liveBlocks(), "quarantined, still counted live");
            long other = pool.allocateAddress();
            assertNotEquals(address, other, "the viewed block is not handed out again");
            pool.free(other);
            view.putLong(0, 1L);
            second.putLong(8, 2L);
            view = null;
            second = null;
            assertTrue(collectUntil(() -> pool.stats().liveBlocks() == 0), "freed once the views are gone");
            pool.validate();
        }
    }

    @Test
    void aClosedPinnedBufferIsQuarantinedUntilItsLastViewIsCollected() throws Exception {
        try (DeviceManager manager = DeviceManager.simulated(1, 1 << 20)) {
            PinnedBuffer pinned = manager.allocatePinned(256);
            ByteBuffer view = pinned.asByteBuffer();
            pinned.close();
            assertTrue(pinned.isClosed());
            assertEquals(1, manager.pinnedStats().liveBlocks(), "quarantined, still counted live");
            view.putLong(0, 9L);
            view = null;
            assertTrue(collectUntil(() -> manager.pinnedStats().liveBlocks() == 0), "freed once the view is gone");
        }
    }

    @Test
    void theLeakDetectorNeverFreesUnderALiveView() throws Exception {
        try (VariablePool pool = VariablePool.builder().leakDetection(LeakDetection.ALL)
                .reclaimLeakedBlocks(true).leakPolicy(LeakPolicy.IGNORE).build()) {
            LeakDetector.drainLeaks();
            ByteBuffer view = viewOfADroppedHandle(pool);
            for (int i = 0; i < 20; i++) {
                System.gc();
                Thread.sleep(10);
            }
            assertEquals(1, pool.stats().liveBlocks(), "the handle stays reachable through its view");
            view.putLong(0, 5L);
            assertEquals(5L, view.getLong(0));
            view = null;
            assertTrue(collectUntil(() -> pool.stats().liveBlocks() == 0), "reclaimed after the view went");
            List<LeakedBlock> leaks = LeakDetector.drainLeaks();
            assertEquals(1, leaks.size(), leaks.toString());
        }
    }

    private static ByteBuffer viewOfADroppedHandle(VariablePool pool) {
        return pool.allocate(64).asByteBuffer();
    }

    @Test
    void accessorsReadWhatWasWrittenInNativeOrder() {
        try (VariablePool pool = VariablePool.builder().build(); MemoryBlock block = pool.allocate(100)) {
            block.putLong(3, 0x0102030405060708L);
            block.putInt(20, -7);
            block.putByte(99, (byte) 0x7F);
            block.putDouble(40, Math.PI);
            assertEquals(0x0102030405060708L, block.getLong(3));
            assertEquals(-7, block.getInt(20));
            assertEquals((byte) 0x7F, block.getByte(99));
            assertEquals(Math.PI, block.getDouble(40));
            assertEquals(0x0102030405060708L, block.asByteBuffer().getLong(3), "the same bytes as the view");
            assertEquals(ByteOrder.nativeOrder(), block.asByteBuffer().order());

            byte[] bytes = {1, 2, 3, 4, 5, 6, 7, 8};
            block.copyFrom(50, bytes, 2, 4);
            byte[] back = new byte[6];
            block.copyTo(49, back, 1, 5);
            assertArrayEquals(new byte[] {0, block.getByte(49), 3, 4, 5, 6}, back);

            ByteBuffer src = ByteBuffer.wrap(new byte[] {9, 9, 9});
            block.copyFrom(70, src);
            assertEquals(3, src.position(), "the source advanced");
            ByteBuffer dst = ByteBuffer.allocate(3);
            block.copyTo(70, dst);
            assertArrayEquals(new byte[] {9, 9, 9}, dst.array());
            assertEquals(3, dst.position());
            assertThrows(IndexOutOfBoundsException.class, () -> block.getLong(93));
            assertThrows(IndexOutOfBoundsException.class, () -> block.copyFrom(98, ByteBuffer.allocate(3)));
        }
    }

    @Test
    void anAccessorInFlightKeepsThePoolFromClosing() throws Exception {
        FixedPool pool = FixedPool.builder(1 << 20).threadSafety(ThreadSafety.MUTEX).build();
        MemoryBlock block = pool.allocate();
        byte[] big = new byte[1 << 20];
        Thread copier = new Thread(() -> {
            for (int i = 0; i < 2000; i++) {
                try {
                    block.copyTo(0, big, 0, big.length);
                } catch (PoolClosedException closed) {
                    return;
                }
            }
        });
        copier.start();
        for (;;) {
            try {
                pool.close();
                break;
            } catch (PoolBusyException busy) {
                // A copy was in flight: the pool stays open and usable until it is done.
                pool.stats();
            }
        }
        copier.join();
        assertThrows(PoolClosedException.class, () -> block.getByte(0));
    }
}
