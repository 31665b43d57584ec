package org.nativepool;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.nativepool.ChildJvm.JAR;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nativepool.ChildJvm.Result;

/**
 * MemorySegment views (JDK 22+, {@code META-INF/versions/22} of the JAR): an
 * access after the block or its pool closed throws instead of reaching freed
 * memory. The suite is compiled for JDK 17, so the checks run as a program in
 * a JDK 22+ child JVM: this one's when it is recent enough, else the JDK 25
 * the build uses.
 */
class SegmentsTest {
    private static final Path JDK25 = Paths.get("/usr/lib/jvm/temurin-25-jdk-amd64");

    @Test
    void segmentsAreRevokedWhenTheirBlockOrPoolCloses(@TempDir Path directory) throws Exception {
        Path javaHome = Runtime.version().feature() >= 22 ? Paths.get(System.getProperty("java.home")) : JDK25;
        assumeTrue(Files.isExecutable(javaHome.resolve("bin/java")), "no JDK 22 or later here to run segments on");
        Path program = Files.writeString(directory.resolve("SegmentViews.java"), """
                import java.lang.foreign.MemorySegment;
                import java.lang.foreign.ValueLayout;
                import org.nativepool.*;
                public class SegmentViews {
                    static void expectRevoked(String what, Runnable access) {
                        try {
                            access.run();
                            System.out.println("NOT REVOKED: " + what);
                        } catch (IllegalStateException e) {
                            System.out.println("revoked: " + what);
                        }
                    }
                    public static void main(String[] args) {
                        VariablePool pool = VariablePool.builder().build();
                        MemoryBlock block = pool.allocate(64);
                        MemorySegment segment = Segments.of(block);
                        segment.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, 42L);
                        System.out.println("size " + segment.byteSize() + ", reads " + block.getLong(8));
                        try {
                            segment.get(ValueLayout.JAVA_LONG_UNALIGNED, 60);
                        } catch (IndexOutOfBoundsException e) {
                            System.out.println("bounded");
                        }
                        block.close();
                        expectRevoked("after block close", () -> segment.get(ValueLayout.JAVA_LONG_UNALIGNED, 8));
                        MemoryBlock other = pool.allocate(64);
                        MemorySegment second = Segments.of(other);
                        pool.close();
                        expectRevoked("after pool close", () -> second.set(ValueLayout.JAVA_BYTE, 0, (byte) 1));
                        try {
                            Segments.of(other);
                        } catch (PoolClosedException e) {
                            System.out.println("no segment of a closed block");
                        }
                    }
                }
                """);
        Result result = ChildJvm.java(javaHome, directory, "--enable-native-access=ALL-UNNAMED",
                "-Dnativepool.extract.dir=" + directory.resolve("x"), "-cp", JAR.toString(), program.toString());
        assertEquals(0, result.exitCode(), result.output());
        assertTrue(result.output().contains("size 64, reads 42"), result.output());
        assertTrue(result.output().contains("bounded"), result.output());
        assertTrue(result.output().contains("revoked: after block close"), result.output());
        assertTrue(result.output().contains("revoked: after pool close"), result.output());
        assertTrue(result.output().contains("no segment of a closed block"), result.output());
        assertTrue(!result.output().contains("NOT REVOKED"), result.output());
    }
}
