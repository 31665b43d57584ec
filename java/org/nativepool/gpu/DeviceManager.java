package org.nativepool.gpu;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import javax.management.ObjectName;
import org.nativepool.FeatureUnavailableException;
import org.nativepool.InvalidArgumentException;
import org.nativepool.LeakDetection;
import org.nativepool.LeakDetector;
import org.nativepool.MemoryKind;
import org.nativepool.MemorySnapshot;
import org.nativepool.SafetyLevel;
import org.nativepool.internal.GpuNative;
import org.nativepool.internal.InFlightGuard;
import org.nativepool.internal.LeakOwner;
import org.nativepool.internal.LeakTracker;
import org.nativepool.internal.MBeans;
import org.nativepool.internal.NativeLibrary;
import org.nativepool.internal.SnapshotArrays;
import org.nativepool.internal.ViewGuard;

/**
 * All GPUs of one runtime, each with its own stream-ordered device pool, plus
 * one pinned host pool shared by all of them. Peer access is enabled between
 * every pair of devices that supports it.
 *
 * <p>{@link #open()} manages the CUDA devices of this machine;
 * {@link #simulated(int, long)} manages simulated devices backed by host
 * memory, which behave like CUDA devices (streams run in order on worker
 * threads, events complete when their stream reaches them) so that GPU code
 * can be tested on machines without one.
 *
 * <p>Closing the manager releases every pool, stream and event it made;
 * buffers, streams and events still open become inert (their close does
 * nothing, other calls throw {@link org.nativepool.PoolClosedException}).
 *
 * <p>Its {@link LeakDetection} decides which buffers report being dropped
 * without {@code close()}, with the stack that allocated them (see
 * {@link LeakDetector}); buffers still open when the manager closes are no
 * leaks of their own.
 *
 * <p>Each of its pools reports the regions it maps and unmaps as the Flight
 * Recorder events {@code org.nativepool.RegionMapped} and
 * {@code RegionUnmapped}, as the pool {@code <name>:device<i>} or
 * {@code <name>:pinned} (docs/observability.md).
 */
public final class DeviceManager implements AutoCloseable {
    /** Numbers the managers of this JVM, so that messages tell two of them apart. */
    private static final AtomicInteger NEXT_ID = new AtomicInteger(1);

    private final int id;
    private final String runtime;
    private final String name;
    /** Its JMX beans' names, set once by the builder; empty when not registered. */
    private volatile List<ObjectName> jmx = List.of();
    private final List<Device> devices;
    private final LeakDetection leakDetection;
    private final boolean reclaimLeakedBlocks;
    /** The leak detector's view of each device pool, by device index. */
    private final List<BufferLeaks> deviceLeaks;
    /** The leak detector's view of the pinned pool. */
    private final BufferLeaks pinnedLeaks;
    /** Every native call on the manager, or on a stream, event or buffer of it, holds it. */
    final InFlightGuard guard;
    /** Closed by {@link #close()}: destroys the native manager once no pinned view is reachable. */
    final ViewGuard views;

