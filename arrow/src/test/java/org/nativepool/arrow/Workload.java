package org.nativepool.arrow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.complex.StructVector;
import org.apache.arrow.vector.complex.impl.UnionListWriter;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.FieldType;

/**
 * Arrow's own kinds of column, filled with values that follow from the row
 * number, so any copy of them (IPC, slice, transfer) can be checked exactly.
 */
final class Workload {
    private static final FieldType INT32 = FieldType.notNullable(new ArrowType.Int(32, true));
    private static final FieldType INT64 = FieldType.notNullable(new ArrowType.Int(64, true));

    private Workload() {
    }

    /** {@return a batch of {@code rows} rows of Int (every tenth null), BigInt, Float8, VarChar, Struct and List} */
    static VectorSchemaRoot build(BufferAllocator allocator, int rows) {
        IntVector ints = new IntVector("ints", allocator);
        BigIntVector longs = new BigIntVector("longs", allocator);
        Float8Vector doubles = new Float8Vector("doubles", allocator);
        VarCharVector strings = new VarCharVector("strings", allocator);
        StructVector struct = StructVector.empty("struct", allocator);
        ListVector list = ListVector.empty("list", allocator);
        List<FieldVector> vectors = List.of(ints, longs, doubles, strings, struct, list);
        try {
            ints.allocateNew(rows);
            longs.allocateNew(rows);
            doubles.allocateNew(rows);
            strings.allocateNew(rows * 10L, rows);
            IntVector a = struct.addOrGet("a", INT32, IntVector.class);
            BigIntVector b = struct.addOrGet("b", INT64, BigIntVector.class);
            UnionListWriter writer = list.getWriter();
            for (int i = 0; i < rows; i++) {
                if (i % 10 == 0) {
                    ints.setNull(i);
                } else {
                    ints.set(i, i * 7);
                }
                longs.set(i, i * 1_000_003L);
                doubles.set(i, i * 0.5);
                strings.setSafe(i, string(i));
                struct.setIndexDefined(i);
                a.setSafe(i, i);
                b.setSafe(i, -i);
                writer.setPosition(i);
                writer.startList();
                for (int k = 0; k < i % 4; k++) {
                    writer.writeInt(i + k);
                }
                writer.endList();
            }
            for (FieldVector vector : vectors) {
                vector.setValueCount(rows);
            }
            a.setValueCount(rows);
            b.setValueCount(rows);
            return new VectorSchemaRoot(vectors);
        } catch (RuntimeException e) {
            vectors.forEach(FieldVector::close);
            throw e;
        }
    }

    private static byte[] string(int row) {
        return ("r" + row).getBytes(StandardCharsets.UTF_8);
    }

    /** Checks every value of rows {@code [from, from + count)} of a batch {@link #build} made, now at row 0. */
    static void verify(VectorSchemaRoot batch, int from, int count) {
        assertEquals(count, batch.getRowCount());
        IntVector ints = (IntVector) batch.getVector("ints");
        BigIntVector longs = (BigIntVector) batch.getVector("longs");
        Float8Vector doubles = (Float8Vector) batch.getVector("doubles");
        VarCharVector strings = (VarCharVector) batch.getVector("strings");
        StructVector struct = (StructVector) batch.getVector("struct");
        IntVector a = struct.getChild("a", IntVector.class);
        BigIntVector b = struct.getChild("b", BigIntVector.class);
        ListVector list = (ListVector) batch.getVector("list");
        IntVector elements = (IntVector) list.getDataVector();
        for (int r = 0; r < count; r++) {
            int i = from + r;
            if (i % 10 == 0) {
                assertTrue(ints.isNull(r), "row " + i);
            } else if (ints.get(r) != i * 7) {
                assertEquals(i * 7, ints.get(r), "row " + i);
            }
            if (longs.get(r) != i * 1_000_003L || doubles.get(r) != i * 0.5 || a.get(r) != i || b.get(r) != -i) {
                throw new AssertionError("row " + i + ": " + longs.get(r) + ", " + doubles.get(r) + ", "
                        + a.get(r) + ", " + b.get(r));
            }
            if (!java.util.Arrays.equals(string(i), strings.get(r))) {
                throw new AssertionError("row " + i + ": " + strings.getObject(r));
            }
            int start = list.getElementStartIndex(r);
            int end = list.getElementEndIndex(r);
            assertEquals(i % 4, end - start, "row " + i);
            for (int k = 0; k < end - start; k++) {
                assertEquals(i + k, elements.get(start + k), "row " + i);
            }
        }
    }
}
