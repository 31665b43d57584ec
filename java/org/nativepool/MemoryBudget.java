package org.nativepool;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import com.sun.management.HotSpotDiagnosticMXBean;

/**
 * A byte limit shared by everything that reserves against it: the pools of one
 * integration (the size classes of an Arrow factory), a query, an operator.
 * Budgets form a tree: a {@link #child(String, long) child} limits its own
 * users and counts against every ancestor, as Arrow's child allocators do, so a
 * reservation succeeds only when it fits in the budget asked and in each of its
 * ancestors.
 *
 * <p>The accounting is lock-free: a reservation adds to each budget on the way
 * up with a compare-and-set that never takes a budget past its limit, and on
 * a refusal takes back what it added below the budget that refused (Arrow's
 * {@code Accountant} does the same with one add per level). A refused
 * reservation therefore leaves every counter, peaks included, as it found
 * it, and the {@link BudgetExceededException} names the budget that refused.
 * Two concurrent reservations that together exceed a limit may both be
 * refused at a level where one alone would have fitted, for the moment one of
 * them holds bytes it then gives back; neither ever exceeds a limit.
 *
 * <p>What a byte is depends on the user's {@link Counting}: the bytes callers
 * asked for ({@link Counting#REQUESTED}, exact and what Arrow's own limits
 * count) or the bytes the pools hold for them ({@link Counting#RESERVED}: each
 * allocation's whole block, size class or stride). The budget only adds and
 * subtracts what its users report; {@code org.nativepool.arrow}'s factory is
 * one such user, charging each buffer. Pools are another: a pool built with
 * {@link PoolBuilder#budget(MemoryBudget)} charges each region it maps from
 * its backend and gives the charge back when the region goes back, so a
 * {@code RESERVED} budget may limit several pools together.
 *
 * <p>Closing a budget is refused ({@link BudgetInUseException}) while
 * something is {@link #attach(String) attached}, a child is open or bytes are
 * reserved; a closed budget refuses reservations, attachments and children
 * ({@link BudgetClosedException}). Reservations come from attached users,
 * so a budget with users never closes under them.
 */
public final class MemoryBudget implements AutoCloseable {
    /** The file of the cgroup v2 memory limit of the calling process's container. */
    static final Path CGROUP_MEMORY_MAX = Path.of("/sys/fs/cgroup/memory.max");
    /** What close() swaps for 0 users: a late attach then counts up from it and stays negative. */
    private static final int CLOSED_USERS = Integer.MIN_VALUE;

    /** What the users of a budget count as one reserved byte. */
    public enum Counting {
        /** The bytes each allocation asked for: exact, and what Arrow's allocator limits count. */
        REQUESTED,
        /**
         * The bytes the pools hold: each allocation's whole block, size class or stride, or, for
         * pools that charge the budget themselves, their regions.
         */
        RESERVED
    }

    private final String name;
    private final long limit;
    private final MemoryBudget parent;
    private final Counting counting;
    private final AtomicLong used = new AtomicLong();
    private final AtomicLong peak = new AtomicLong();
    /** Attachments and open children; {@link #CLOSED_USERS} (and below) once closed. */
    private final AtomicInteger users = new AtomicInteger();
    private volatile boolean closed;

    private MemoryBudget(String name, long limit, MemoryBudget parent, Counting counting) {
        this.name = Objects.requireNonNull(name, "name");
        this.counting = Objects.requireNonNull(counting, "counting");
        if (name.isEmpty()) {
            throw new InvalidArgumentException("a budget needs a name, for the messages that refuse");
        }
        if (limit <= 0) {
            throw new InvalidArgumentException("budget '" + name + "': the limit must be positive, not " + limit);
        }
        if (parent != null && limit > parent.limit) {
            throw new InvalidArgumentException("budget '" + name + "': a child's limit (" + limit
                    + " bytes) cannot exceed its parent '" + parent.name + "''s (" + parent.limit + " bytes)");
        }
        this.limit = limit;
        this.parent = parent;
    }

    /**
     * {@return a root budget of {@code limitBytes} whose users count requested bytes}
     *
     * @param name names the budget in refusals
     * @param limitBytes the limit, positive
     * @throws InvalidArgumentException if the limit is 0 or negative, or the name empty
     */
    public static MemoryBudget of(String name, long limitBytes) {
        return new MemoryBudget(name, limitBytes, null, Counting.REQUESTED);
    }

    /**
     * {@return a root budget of {@code limitBytes} whose users count as {@code counting} says}
     *
     * @param name names the budget in refusals
     * @param limitBytes the limit, positive
     * @param counting what a user counts for each allocation
     * @throws InvalidArgumentException if the limit is 0 or negative, or the name empty
     */
    public static MemoryBudget of(String name, long limitBytes, Counting counting) {
        return new MemoryBudget(name, limitBytes, null, counting);
    }

