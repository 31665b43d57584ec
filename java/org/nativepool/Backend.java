package org.nativepool;

import java.util.Objects;

/**
 * The upstream memory a pool reserves its chunks and arenas from. Pools carve
 * these large regions into blocks; the backend is asked again only to grow.
 */
public final class Backend {
    private static final Backend MALLOC = new Backend(0, 0, "malloc");
    private static final Backend MMAP = new Backend(1, 0, "mmap");
    private static final Backend HUGE_PAGES = new Backend(2, 0, "mmap+thp");

    private final int type;
    private final int parameter;
    private final String name;

    private Backend(int type, int parameter, String name) {
        this.type = type;
        this.parameter = parameter;
        this.name = name;
    }

    /**
     * {@return the backend that takes regions from the C heap ({@code aligned_alloc})}
     * The default.
     */
    public static Backend malloc() {
        return MALLOC;
    }

    /**
     * {@return the backend of anonymous {@code mmap} regions} Trimmed regions go back
     * to the kernel.
     */
    public static Backend mmap() {
        return MMAP;
    }

    /**
     * {@return the backend of anonymous {@code mmap} regions advised for
     * transparent huge pages} Falls back to small pages where the kernel offers
     * none ({@link Features#hugePages()} tells).
     */
    public static Backend hugePages() {
        return HUGE_PAGES;
    }

    int type() {
        return type;
    }

    int parameter() {
        return parameter;
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Backend that && type == that.type && parameter == that.parameter;
    }

    @Override
    public int hashCode() {
        return Objects.hash(type, parameter);
    }

    @Override
    public String toString() {
        return name;
    }
}
