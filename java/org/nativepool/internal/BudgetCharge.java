package org.nativepool.internal;

import org.nativepool.BudgetExceededException;
import org.nativepool.MemoryBudget;
import org.nativepool.OutOfPoolMemoryException;

/**
 * Not API. A pool's charge in the {@link MemoryBudget} it was built with
 * ({@code PoolBuilder.budget}): the bytes of the regions it holds from its
 * backend. The glue's budgeted backend calls {@link #charge(long)} before it
 * maps a region and {@link #discharge(long)} after it gave one back, on the
 * thread that grows, trims or destroys the pool, inside the pool's growth
 * lock; allocations and frees that map nothing never come here. A refusal is
 * kept for the thread that asked, so that the pool call it failed can throw
 * the budget's exception ({@link #refusal(OutOfPoolMemoryException)}).
 */
public final class BudgetCharge {
    private final MemoryBudget budget;
    private final String pool;
    private final MemoryBudget.Attachment attachment;
    /** What the budget refused, per thread, until the pool call that asked throws it. */
    private final ThreadLocal<BudgetExceededException> refused = new ThreadLocal<>();
    /** Bytes charged and not given back; guarded by this. */
    private long charged;
    /** Set by {@link #close()}, which gave back every byte; guarded by this. */
    private boolean closed;

    /**
     * Attaches the pool to {@code budget}, which cannot close before {@link #close()}.
     *
     * @param budget the budget, counting {@link MemoryBudget.Counting#RESERVED} bytes
     * @param pool the pool's name, for the attachment and the refusals
     * @throws org.nativepool.BudgetClosedException if the budget is closed
     */
    public BudgetCharge(MemoryBudget budget, String pool) {
        this.budget = budget;
        this.pool = pool;
        this.attachment = budget.attach("pool '" + pool + "'");
    }

    /** {@return the budget the pool charges} */
    public MemoryBudget budget() {
        return budget;
    }

    /** Called by the glue before it maps a region of {@code bytes}: whether the budget took them. */
    synchronized boolean charge(long bytes) {
        try {
            budget.reserve(bytes);
        } catch (BudgetExceededException e) {
            refused.set(e);
            return false;
        }
        charged += bytes;
        return true;
    }

    /**
     * Called by the glue after a region of {@code bytes} went back. After
     * {@link #close()}, which gave back all of them, the regions that views
     * kept (freed when the last view is collected) are charged no more.
     */
    synchronized void discharge(long bytes) {
        if (!closed) {
            charged -= bytes;
            budget.release(bytes);
        }
    }

    /**
     * {@return {@code e} as the budget's refusal when the budget refused a
     * region on this thread in the call that threw {@code e}, with {@code e}
     * (the pool's figures) as its cause; else {@code e} itself}
     *
     * @param e what the pool threw
     */
    public OutOfPoolMemoryException refusal(OutOfPoolMemoryException e) {
        BudgetExceededException said = refused.get();
        if (said == null) {
            return e;
        }
        refused.remove();
        BudgetExceededException refusal = new BudgetExceededException("pool '" + pool + "' cannot grow: "
                + said.getMessage(), said.budget(), said.requestedBytes(), said.limitBytes(), said.usedBytes());
        refusal.initCause(e);
        return refusal;
    }

    /**
     * Gives back every byte still charged and ends the pool's hold on the
     * budget; when the pool closes, or its native pool could not be built.
     * A second call does nothing.
     */
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (charged > 0) {
            budget.release(charged);
            charged = 0;
        }
        attachment.close();
    }
}
