package org.nativepool.bench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.nativepool.FixedPool;
import org.nativepool.VariablePool;
import sun.misc.Unsafe;

/**
 * One allocation + free of {@code size} bytes with each allocator a Java
 * program would otherwise use. Each method returns something derived from the
 * block so the JIT cannot drop the work.
 */
final class Allocators implements AutoCloseable {
    static final Unsafe UNSAFE;

    static {
        try {
            Field field = Unsafe.class.getDeclaredField("theUnsafe");
            field.setAccessible(true);
            UNSAFE = (Unsafe) field.get(null);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Netty's shared pooled allocator, with its per-thread caches, as servers use it. */
    private final PooledByteBufAllocator netty = PooledByteBufAllocator.DEFAULT;
    private final BufferAllocator arrow = new RootAllocator();

    static long floor(long size) {
        long address = Floor.allocate(1L, size, 0L);
        Floor.free(1L, address);
        return address;
    }

    static long unsafe(long size) {
        long address = UNSAFE.allocateMemory(size);
        UNSAFE.freeMemory(address);
        return address;
    }

    /** The raw pair of nativepool's shared API: through the calling thread's cache, if the pool has them. */
    static long nativepool(FixedPool pool) {
        long address = pool.allocateAddress();
        pool.free(address);
        return address;
    }

    /** The same for a variable pool, of {@code size} bytes: cached up to 1 KiB. */
    static long nativepool(VariablePool pool, long size) {
        long address = pool.allocateAddress(size);
        pool.free(address);
        return address;
    }

    /** Freed explicitly with the buffer's cleaner, as a careful user would, not left to the GC. */
    static int allocateDirect(int size) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(size);
        int capacity = buffer.capacity();
        UNSAFE.invokeCleaner(buffer);
        return capacity;
    }

    int netty(int size) {
        ByteBuf buffer = netty.directBuffer(size);
        int capacity = buffer.capacity();
        buffer.release();
        return capacity;
    }

    long arrow(long size) {
        ArrowBuf buffer = arrow.buffer(size);
        long address = buffer.memoryAddress();
        buffer.close();
        return address;
    }

    @Override
    public void close() {
        arrow.close();
    }
}
