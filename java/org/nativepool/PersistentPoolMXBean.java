package org.nativepool;

/**
 * A {@link PersistentPool} as JMX clients see it, registered as
 * {@code org.nativepool:type=Pool,name=<the heap file's absolute path>} when
 * the pool is created or opened with {@link PersistentPool.Options#jmx(boolean)
 * jmx(true)} or under the system property {@code nativepool.jmx=true}, and
 * unregistered when it closes. Each attribute is a plain getter read fresh from
 * {@link PersistentPool#stats()}, so the set grows by new getters without
 * breaking clients, as {@link PoolMXBean}'s does. nativepool implements this
 * interface; clients only read it.
 */
public interface PersistentPoolMXBean {
    /** {@return the heap file's absolute path, the name in the bean's name} */
    String getName();

    /** {@return {@code persistent}} */
    String getAlgorithm();

    /** {@return how stores are made durable: a {@link Durability} name} */
    String getDurability();

    /** {@return whether durability is deferred to {@link PersistentPool#flush()}} */
    boolean isGroupCommit();

    /** {@return the file's size in bytes} */
    long getCapacity();

    /** {@return bytes blocks can use} */
    long getHeapBytes();

    /** {@return blocks in the heap's table} */
    long getLiveBlocks();

    /** {@return the sizes those blocks were requested with} */
    long getBytesInUse();

    /** {@return the 64-byte units they occupy} */
    long getUnitsInUse();

    /** {@return bytes free for new blocks} */
    long getFreeBytes();

    /** {@return the largest single block that fits now} */
    long getLargestFree();

    /** {@return free extents (holes)} */
    long getFreeExtents();

    /** {@return 1 - largestFree / freeBytes, or 0 when nothing is free} */
    double getExternalFragmentation();

    /** {@return blocks published or committed since this open} */
    long getAllocations();

    /** {@return blocks freed since this open} */
    long getFrees();

    /** {@return bytes named to flush since this open} */
    long getFlushedBytes();

    /** {@return persist points (drains) since this open} */
    long getPersistPoints();

    /** {@return 1 when opening replayed an interrupted atomic operation} */
    long getRecoveredRedo();

    /** {@return ranges opening rolled back from an interrupted transaction} */
    long getRecoveredUndo();
}
