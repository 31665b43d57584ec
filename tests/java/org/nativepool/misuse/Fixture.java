package org.nativepool.misuse;

import java.util.ArrayList;
import java.util.List;
import org.nativepool.FixedPool;
import org.nativepool.Pool;
import org.nativepool.PoolStats;
import org.nativepool.VariablePool;

/**
 * What a misuse case acts on: the pool under test, built from its
 * {@link PoolKind}, and a second pool of the same kind for foreign
 * addresses. {@link #checkConsistent()} runs after every case.
 */
final class Fixture implements AutoCloseable {
    final PoolKind kind;
    final Pool pool;
    final Pool other;
    private final List<AutoCloseable> extras = new ArrayList<>();

    Fixture(PoolKind kind) {
        this.kind = kind;
        this.pool = kind.build("under-test");
        this.other = kind.build("other");
    }

    /** A raw block of the pool under test: a fixed pool's block, or 64 bytes of a variable pool. */
    long allocate() {
        return allocate(pool);
    }

    long allocateForeign() {
        return allocate(other);
    }

    static long allocate(Pool pool) {
        return pool instanceof FixedPool fixed ? fixed.allocateAddress() : ((VariablePool) pool).allocateAddress(64);
    }

    FixedPool fixed() {
        return (FixedPool) pool;
    }

    VariablePool variable() {
        return (VariablePool) pool;
    }

    /** Closed with the fixture, after the pools' check. */
    <T extends AutoCloseable> T keep(T resource) {
        extras.add(resource);
        return resource;
    }

    /**
     * Every pool still open validates, its counters balance, and it still
     * hands out and takes back a block.
     */
    void checkConsistent() {
        for (Pool p : List.of(pool, other)) {
            if (p.isClosed()) {
                continue;
            }
            p.validate();
            p.verify();
            PoolStats before = p.stats();
            if (before.allocations() - before.frees() != before.liveBlocks() + before.cachedBlocks()) {
                throw new AssertionError("counters do not balance: " + before);
            }
            long block = allocate(p);
            p.free(block);
            PoolStats after = p.stats();
            if (after.liveBlocks() != before.liveBlocks()) {
                throw new AssertionError("a block allocated and freed changed the live count: " + before + " -> "
                        + after);
            }
        }
    }

    @Override
    public void close() throws Exception {
        for (AutoCloseable extra : extras) {
            extra.close();
        }
        pool.close();
        other.close();
    }
}
