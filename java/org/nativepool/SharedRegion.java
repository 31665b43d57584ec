package org.nativepool;

/**
 * How another process maps the region a block lies in: map {@code length}
 * bytes of file descriptor {@code fd} of this process (another process opens
 * {@code /proc/<pid>/fd/<fd>}, or inherits it) at {@code fileOffset}; the block
 * starts {@code blockOffset} bytes into that mapping. Obtained from
 * {@link Backend#exportRegion(MemoryBlock)}.
 *
 * @param fd the file descriptor, open as long as the region
 * @param fileOffset where the region starts in the file
 * @param length the region's length
 * @param blockOffset where the block starts in the region
 */
public record SharedRegion(int fd, long fileOffset, long length, long blockOffset) {
}
