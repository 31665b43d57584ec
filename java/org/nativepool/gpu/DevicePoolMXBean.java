package org.nativepool.gpu;

/**
 * A {@link DeviceManager}'s figures as JMX clients see them, registered when
 * the manager is built with {@link DeviceManager.Builder#jmx(boolean)
 * jmx(true)} or under the system property {@code nativepool.jmx=true}, and
 * unregistered when it closes: the sum over its devices as
 * {@code org.nativepool:type=DeviceManager,name=<manager name>}, and each of
 * its pools as {@code org.nativepool:type=DeviceManager,name=<manager name>,pool=device<i>}
 * or {@code ...,pool=pinned}. Each attribute is a plain getter read fresh from
 * {@link DeviceStats}, so the set grows by new getters without breaking
 * clients. nativepool implements this interface; clients only read it.
 */
public interface DevicePoolMXBean {
    /** {@return the manager's name} */
    String getManager();

    /** {@return the runtime's name: {@code cuda} or {@code simulated}} */
    String getRuntime();

    /** {@return {@code device<i>}, {@code pinned}, or {@code all} for the sum over the devices} */
    String getPool();

    /** {@return free device memory as the driver reports it: {@link DeviceStats#deviceFreeBytes()}} */
    long getDeviceFreeBytes();

    /** {@return total device memory: {@link DeviceStats#deviceTotalBytes()}} */
    long getDeviceTotalBytes();

    /** {@return blocks allocated and not freed} */
    long getLiveBlocks();

    /** {@return bytes of the live blocks (rounded to 256)} */
    long getBytesInUse();

    /** {@return blocks freed on a stream and kept for reuse} */
    long getCachedBlocks();

    /** {@return their bytes} */
    long getCachedBytes();

    /** {@return allocations served at once by a block freed on the same stream} */
    long getReusedSameStream();

    /** {@return allocations served by a block of another stream whose free had completed} */
    long getReusedAfterEvent();

    /** {@return allocations served by a block of another stream after waiting on its free event} */
    long getReusedAfterWait();

    /** {@return allocations served by the pool beneath the stream caches} */
    long getUpstreamAllocations();

    /** {@return memory the pool holds} */
    long getReservedBytes();

    /** {@return the most memory the pool held} */
    long getPeakReservedBytes();

    /** {@return free bytes inside the memory the pool holds} */
    long getPoolFreeBytes();

    /** {@return the largest request the pool can serve without growing} */
    long getLargestFreeBlock();

    /** {@return free blocks (holes) inside the memory the pool holds, cached blocks not counted} */
    long getPoolFreeBlocks();
}
