package org.nativepool.misuse;

import org.nativepool.Backend;
import org.nativepool.FixedPool;
import org.nativepool.LeakPolicy;
import org.nativepool.MemoryBudget;
import org.nativepool.Pool;
import org.nativepool.PoolBuilder;
import org.nativepool.SafetyLevel;
import org.nativepool.ThreadSafety;
import org.nativepool.VariablePool;

/** The pools every generic case runs against: each algorithm, thread-safety mode and safety level. */
enum PoolKind {
    FIXED_NONE(true, ThreadSafety.NONE, SafetyLevel.OFF),
    FIXED_MUTEX(true, ThreadSafety.MUTEX, SafetyLevel.OFF),
    FIXED_LOCK_FREE(true, ThreadSafety.LOCK_FREE, SafetyLevel.OFF),
    FIXED_MUTEX_CANARIES(true, ThreadSafety.MUTEX, SafetyLevel.CANARIES),
    VARIABLE_NONE(false, ThreadSafety.NONE, SafetyLevel.OFF),
    VARIABLE_MUTEX(false, ThreadSafety.MUTEX, SafetyLevel.OFF),
    VARIABLE_MUTEX_FULL(false, ThreadSafety.MUTEX, SafetyLevel.FULL);

    final boolean fixed;
    final ThreadSafety threadSafety;
    final SafetyLevel safetyLevel;

    PoolKind(boolean fixed, ThreadSafety threadSafety, SafetyLevel safetyLevel) {
        this.fixed = fixed;
        this.threadSafety = threadSafety;
        this.safetyLevel = safetyLevel;
    }

    /** Small pools with a hard limit, so that exhaustion is quick; leaks are ignored (cases may leak on purpose). */
    Pool build(String name) {
        return builder(name).build();
    }

    /** Such a pool, charging its regions to {@code budget}. */
    Pool build(String name, MemoryBudget budget) {
        return builder(name).budget(budget).build();
    }

    private PoolBuilder<?, ?> builder(String name) {
        if (fixed) {
            return FixedPool.builder(64).name(name).blocksPerChunk(64).maxBlocks(256).threadSafety(threadSafety)
                    .safetyLevel(safetyLevel).leakPolicy(LeakPolicy.IGNORE).backend(Backend.malloc());
        }
        return VariablePool.builder().name(name).arenaSize(64 << 10).maxCapacity(256 << 10)
                .threadSafety(threadSafety).safetyLevel(safetyLevel).leakPolicy(LeakPolicy.IGNORE);
    }
}
