package org.nativepool.bench.arrow;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.complex.impl.UnionListWriter;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
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
 * Arrow's own workloads on each manager, in one run: {@code build} fills and
 * closes a batch of Int, BigInt, Float8, VarChar and List columns
 * ({@code rows} rows; vectors grow by reallocation as applications' do), and
 * {@code ipcRoundTrip} reads a prepared IPC stream of such a batch back.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-opens=java.base/java.nio=ALL-UNNAMED"})
public class VectorWorkloadBenchmark {
    @Param({"netty", "unsafe", "nativepool", "nativepool-notrim", "nativepool-trim50ms"})
    String manager;

    @Param({"1048576"})
    int rows;

    Managers managers;
    byte[] stream;

    @Setup(Level.Trial)
    public void open() throws IOException {
        managers = new Managers(manager);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (VectorSchemaRoot batch = fill(managers.root, rows);
             ArrowStreamWriter writer = new ArrowStreamWriter(batch, null, Channels.newChannel(out))) {
            writer.start();
            writer.writeBatch();
            writer.end();
        }
        stream = out.toByteArray();
    }

    @TearDown(Level.Trial)
    public void close() {
        managers.close();
    }

    static VectorSchemaRoot fill(BufferAllocator allocator, int rows) {
        IntVector ints = new IntVector("ints", allocator);
        BigIntVector longs = new BigIntVector("longs", allocator);
        Float8Vector doubles = new Float8Vector("doubles", allocator);
        VarCharVector strings = new VarCharVector("strings", allocator);
        ListVector list = ListVector.empty("list", allocator);
        UnionListWriter writer = list.getWriter();
        byte[] text = "value".getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < rows; i++) {
            ints.setSafe(i, i);
            longs.setSafe(i, i * 3L);
            doubles.setSafe(i, i * 0.25);
            strings.setSafe(i, text, 0, 1 + i % text.length);
            writer.setPosition(i);
            writer.startList();
            writer.writeInt(i);
            writer.endList();
        }
        List<FieldVector> vectors = List.of(ints, longs, doubles, strings, list);
        vectors.forEach(vector -> vector.setValueCount(rows));
        return new VectorSchemaRoot(vectors);
    }

    @Benchmark
    public int build() {
        try (VectorSchemaRoot batch = fill(managers.root, rows)) {
            return batch.getRowCount();
        }
    }

    @Benchmark
    public int ipcRoundTrip() throws IOException {
        try (ArrowStreamReader reader = new ArrowStreamReader(new ByteArrayInputStream(stream), managers.root)) {
            reader.loadNextBatch();
            return reader.getVectorSchemaRoot().getRowCount();
        }
    }
}