    /**
     * {@return a root budget limited to the JVM's direct-memory limit} That is
     * {@code -XX:MaxDirectMemorySize}, or the heap's maximum when it is not set,
     * as the JDK decides for direct buffers. Native pools are not counted by the
     * JVM itself; this budget makes their users honour the same figure as
     * direct buffers (and Arrow's Netty manager) do.
     *
     * @param name names the budget in refusals
     * @param counting what a user counts for each allocation
     */
    public static MemoryBudget ofDirectMemoryLimit(String name, Counting counting) {
        return of(name, directMemoryLimit(), counting);
    }

    /**
     * {@return a root budget limited to the memory limit of the process's cgroup}
     * That is the cgroup v2 file {@code /sys/fs/cgroup/memory.max}, a
     * container's limit. The limit covers the whole process, heap included, so
     * a budget of all of it is an upper bound; make a {@link #child} for the
     * share the pools may take.
     *
     * @param name names the budget in refusals
     * @param counting what a user counts for each allocation
     * @throws FeatureUnavailableException if the file is absent or unreadable (no cgroup v2) or
     *     says {@code max} (no limit)
     */
    public static MemoryBudget ofCgroupLimit(String name, Counting counting) {
        return of(name, cgroupLimit(CGROUP_MEMORY_MAX), counting);
    }

    /** {@return the limit a cgroup v2 {@code memory.max} file sets} */
    static long cgroupLimit(Path file) {
        String text;
        try {
            text = Files.readString(file).trim();
        } catch (IOException e) {
            throw new FeatureUnavailableException("no cgroup v2 memory limit to read: " + file + ": " + e);
        }
        if (text.equals("max")) {
            throw new FeatureUnavailableException("the cgroup sets no memory limit (" + file + " says max)");
        }
        try {
            return Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw new FeatureUnavailableException(file + " holds '" + text + "', not a byte count");
        }
    }

    /** {@return the JVM's direct-memory limit, as the JDK computes it for direct buffers} */
    static long directMemoryLimit() {
        HotSpotDiagnosticMXBean vm = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
        long option = vm == null ? 0 : Long.parseLong(vm.getVMOption("MaxDirectMemorySize").getValue());
        return option > 0 ? option : Runtime.getRuntime().maxMemory();
    }

    /**
     * {@return a new budget of {@code limitBytes} that counts against this one and its
     * ancestors} It counts as this budget does; close it before this one.
     *
     * @param name names the child in refusals
     * @param limitBytes the child's own limit, positive and at most this budget's
     * @throws InvalidArgumentException if the limit is 0, negative or above this budget's
     * @throws BudgetClosedException if this budget is closed
     */
    public MemoryBudget child(String name, long limitBytes) {
        MemoryBudget child = new MemoryBudget(name, limitBytes, this, counting);
        addUser();
        return child;
    }

    /**
     * Reserves {@code bytes} in this budget and every ancestor, or none.
     *
     * @param bytes the bytes to reserve, at least 1
     * @throws BudgetExceededException naming the budget whose limit {@code bytes} would pass;
     *     nothing is reserved then
     * @throws InvalidArgumentException if {@code bytes} is 0 or negative
     * @throws BudgetClosedException if this budget is closed
     */
    public void reserve(long bytes) {
        MemoryBudget refused = tryCharge(bytes);
        if (refused != null) {
            throw refused.refusal(bytes, this);
        }
    }

    /**
     * Reserves {@code bytes} as {@link #reserve(long)} does, or answers false
     * where it would throw {@link BudgetExceededException}.
     *
     * @param bytes the bytes to reserve, at least 1
     * @return whether the bytes were reserved
     * @throws InvalidArgumentException if {@code bytes} is 0 or negative
     * @throws BudgetClosedException if this budget is closed
     */
    public boolean tryReserve(long bytes) {
        return tryCharge(bytes) == null;
    }

    /** {@return null when every level took the bytes, else the budget that refused (nothing taken)} */
    private MemoryBudget tryCharge(long bytes) {
        if (bytes <= 0) {
            throw new InvalidArgumentException("budget '" + name + "': cannot reserve " + bytes + " bytes");
        }
        if (closed) {
            throw new BudgetClosedException("budget '" + name + "' is closed");
        }
        for (MemoryBudget level = this; level != null; level = level.parent) {
            if (!level.add(bytes)) {
                for (MemoryBudget below = this; below != level; below = below.parent) {
                    below.used.addAndGet(-bytes);
                }
                return level;
            }
        }
        // Peaks only after every level took the bytes: a refusal moves none.
        for (MemoryBudget level = this; level != null; level = level.parent) {
            level.peak.accumulateAndGet(level.used.get(), Math::max);
        }
        return null;
    }

