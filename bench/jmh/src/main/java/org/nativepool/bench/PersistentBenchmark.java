package org.nativepool.bench;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.nativepool.PersistentBlock;
import org.nativepool.PersistentPool;
import org.nativepool.PersistentStats;
import org.nativepool.PersistentTransaction;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Durable writes into a file from Java: a {@link PersistentPool} transaction
 * (begin, snapshot, write, commit) against the same bytes written into a
 * {@link MappedByteBuffer} and made durable with a ranged
 * {@code force(index, length)}, plus allocate + free with atomic publish into
 * a root. The mapped buffer is the "no library" alternative and is <em>not</em>
 * crash-consistent: a crash during the write or before force returns can leave
 * any mix of old and new bytes, which the pool's undo log rules out.
 *
 * <p>{@code dir} chooses the file system (pass {@code -p dir=...}); both files
 * live there side by side. Each iteration prints the pool's bytes named to
 * flush and persist points per operation, from {@link PersistentStats}; the
 * mapped buffer has no such counter (force rounds the range out to pages).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(1)
public class PersistentBenchmark {
    static final long CAPACITY = 64L << 20;
    /** Root of the block every transaction rewrites; the allocate + free rows use the next one. */
    static final int TX_ROOT = 0;
    static final int ALLOC_ROOT = 1;
    static final long ALLOC_SIZE = 64;

    @Param({"/dev/shm"})
    String dir;

    @Param({"64", "4096"})
    int bytes;

    Path poolFile;
    Path mappedFile;
    PersistentPool pool;
    PersistentBlock block;
    FileChannel channel;
    MappedByteBuffer mapped;
    byte[] data;
    /** Pool operations in this iteration and the stats at its start: the per-operation flush figures. */
    long poolOps;
    PersistentStats before;

    @Setup(Level.Trial)
    public void open() throws IOException {
        long pid = ProcessHandle.current().pid();
        poolFile = Path.of(dir, "nativepool-jmh-" + pid + ".pool");
        mappedFile = Path.of(dir, "nativepool-jmh-" + pid + ".mapped");
        pool = PersistentPool.create(poolFile, CAPACITY);
        block = pool.allocate(bytes, TX_ROOT);
        channel = FileChannel.open(mappedFile, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, CAPACITY);
        data = new byte[bytes];
        System.out.println("pool durability " + pool.durability() + " in " + dir);
    }

    @Setup(Level.Iteration)
    public void mark() {
        poolOps = 0;
        before = pool.stats();
    }

    @TearDown(Level.Iteration)
    public void report() {
        if (poolOps == 0) {
            return;
        }
        PersistentStats after = pool.stats();
        System.out.printf("pool flushed_B/op=%.1f persists/op=%.2f over %d ops%n",
                (double) (after.flushedBytes() - before.flushedBytes()) / poolOps,
                (double) (after.persistPoints() - before.persistPoints()) / poolOps, poolOps);
    }

    @TearDown(Level.Trial)
    public void close() throws IOException {
        pool.close();
        channel.close();
        Files.delete(poolFile);
        Files.delete(mappedFile);
    }

    /** Snapshot {@code bytes} of the block, overwrite them, commit: durable and all-or-nothing. */
    @Benchmark
    public void poolTransaction() {
        data[0]++;
        try (PersistentTransaction tx = pool.begin()) {
            tx.snapshot(block, 0, bytes);
            block.copyFrom(0, data, 0, bytes);
            tx.commit();
        }
        poolOps++;
    }

    /** The same bytes into a mapped file, then a ranged force: durable once it returns, torn by an earlier crash. */
    @Benchmark
    public void mappedForce() {
        data[0]++;
        mapped.put(0, data);
        mapped.force(0, bytes);
    }

    /**
     * Allocate 64 B publishing its offset into a root, then free it clearing
     * the root; {@code bytes} does not apply, so run it with {@code -p bytes=64}.
     */
    @Benchmark
    public void poolAllocateFree() {
        pool.allocate(ALLOC_SIZE, ALLOC_ROOT);
        pool.free(ALLOC_ROOT);
        poolOps++;
    }
}
