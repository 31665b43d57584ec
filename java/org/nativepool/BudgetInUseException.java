package org.nativepool;

/**
 * A {@link MemoryBudget} was closed while still in use: something is attached
 * to it, a child budget of it is open, or bytes are still reserved. The
 * budget stays open and unchanged.
 */
public class BudgetInUseException extends NativePoolException {
    private static final long serialVersionUID = 1L;

    /** @param message the detail message, saying what still uses the budget */
    public BudgetInUseException(String message) {
        super(message);
    }
}