    /** Adds {@code bytes} if they fit under the limit; never passes it, even for a moment. */
    private boolean add(long bytes) {
        for (;;) {
            long now = used.get();
            if (bytes > limit - now) {
                return false;
            }
            if (used.compareAndSet(now, now + bytes)) {
                return true;
            }
        }
    }

    private BudgetExceededException refusal(long bytes, MemoryBudget asked) {
        long now = used.get();
        String path = asked == this ? "" : " (asked of '" + asked.name + "', within its own limit)";
        return new BudgetExceededException("budget '" + name + "' refused " + bytes + " bytes" + path + ": "
                + Sizes.format(now) + " of " + Sizes.format(limit) + " in use, " + Sizes.format(limit - now)
                + " left", name, bytes, limit, now);
    }

    /**
     * Gives back {@code bytes} reserved in this budget, and in every ancestor.
     *
     * @param bytes bytes reserved earlier through this budget, at least 1
     * @throws InvalidArgumentException if {@code bytes} is 0, negative or more than this budget
     *     holds; nothing changes then
     */
    public void release(long bytes) {
        if (bytes <= 0) {
            throw new InvalidArgumentException("budget '" + name + "': cannot release " + bytes + " bytes");
        }
        for (;;) {
            long now = used.get();
            if (bytes > now) {
                throw new InvalidArgumentException("budget '" + name + "': cannot release " + bytes
                        + " bytes, it holds " + now);
            }
            if (used.compareAndSet(now, now - bytes)) {
                break;
            }
        }
        for (MemoryBudget level = parent; level != null; level = level.parent) {
            level.used.addAndGet(-bytes);
        }
    }

    /**
     * Marks the budget in use by {@code user} (a factory, a pool set) until the
     * returned attachment closes; the budget cannot close before.
     *
     * @param user names the user in the refusal of {@link #close()}
     * @return the attachment; closing it again does nothing
     * @throws BudgetClosedException if the budget is closed
     */
    public Attachment attach(String user) {
        Objects.requireNonNull(user, "user");
        addUser();
        return new Attachment(user);
    }

    private void addUser() {
        if (users.incrementAndGet() < 0) {
            users.decrementAndGet();
            throw new BudgetClosedException("budget '" + name + "' is closed");
        }
    }

    /** A user's hold on a budget: see {@link #attach(String)}. */
    public final class Attachment implements AutoCloseable {
        private final String user;
        private final AtomicInteger open = new AtomicInteger(1);

        private Attachment(String user) {
            this.user = user;
        }

        /** {@return the budget this attachment holds} */
        public MemoryBudget budget() {
            return MemoryBudget.this;
        }

        /** Ends the hold; a second call does nothing. */
        @Override
        public void close() {
            if (open.getAndSet(0) == 1) {
                users.decrementAndGet();
            }
        }

        @Override
        public String toString() {
            return user + " on budget '" + name + "'";
        }
    }

    /**
     * Closes the budget, and releases its share of its parent's users.
     *
     * @throws BudgetInUseException if something is attached, a child is open or bytes are
     *     reserved; the budget stays open
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        long bytes = used.get();
        // One compare-and-set decides against a concurrent attach: either it sees the
        // attachment, or the attach sees the budget closed.
        if (bytes > 0 || !users.compareAndSet(0, CLOSED_USERS)) {
            throw new BudgetInUseException("budget '" + name + "' is still in use: " + Math.max(0, users.get())
                    + " attachment(s) or open child budget(s), " + bytes + " bytes reserved");
        }
        closed = true;
        if (parent != null) {
            parent.users.decrementAndGet();
        }
    }

    /** {@return the name given at construction} */
    public String name() {
        return name;
    }

    /** {@return the limit, in bytes} */
    public long limit() {
        return limit;
    }

    /** {@return the bytes reserved now, by this budget's users and its children's} */
    public long used() {
        return used.get();
    }

    /** {@return the bytes that could be reserved now, by this budget alone; its ancestors may allow fewer} */
    public long available() {
        return limit - used.get();
    }

    /** {@return the most bytes ever reserved at once} */
    public long peak() {
        return peak.get();
    }

    /** {@return the parent, or null for a root budget} */
    public MemoryBudget parent() {
        return parent;
    }

    /** {@return what its users count as one byte} */
    public Counting counting() {
        return counting;
    }

    /** {@return whether {@link #close()} succeeded} */
    public boolean isClosed() {
        return closed;
    }

    @Override
    public String toString() {
        return "MemoryBudget[" + name + ", " + Sizes.format(used.get()) + " of " + Sizes.format(limit) + "]";
    }
}
