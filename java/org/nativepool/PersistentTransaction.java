package org.nativepool;

/**
 * A transaction on a {@link PersistentPool}, from {@link PersistentPool#begin()}:
 * {@link #snapshot} a range before changing it, allocate and free blocks,
 * set roots, then {@link #commit()}. Closing without a commit (an exception
 * in the {@code try} block) rolls everything back: snapshotted ranges get
 * their old bytes, allocated blocks vanish, frees are undone. A crash before
 * the commit returns is rolled back the same way when the pool is next opened.
 *
 * <pre>{@code
 * try (PersistentTransaction tx = pool.begin()) {
 *     tx.snapshot(account, 0, 8);
 *     account.putLong(0, account.getLong(0) - 10);
 *     tx.commit();
 * }
 * }</pre>
 *
 * <p>One transaction at a time per pool; while it is open the pool's atomic
 * operations ({@code allocate}, {@code reserve}, {@code free}) are refused.
 */
public final class PersistentTransaction implements AutoCloseable {
    private final PersistentPool pool;
    private boolean open = true;

    PersistentTransaction(PersistentPool pool) {
        this.pool = pool;
    }

    /**
     * Saves {@code [offset, offset + length)} of {@code block} so that a rollback restores it; change the range
     * after this returns.
     *
     * @param block a live block
     * @param offset offset within it
     * @param length bytes, at least 1
     * @throws OutOfPoolMemoryException when the undo log is full (the transaction stays usable)
     */
    public void snapshot(PersistentBlock block, long offset, long length) {
        checkOpen();
        pool.txSnapshot(block, offset, length);
    }

    /**
     * {@return a zeroed block that exists only if the transaction commits}
     *
     * @param size bytes, at least 1
     */
    public PersistentBlock allocate(long size) {
        checkOpen();
        return pool.txAllocate(size);
    }

    /**
     * Frees {@code block} when the transaction commits.
     *
     * @param block a live block
     */
    public void free(PersistentBlock block) {
        checkOpen();
        pool.txFree(block);
    }

    /**
     * Stores {@code block} (or null for none) in root {@code index}, undone by a rollback.
     *
     * @param index the root, 0 to {@link PersistentPool#ROOTS} - 1
     * @param block the block, or null
     */
    public void setRoot(int index, PersistentBlock block) {
        checkOpen();
        pool.txSetRoot(index, block);
    }

    /** Makes every change durable and ends the transaction. */
    public void commit() {
        checkOpen();
        pool.txCommit();
        open = false;
    }

    /** Rolls back unless committed; later calls do nothing. */
    @Override
    public void close() {
        if (open) {
            open = false;
            pool.txAbort();
        }
    }

    private void checkOpen() {
        if (!open) {
            throw new InvalidArgumentException("the transaction has ended");
        }
    }
}
