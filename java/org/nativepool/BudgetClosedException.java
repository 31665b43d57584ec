package org.nativepool;

/**
 * A closed {@link MemoryBudget} was asked to reserve bytes, to attach a user or
 * to make a child.
 */
public class BudgetClosedException extends NativePoolException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, naming the budget */
    public BudgetClosedException(String message) {
        super(message);
    }
}
