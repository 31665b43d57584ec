package org.nativepool;

/**
 * A pool as JMX clients (JConsole, VisualVM, exporters) see it, registered
 * as {@code org.nativepool:type=Pool,name=<pool name>} when the pool is built
 * with {@link PoolBuilder#jmx(boolean) jmx(true)} or under the system
 * property {@code nativepool.jmx=true}, and unregistered when it closes.
 *
 * <p>Every attribute is a plain getter of a simple type, read fresh from
 * {@link Pool#stats()} on each call: new attributes are new getters, so
 * clients that name attributes keep working as the set grows, and no
 * attribute's type ever changes shape (no composite of a record that gains
 * fields). nativepool implements this interface; clients only read it.
 */
public interface PoolMXBean {
    /** {@return the pool's name} */
    String getName();

    /** {@return {@code fixed} or {@code variable}} */
    String getAlgorithm();

    /** {@return a fixed pool's block size; 0 for variable pools} */
    long getBlockSize();

    /** {@return where the memory lives: a {@link MemoryKind} name} */
    String getMemoryKind();

    /** {@return the backend's name, as {@link Pool#toString()} shows it} */
    String getBackend();

    /** {@return the {@link ThreadSafety} name} */
    String getThreadSafety();

    /** {@return the {@link SafetyLevel} name} */
    String getSafetyLevel();

    /** {@return the {@link LeakDetection} name} */
    String getLeakDetection();

    /** {@return the {@link LeakPolicy} name} */
    String getLeakPolicy();

    /** {@return {@link Pool#threadCacheCapacity()}: 0 without thread caches} */
    int getThreadCacheCapacity();

    /** {@return {@link PoolStats#allocations()}} */
    long getAllocations();

    /** {@return {@link PoolStats#frees()}} */
    long getFrees();

    /** {@return {@link PoolStats#failures()}} */
    long getFailures();

    /** {@return {@link PoolStats#liveBlocks()}} */
    long getLiveBlocks();

    /** {@return {@link PoolStats#bytesInUse()}} */
    long getBytesInUse();

    /** {@return {@link PoolStats#peakBytesInUse()}} */
    long getPeakBytesInUse();

    /** {@return {@link PoolStats#bytesReserved()}} */
    long getBytesReserved();

    /** {@return {@link PoolStats#peakBytesReserved()}} */
    long getPeakBytesReserved();

    /** {@return {@link PoolStats#regions()}} */
    long getRegions();

    /** {@return {@link PoolStats#freeBytes()}} */
    long getFreeBytes();

    /** {@return {@link PoolStats#largestFreeBlock()}} */
    long getLargestFreeBlock();

    /** {@return {@link PoolStats#freeBlocks()}} */
    long getFreeBlocks();

    /** {@return {@link PoolStats#externalFragmentation()}} */
    double getExternalFragmentation();

    /** {@return {@link PoolStats#cachedBlocks()}} */
    long getCachedBlocks();

    /** {@return {@link PoolStats#cachedBytes()}} */
    long getCachedBytes();

    /** {@return {@link PoolStats#utilization()}} */
    double getUtilization();

    /**
     * {@return blocks of the pool whose handle was closed while a view of them was still
     * reachable, kept until the view is collected (counted in {@link #getLiveBlocks()} too)}
     */
    long getQuarantinedBlocks();
}