    private DeviceManager(long handle, int id, String name, LeakDetection leakDetection,
            boolean reclaimLeakedBlocks) {
        this.id = id;
        this.guard = new InFlightGuard(this, handle);
        this.views = new ViewGuard(() -> GpuNative.destroyManager(handle));
        this.runtime = GpuNative.runtimeName(handle);
        this.name = name;
        this.leakDetection = leakDetection;
        this.reclaimLeakedBlocks = reclaimLeakedBlocks;
        int count = GpuNative.deviceCount(handle);
        List<Device> list = new ArrayList<>(count);
        List<BufferLeaks> leaks = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            Device device = new Device(this, i);
            list.add(device);
            leaks.add(new BufferLeaks(i, device.poolName()));
        }
        this.devices = Collections.unmodifiableList(list);
        this.deviceLeaks = List.copyOf(leaks);
        this.pinnedLeaks = new BufferLeaks(GpuNative.PINNED, pinnedPoolName());
    }

    /**
     * Manages the CUDA devices of this machine with default pool settings.
     *
     * @return the manager; close it to release all its memory
     * @throws NoCudaDeviceException if CUDA is compiled in but there is no driver or no GPU
     * @throws FeatureUnavailableException if this build has no CUDA support
     */
    public static DeviceManager open() {
        return builder().build();
    }

    /**
     * Manages {@code devices} simulated devices of {@code capacityPerDevice}
     * bytes each, backed by host memory taken as it is allocated.
     *
     * @param devices how many devices, at least 1
     * @param capacityPerDevice the memory of each device, in bytes, at least 1
     * @return the manager; close it to release all its memory
     * @throws InvalidArgumentException for fewer than 1 device or a capacity below 1 byte
     */
    public static DeviceManager simulated(int devices, long capacityPerDevice) {
        return builder().simulated(devices, capacityPerDevice).build();
    }

    /** {@return a new builder of the settings of a manager and its pools} */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * {@return the name given at build time, or the runtime's name and a
     * sequence number} It names the manager's JMX beans.
     */
    public String name() {
        return name;
    }

    /**
     * {@return the name of the pinned host pool, {@code <manager>:pinned}} Its
     * name in snapshots, leak reports, Flight Recorder events and JMX, as
     * {@link Device#poolName()} is a device pool's.
     */
    public String pinnedPoolName() {
        return name + ":pinned";
    }

    /** {@return the runtime's name: {@code "cuda"} or {@code "simulated"}} */
    public String runtimeName() {
        return runtime;
    }

    /** {@return the number of devices, at least 1} */
    public int deviceCount() {
        return devices.size();
    }

    /**
     * The device with this ordinal: the explicit selection policy.
     *
     * @param index the device ordinal, from 0 to {@link #deviceCount()} - 1
     * @return the device
     * @throws IndexOutOfBoundsException if there is no such device
     */
    public Device device(int index) {
        return devices.get(index);
    }

    /** {@return every device, by ordinal, in an unmodifiable list} */
    public List<Device> devices() {
        return devices;
    }

    /** {@return which buffers the leak detector tracks} */
    public LeakDetection leakDetection() {
        return leakDetection;
    }

    /**
     * {@return whether the leak detector frees the block of a buffer dropped without
     * {@code close()}}
     */
    public boolean reclaimLeakedBlocks() {
        return reclaimLeakedBlocks;
    }

    /**
     * Picks a device by policy.
     *
     * @param policy how to pick
     * @return the device picked
     */
    public Device select(SelectionPolicy policy) {
        Objects.requireNonNull(policy, "policy");
        long manager = guard.acquire();
        try {
            return devices.get(GpuNative.selectDevice(manager, policy.code, -1));
        } finally {
            guard.release();
        }
    }

    /**
     * {@return whether {@code device} addresses {@code peer}'s memory directly} Peer
     * copies work either way. False for a device and itself.
     *
     * @param device the device whose work would address the memory
     * @param peer the device the memory lives on
     * @throws InvalidArgumentException if either device belongs to another manager
     */
    public boolean peerAccess(Device device, Device peer) {
        requireOwn(device.manager(), device);
        requireOwn(peer.manager(), peer);
        long manager = guard.acquire();
        try {
            return GpuNative.peerAccess(manager, device.index(), peer.index());
        } finally {
            guard.release();
        }
    }

    /**
     * A pinned host buffer usable at once; its close() frees it immediately.
     *
     * @param size the bytes wanted, at least 1; the block holds them rounded up to 256
     * @return the buffer
     * @throws org.nativepool.OutOfPoolMemoryException if the pinned pool cannot grow
     */
    public PinnedBuffer allocatePinned(long size) {
        return new PinnedBuffer(this, allocate(GpuNative.PINNED, size, null), size, null);
    }

    /**
     * A pinned host buffer for work on {@code stream}: it may reuse a block
     * freed on that stream whose copies are still in flight, so the host must
     * only touch it after work on the stream has reached this point. Its
     * close() frees it in the order of {@code stream}.
     *
     * @param size the bytes wanted, at least 1; the block holds them rounded up to 256
     * @param stream the stream the buffer is for, of any device of this manager
     * @return the buffer
     * @throws org.nativepool.OutOfPoolMemoryException if the pinned pool cannot grow
     */
    public PinnedBuffer allocatePinned(long size, CudaStream stream) {
        Objects.requireNonNull(stream, "stream");
        return new PinnedBuffer(this, allocate(GpuNative.PINNED, size, stream), size, stream);
    }

    /** {@return a snapshot of the figures summed over all devices, with {@code device} -1} */
    public DeviceStats stats() {
        return stats(GpuNative.AGGREGATE, -1);
    }

    /** {@return a snapshot of the figures of the pinned host pool} */
    public DeviceStats pinnedStats() {
        return stats(GpuNative.PINNED, -1);
    }

    /**
     * {@return a snapshot of the memory of {@code device}'s pool} Blocks freed
     * on a stream and not yet reused are cached.
     *
     * @param device a device of this manager
     * @throws org.nativepool.PoolClosedException if the manager is closed
     * @throws InvalidArgumentException if the device belongs to another manager
     */
    public MemorySnapshot snapshot(Device device) {
        Objects.requireNonNull(device, "device");
        if (device.manager() != this) {
            throw new InvalidArgumentException(device + " belongs to another manager than " + this);
        }
        return snapshot(device.index(), device.poolName(), MemoryKind.DEVICE, device.index());
    }

    /**
     * {@return a snapshot of the memory of the pinned host pool}
     *
     * @throws org.nativepool.PoolClosedException if the manager is closed
     */
    public MemorySnapshot pinnedSnapshot() {
        return snapshot(GpuNative.PINNED, pinnedPoolName(), MemoryKind.PINNED_HOST, -1);
    }

    private MemorySnapshot snapshot(int pool, String name, MemoryKind kind, int device) {
        Instant takenAt = Instant.now();
        Object[] arrays;
        long manager = guard.acquire();
        try {
            arrays = GpuNative.snapshot(manager, pool);
        } finally {
            guard.release();
        }
        return new MemorySnapshot(name, "device", kind, device, 0, takenAt, false, SnapshotArrays.regions(arrays));
    }

    DeviceStats stats(int pool, int device) {
        long[] fields = new long[DeviceStats.FIELD_COUNT];
        long manager = guard.acquire();
        try {
            GpuNative.stats(manager, pool, fields);
        } finally {
            guard.release();
        }
        return DeviceStats.fromNative(device, fields);
    }

    long allocate(int pool, long size, CudaStream stream) {
        long manager = guard.acquire();
        try {
            if (stream == null) {
                return GpuNative.allocate(manager, pool, size, 0L);
            }
            requireOwn(stream.manager(), stream);
            long handle = stream.guard.acquire();
            try {
                return GpuNative.allocate(manager, pool, size, handle);
            } finally {
                stream.guard.release();
            }
        } finally {
            guard.release();
        }
    }

    /**
     * Handles of one manager mean nothing to another (each has its own
     * runtime), so mixing them is refused before it reaches native code.
     */
    void requireOwn(DeviceManager owner, Object handle) {
        Objects.requireNonNull(handle, "handle");
        if (owner != this) {
            throw new InvalidArgumentException(handle + " belongs to " + owner + ", not to " + this);
        }
    }

    /** Starts tracking a new buffer of {@code pool}, or returns null when the level does not select it. */
    LeakTracker trackLeak(PooledBuffer buffer, int pool, long address, long size, CudaStream stream) {
        BufferLeaks owner = pool == GpuNative.PINNED ? pinnedLeaks : deviceLeaks.get(pool);
        return LeakDetector.track(buffer, owner, address, size, stream);
    }

    /** {@return true once {@link #close()} has succeeded} */
    public boolean isClosed() {
        return guard.isClosed();
    }

    /**
     * Releases every pool, stream and event of the manager; the buffers still
     * open are no leaks of their own. Later calls are no-ops.
     *
     * @throws org.nativepool.PoolBusyException if another thread is inside a call on the manager
     */
    @Override
    public void close() {
        if (!guard.close()) {
            return;
        }
        MBeans.unregister(jmx);
        // Marked before the release, so that a dropped buffer's cleaner that finds the manager
        // closed also finds its owner closed, and reports nothing.
        for (BufferLeaks leaks : deviceLeaks) {
            leaks.closeAll();
        }
        pinnedLeaks.closeAll();
        views.close(); // destroys the manager now, or when the last pinned view goes
    }

    @Override
    public String toString() {
        return "DeviceManager#" + id + "[" + runtime + ", " + devices.size() + " device(s)]";
    }

    /** One pool of the manager (a device's or the pinned one) as the leak detector sees it. */
    private final class BufferLeaks extends LeakOwner<CudaStream> {
        private final int pool;

        BufferLeaks(int pool, String name) {
            super(name, leakDetection, reclaimLeakedBlocks);
            this.pool = pool;
        }

        @Override
        public boolean freeLeaked(long address, CudaStream stream) {
            return PooledBuffer.release(DeviceManager.this, pool, address, stream);
        }

        @Override
        protected boolean ownerClosing() {
            return DeviceManager.this.isClosed();
        }
    }

    /** Settings of a {@link DeviceManager}; every size is in bytes. */
    public static final class Builder {
        private boolean simulated;
        private int simulatedDevices;
        private long simulatedCapacity;
        private long arenaSize = 64L << 20;
        private long maxBytesPerDevice;
        private long pinnedArenaSize = 16L << 20;
        private long pinnedMaxBytes;
        private SafetyLevel safetyLevel;
        private LeakDetection leakDetection;
        private boolean reclaimLeakedBlocks = true;
        private String name;
        /** Null: the system property {@code nativepool.jmx} decides. */
        private Boolean jmx;

        private Builder() {
        }

        /**
         * A name for JMX (and for what names the manager). Default: the runtime's name and a sequence number.
         *
         * @param name the name, not null
         * @return this builder
         */
        public Builder name(String name) {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /**
         * Registers the manager's {@link DevicePoolMXBean}s until it closes: its sum over the devices, each
         * device's pool and the pinned pool. Default: the system property {@code nativepool.jmx} ({@code true}
         * or {@code false}; off when unset), as for pools.
         *
         * @param register whether to register
         * @return this builder
         */
        public Builder jmx(boolean register) {
            this.jmx = register;
            return this;
        }

        /**
         * Simulated devices instead of CUDA ones; without this call the manager
         * opens the CUDA devices. {@link #build()} refuses fewer than 1 device or
         * a capacity below 1 byte.
         *
         * @param devices how many devices, at least 1
         * @param capacityPerDevice the memory of each simulated device, in bytes, at least 1
         * @return this builder
         */
        public Builder simulated(int devices, long capacityPerDevice) {
            this.simulated = true;
            this.simulatedDevices = devices;
            this.simulatedCapacity = capacityPerDevice;
            return this;
        }

        /**
         * Growth step of each device pool, capped at a quarter of the device.
         * Default 64 MiB.
         *
         * @param bytes a multiple of 256
         * @return this builder
         */
        public Builder arenaSize(long bytes) {
            this.arenaSize = bytes;
            return this;
        }

        /**
         * Cap on what each device pool reserves.
         *
         * @param bytes a byte count, or 0 (the default) for what the device has
         * @return this builder
         */
        public Builder maxBytesPerDevice(long bytes) {
            this.maxBytesPerDevice = bytes;
            return this;
        }

        /**
         * Growth step of the pinned host pool. Default 16 MiB.
         *
         * @param bytes a multiple of 256
         * @return this builder
         */
        public Builder pinnedArenaSize(long bytes) {
            this.pinnedArenaSize = bytes;
            return this;
        }

        /**
         * Cap on what the pinned host pool reserves.
         *
         * @param bytes a byte count, or 0 (the default) for no limit
         * @return this builder
         */
        public Builder pinnedMaxBytes(long bytes) {
            this.pinnedMaxBytes = bytes;
            return this;
        }

        /**
         * What every pool of the manager checks of the way its memory is
         * used. Device pools check their guards by copying them back to the
         * host, which makes every allocation and free synchronous with the
         * device: a debugging aid. Default {@link SafetyLevel#defaultLevel()}.
         *
         * @param safetyLevel the level, not null
         * @return this builder
         */
        public Builder safetyLevel(SafetyLevel safetyLevel) {
            this.safetyLevel = Objects.requireNonNull(safetyLevel, "safetyLevel");
            return this;
        }

        /**
         * Which {@link DeviceBuffer}s and {@link PinnedBuffer}s record the
         * stack that allocated them, to be reported if dropped without
         * {@code close()}. Default {@link LeakDetection#defaultFor(SafetyLevel)}
         * of the manager's safety level.
         *
         * @param leakDetection the level, not null
         * @return this builder
         */
        public Builder leakDetection(LeakDetection leakDetection) {
            this.leakDetection = Objects.requireNonNull(leakDetection, "leakDetection");
            return this;
        }

        /**
         * Whether the leak detector frees the block of a buffer dropped
         * without {@code close()}, as {@code close()} would (in the order of
         * its stream, if that is still open). Default true; false when other
         * code (a kernel, a library) may still use the memory: the block then
         * stays allocated until the manager closes.
         *
         * @param reclaimLeakedBlocks whether to free the blocks of dropped buffers
         * @return this builder
         */
        public Builder reclaimLeakedBlocks(boolean reclaimLeakedBlocks) {
            this.reclaimLeakedBlocks = reclaimLeakedBlocks;
            return this;
        }

        /**
         * Creates the manager and its pools.
         *
         * @return the manager; close it to release all its memory
         * @throws NoCudaDeviceException for CUDA without a driver or a GPU
         * @throws FeatureUnavailableException for CUDA in a build without CUDA support
         * @throws org.nativepool.InvalidArgumentException if a setting is out of range
         * @throws org.nativepool.PoolNameInUseException if the manager registers with JMX and another
         *     registered manager has its name; nothing of it is then left
         */
        public DeviceManager build() {
            NativeLibrary.ensureLoaded();
            SafetyLevel level = safetyLevel != null ? safetyLevel : SafetyLevel.defaultLevel();
            LeakDetection leaks = leakDetection != null ? leakDetection : LeakDetection.defaultFor(level);
            // Ordinals are the native codes: SafetyLevel is append only.
            int id = NEXT_ID.getAndIncrement();
            // Named before it exists: its pools' region events carry the name from the first region on.
            String resolved = name != null ? name : (simulated ? "simulated" : "cuda") + "-" + id;
            DeviceManager manager = new DeviceManager(GpuNative.createManager(simulated, simulatedDevices,
                    simulatedCapacity, arenaSize, maxBytesPerDevice, pinnedArenaSize, pinnedMaxBytes, level.ordinal(),
                    resolved), id, resolved, leaks, reclaimLeakedBlocks);
            if (MBeans.wanted(jmx)) {
                manager.jmx = MBeans.registerOrClose(() -> DeviceJmx.register(manager), manager::close);
            }
            return manager;
        }
    }
}
