/**
 * nativepool: memory pools whose blocks live in native memory (host, NUMA,
 * pinned and GPU), with exact statistics, leak detection and guard bytes.
 *
 * <p>The module exports its API packages only. {@code org.nativepool.internal}
 * (the JNI entry points, the in-flight and view guards) and
 * {@code org.nativepool.cli} (the JAR's main class, which {@code java -m
 * org.nativepool} runs without an export) stay sealed: code on the module path
 * cannot link against them or reflect into them. On the class path the JAR is
 * one unnamed module and nothing is sealed, which is why the native side
 * validates every handle it is given as well (see docs/design.md, "Handle
 * table").
 *
 * <p>Adding a package: an API package gets an {@code exports} line here, in
 * alphabetical order, and is left out of the javadoc plugin's
 * {@code excludePackageNames} in pom.xml; an internal package gets neither.
 * A package that needs an optional module (one a user may not have, such as a
 * library the package integrates with) declares it {@code requires static},
 * loads its classes only on the paths that use it, and reports the module's
 * absence through {@code Features}; a package built as a separate artifact
 * (as the Arrow integration is) gets a module-info of its own that
 * {@code requires org.nativepool} instead of a line here.
 */
module org.nativepool {
    // PoolJmx registers MXBeans; PoolEvents defines Flight Recorder events;
    // MemoryBudget.ofDirectMemoryLimit reads HotSpot's MaxDirectMemorySize.
    requires java.management;
    requires jdk.jfr;
    requires jdk.management;

    exports org.nativepool;
    exports org.nativepool.gpu;
    exports org.nativepool.testing;
}
