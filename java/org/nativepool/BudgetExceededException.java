package org.nativepool;

/**
 * A {@link MemoryBudget} refused a reservation: the bytes asked for would have
 * taken it, or one of its ancestors, past its limit. Names the budget that
 * refused, which is not necessarily the one asked: a child within its own
 * limit is refused when its parent is full. The refusal changed no counter.
 */
public class BudgetExceededException extends OutOfPoolMemoryException {
    private static final long serialVersionUID = 1L;

    /** The name of the budget that refused. */
    private final String budget;
    /** That budget's limit. */
    private final long limitBytes;
    /** Bytes that budget held reserved when it refused. */
    private final long usedBytes;

    /**
     * @param message the detail message, naming the budget and its figures
     * @param budget the name of the budget that refused
     * @param requestedBytes bytes the refused reservation asked for
     * @param limitBytes that budget's limit
     * @param usedBytes bytes that budget held reserved when it refused
     */
    public BudgetExceededException(String message, String budget, long requestedBytes, long limitBytes,
            long usedBytes) {
        super(message, requestedBytes, Math.max(0, limitBytes - usedBytes), Math.max(0, limitBytes - usedBytes),
                0, 0.0);
        this.budget = budget;
        this.limitBytes = limitBytes;
        this.usedBytes = usedBytes;
    }

    /** {@return the name of the budget that refused} */
    public String budget() {
        return budget;
    }

    /** {@return the limit of the budget that refused, in bytes} */
    public long limitBytes() {
        return limitBytes;
    }

    /** {@return the bytes the refusing budget held reserved when it refused} */
    public long usedBytes() {
        return usedBytes;
    }
}
