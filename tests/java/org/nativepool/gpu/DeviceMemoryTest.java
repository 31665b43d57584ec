package org.nativepool.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nativepool.InvalidArgumentException;
import org.nativepool.MemoryKind;
import org.nativepool.OutOfPoolMemoryException;
import org.nativepool.PoolClosedException;
import org.nativepool.VariablePool;

/** Device and pinned buffers, copies in every direction, and their bounds checks. */
class DeviceMemoryTest {

    @Test
    void hostMemoryRefusesBuffersACopyCouldNotUseSafely() {
        assertThrows(InvalidArgumentException.class, () -> HostMemory.of(ByteBuffer.allocate(64)));
        assertThrows(InvalidArgumentException.class,
                () -> HostMemory.of(ByteBuffer.allocateDirect(64).asReadOnlyBuffer()));
        assertEquals(64, HostMemory.of(ByteBuffer.allocateDirect(64)).size());
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void roundTripThroughPinnedMemory(String runtime) {
        try (DeviceManager manager = GpuRuntimes.open(runtime, 1);
                CudaStream stream = manager.device(0).createStream();
                PinnedBuffer in = manager.allocatePinned(1 << 16);
                PinnedBuffer out = manager.allocatePinned(1 << 16);
                DeviceBuffer a = manager.device(0).allocate(1 << 16, stream);
                DeviceBuffer b = manager.device(0).allocate(1 << 16, stream)) {
            ByteBuffer data = in.asByteBuffer();
            for (int i = 0; i < data.capacity(); i++) {
                data.put(i, (byte) (i * 31));
            }
            stream.copyAsync(a, in);
            stream.copyAsync(b, a);
            stream.copyAsync(out, b);
            stream.synchronize();
            assertEquals(data, out.asByteBuffer());
            assertEquals(0, a.devicePointer() % 256, "device allocations are 256-byte aligned");
            assertEquals(MemoryKind.DEVICE, a.memoryKind());
            assertEquals(MemoryKind.PINNED_HOST, in.memoryKind());
        }
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void pageableHostMemoryWorksWithOffsets(String runtime) {
        try (DeviceManager manager = GpuRuntimes.open(runtime, 1);
                CudaStream stream = manager.device(0).createStream();
                DeviceBuffer device = manager.device(0).allocate(4096, stream);
                VariablePool hostPool = VariablePool.builder().build()) {
            ByteBuffer in = ByteBuffer.allocateDirect(4096);
            for (int i = 0; i < 4096; i++) {
                in.put(i, (byte) i);
            }
            var block = hostPool.allocate(4096);
            stream.copy(device, 100, HostMemory.of(in), 0, 1000);
            stream.copy(HostMemory.of(block), 0, device, 100, 1000);
            byte[] expected = new byte[1000];
            byte[] actual = new byte[1000];
            in.get(0, expected);
            block.asByteBuffer().get(0, actual);
            assertArrayEquals(expected, actual);
            HostMemory view = HostMemory.of(block);
            block.close();
            // The pool may already have reused the block's memory: a copy into it is refused.
            PoolClosedException e = assertThrows(PoolClosedException.class, () -> stream.copy(view, device));
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
        }
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void copiesPastTheEndAreRefusedBeforeEnqueueing(String runtime) {
        try (DeviceManager manager = GpuRuntimes.open(runtime, 1);
                CudaStream stream = manager.device(0).createStream();
                DeviceBuffer device = manager.device(0).allocate(1000, stream);
                PinnedBuffer host = manager.allocatePinned(2000)) {
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                    () -> stream.copyAsync(device, host));
            assertTrue(e.getMessage().contains("runs past the end of the 1000-byte destination"), e.getMessage());
            assertThrows(InvalidArgumentException.class, () -> stream.copyAsync(host, 0, device, 1, 1000));
            assertThrows(InvalidArgumentException.class, () -> stream.copyAsync(host, -1, device, 0, 10));
            assertThrows(InvalidArgumentException.class,
                    () -> stream.copyAsync(host, 0, HostMemory.of(ByteBuffer.allocateDirect(8)), 0, 8));
            assertThrows(InvalidArgumentException.class, () -> HostMemory.of(ByteBuffer.allocate(8)));
        }
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void closedHandlesThrow(String runtime) {
        try (DeviceManager manager = GpuRuntimes.open(runtime, 1)) {
            Device device = manager.device(0);
            CudaStream stream = device.createStream();
            DeviceBuffer buffer = device.allocate(256, stream);
            PinnedBuffer pinned = manager.allocatePinned(256);
            stream.close();
            stream.close();
            assertThrows(PoolClosedException.class, stream::synchronize);
            assertThrows(PoolClosedException.class, () -> stream.copyAsync(buffer, pinned));
            assertThrows(PoolClosedException.class, () -> device.allocate(256, stream));
            buffer.close();  // its stream is gone: freed at once
            assertThrows(PoolClosedException.class, buffer::devicePointer);
            try (CudaStream other = device.createStream()) {
                assertThrows(PoolClosedException.class, () -> other.copyAsync(pinned, buffer));
                assertThrows(PoolClosedException.class, () -> buffer.free(other));
                CudaEvent event = device.createEvent();
                event.close();
                assertThrows(PoolClosedException.class, () -> other.record(event));
            }
            pinned.close();
            assertEquals(0, device.stats().liveBlocks());
        }
    }

    @ParameterizedTest
    @MethodSource("org.nativepool.gpu.GpuRuntimes#names")
    void closingTheManagerMakesHandlesInert(String runtime) {
        DeviceManager manager = GpuRuntimes.open(runtime, 1);
        CudaStream stream = manager.device(0).createStream();
        CudaEvent event = manager.device(0).createEvent();
        DeviceBuffer buffer = manager.device(0).allocate(1024, stream);
        manager.close();
        buffer.close();
        event.close();
        stream.close();
        assertTrue(stream.isClosed());
        assertThrows(PoolClosedException.class, manager::stats);
    }

    @Test
    void deviceBuffersHaveNoHostView() {
        for (Method method : DeviceBuffer.class.getMethods()) {
            assertTrue(!ByteBuffer.class.isAssignableFrom(method.getReturnType()), method.toString());
        }
    }

    @Test
    void outOfDeviceMemoryIsAPoolErrorNamingTheCudaCall() {
        try (DeviceManager manager = DeviceManager.simulated(1, 1L << 20);
                CudaStream stream = manager.device(0).createStream()) {
            OutOfPoolMemoryException e = assertThrows(OutOfPoolMemoryException.class,
                    () -> manager.device(0).allocate(2L << 20, stream));
            assertTrue(e.getMessage().contains("cudaMalloc failed: cudaErrorMemoryAllocation (2)"), e.getMessage());
            // The CUDA error, structured, is the cause.
            CudaException cause = assertInstanceOf(CudaException.class, e.getCause());
            assertEquals("cudaErrorMemoryAllocation", cause.errorName());
            assertEquals(2, cause.errorCode());
            assertEquals("cudaMalloc", cause.call());
        }
    }

    @Test
    void cudaErrorsCarryNameCodeAndCall() {
        try (DeviceManager manager = DeviceManager.simulated(2, 1L << 20);
                CudaStream on1 = manager.device(1).createStream();
                CudaEvent on0 = manager.device(0).createEvent()) {
            CudaException e = assertThrows(CudaException.class, () -> on1.record(on0));
            assertEquals("cudaErrorInvalidResourceHandle", e.errorName());
            assertEquals(400, e.errorCode());
            assertEquals("cudaEventRecord", e.call());
            assertTrue(e.getMessage().startsWith("cudaEventRecord failed: cudaErrorInvalidResourceHandle (400)"),
                    e.getMessage());
        }
    }
}
