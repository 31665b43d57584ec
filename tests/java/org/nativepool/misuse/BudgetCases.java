package org.nativepool.misuse;

import static org.nativepool.misuse.MisuseCase.throwing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.nativepool.BudgetClosedException;
import org.nativepool.BudgetExceededException;
import org.nativepool.BudgetInUseException;
import org.nativepool.FixedPool;
import org.nativepool.InvalidArgumentException;
import org.nativepool.MemoryBudget;
import org.nativepool.Pool;
import org.nativepool.PoolClosedException;
import org.nativepool.PoolStats;
import org.nativepool.ThreadSafety;
import org.nativepool.VariablePool;

/**
 * Byte budgets ({@link MemoryBudget}, {@code PoolBuilder.budget}) and
 * automatic trim misused: bad limits, closing what is in use, a pool's budget
 * asked of a closed pool, a growth the budget refuses, bad trim intervals.
 */
final class BudgetCases {
    private BudgetCases() {
    }

    private static MemoryBudget reserved(String name, long limit) {
        return MemoryBudget.of(name, limit, MemoryBudget.Counting.RESERVED);
    }

    /** What every pool kind must do with a budget; named {@code <KIND>/budget-...} by the catalogue. */
    static List<MisuseCase> poolCases(PoolKind kind) {
        return List.of(
                throwing("budget-after-close", PoolClosedException.class, "is closed", f -> {
                    f.pool.close();
                    f.pool.budget();
                }),
                throwing("budget-refused-growth", BudgetExceededException.class, "budget 'misuse' refused",
                        f -> refusedGrowth(f, kind)));
    }

    /**
     * Fills a budget but for the region a pool of {@code kind} holds, then
     * allocates until the pool must grow: the refusal must change neither the
     * pool's reserved bytes nor the budget.
     */
    private static void refusedGrowth(Fixture f, PoolKind kind) {
        MemoryBudget budget = reserved("misuse", 1L << 30);
        Pool pool = kind.build("budgeted", budget);
        List<Long> held = new ArrayList<>();
        try {
            held.add(Fixture.allocate(pool));
            long filler = budget.available();
            budget.reserve(filler);
            long used = budget.used();
            PoolStats before = pool.stats();
            try {
                for (int i = 0; i < 10_000; i++) {
                    held.add(Fixture.allocate(pool));
                }
            } catch (BudgetExceededException refused) {
                PoolStats after = pool.stats();
                if (after.bytesReserved() != before.bytesReserved() || budget.used() != used
                        || budget.peak() != used) {
                    throw new AssertionError("the refusal changed a counter: " + before + " -> " + after + ", "
                            + budget);
                }
                throw refused;
            } finally {
                for (long block : held) {
                    pool.free(block);
                }
                budget.release(filler);
            }
            throw new AssertionError("10,000 blocks and no growth refused");
        } finally {
            pool.close();
            budget.close();
        }
    }

    /** Budgets and trim settings misused on their own, with the fixture's pool left alone. */
    static List<MisuseCase> all() {
        return List.of(
                throwing("budget/limit-zero", InvalidArgumentException.class, "must be positive, not 0",
                        f -> MemoryBudget.of("zero", 0)),
                throwing("budget/limit-negative", InvalidArgumentException.class, "must be positive, not -1",
                        f -> MemoryBudget.of("negative", -1, MemoryBudget.Counting.RESERVED)),
                throwing("budget/limit-long-min", InvalidArgumentException.class, "must be positive",
                        f -> MemoryBudget.of("min", Long.MIN_VALUE)),
                throwing("budget/child-limit-zero", InvalidArgumentException.class, "must be positive", f -> {
                    try (MemoryBudget root = MemoryBudget.of("root", 1024)) {
                        root.child("zero", 0);
                    }
                }),
                throwing("budget/child-larger-than-parent", InvalidArgumentException.class,
                        "cannot exceed its parent 'root'", f -> {
                            try (MemoryBudget root = MemoryBudget.of("root", 1024)) {
                                root.child("big", 1025);
                            }
                        }),
                throwing("budget/close-while-a-pool-uses-it", BudgetInUseException.class, "1 attachment(s)", f -> {
                    try (MemoryBudget budget = reserved("used", 1 << 20);
                         FixedPool pool = FixedPool.builder(64).budget(budget).build()) {
                        pool.free(pool.allocateAddress());
                        budget.close(); // refused; the pool, then the budget, close after it
                    }
                }),
                throwing("budget/close-with-an-open-child", BudgetInUseException.class, "open child", f -> {
                    try (MemoryBudget root = MemoryBudget.of("root", 1024)) {
                        MemoryBudget child = root.child("child", 512);
                        try {
                            root.close();
                        } finally {
                            child.close();
                        }
                    }
                }),
                throwing("budget/close-with-bytes-reserved", BudgetInUseException.class, "100 bytes reserved", f -> {
                    try (MemoryBudget budget = MemoryBudget.of("held", 1024)) {
                        budget.reserve(100);
                        try {
                            budget.close();
                        } finally {
                            budget.release(100);
                        }
                    }
                }),
                throwing("budget/release-more-than-reserved", InvalidArgumentException.class, "it holds 0", f -> {
                    try (MemoryBudget budget = MemoryBudget.of("empty", 1024)) {
                        budget.release(1);
                    }
                }),
                throwing("budget/reserve-after-close", BudgetClosedException.class, "is closed", f -> {
                    MemoryBudget budget = MemoryBudget.of("closed", 1024);
                    budget.close();
                    budget.reserve(1);
                }),
                throwing("budget/pool-on-a-closed-budget", BudgetClosedException.class, "'closed' is closed", f -> {
                    MemoryBudget budget = reserved("closed", 1 << 20);
                    budget.close();
                    VariablePool.builder().budget(budget).build();
                }),
                throwing("budget/pool-on-a-requested-budget", InvalidArgumentException.class, "Counting.RESERVED",
                        f -> FixedPool.builder(64).budget(MemoryBudget.of("requested", 1 << 20))),
                throwing("budget/pool-budget-null", NullPointerException.class, "budget",
                        f -> VariablePool.builder().budget(null)),
                throwing("budget/initial-capacity-refused", BudgetExceededException.class, "budget 'small' refused",
                        f -> {
                            try (MemoryBudget budget = reserved("small", 4096)) {
                                VariablePool.builder().arenaSize(64 << 10).initialCapacity(64 << 10).budget(budget)
                                        .build();
                            }
                        }),
                throwing("builder/auto-trim-zero", InvalidArgumentException.class, "must be positive",
                        f -> FixedPool.builder(64).autoTrim(Duration.ZERO)),
                throwing("builder/auto-trim-negative", InvalidArgumentException.class, "must be positive",
                        f -> VariablePool.builder().autoTrim(Duration.ofMillis(-1))),
                throwing("builder/auto-trim-null", NullPointerException.class, "idleTime",
                        f -> FixedPool.builder(64).autoTrim(null)),
                throwing("builder/auto-trim-unshared-pool", InvalidArgumentException.class, "ThreadSafety.NONE",
                        f -> FixedPool.builder(64).threadSafety(ThreadSafety.NONE).autoTrim(Duration.ofSeconds(1))
                                .build()));
    }
}
