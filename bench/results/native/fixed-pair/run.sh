#!/usr/bin/env bash
# Reproduces this directory's files (see README.md). Run from the repository
# root after `cmake --preset bench && cmake --build --preset bench --target
# pairs_bench`, with main's pairs_bench built the same way from
# `git archive main` into $MAIN (default /tmp/nfix-main).
set -euo pipefail
OUT=${OUT:-bench/results/native/fixed-pair}
MAIN=${MAIN:-/tmp/nfix-main}
NEW=build/bench/bench/pairs_bench
OLD=$MAIN/build/bench/bench/pairs_bench
C="--benchmark_min_time=0.2 --benchmark_out_format=json"
POOLS='BM_ThreadCachedFixedPool(UncheckedRaces)?<ThreadSafety::k(LockFree|Mutex)>/64/|BM_CachedFixedPool(UncheckedRaces)?<ThreadSafety::kLockFree>/64/|BM_Malloc/64/|BM_ThreadLocalMagazineFloor'
uptime > "$OUT/load.txt"
# Interleaved: this branch, main, five times each, in the same minutes.
for i in 1 2 3 4 5; do
  "$NEW" $C --benchmark_filter="$POOLS" --benchmark_out="$OUT/branch-$i.json" > /dev/null
  uptime >> "$OUT/load.txt"
  "$OLD" $C --benchmark_filter="$POOLS" --benchmark_out="$OUT/main-$i.json" > /dev/null
  uptime >> "$OUT/load.txt"
done
# The 64 B malloc pair under each allocator, right after.
for a in jemalloc mimalloc; do
  LD_PRELOAD=/usr/lib/x86_64-linux-gnu/lib$a.so.2 "$NEW" $C --benchmark_filter='BM_Malloc/64/' \
    --benchmark_out="$OUT/malloc-$a.json" > /dev/null
done
uptime >> "$OUT/load.txt"
# Where the 1-thread pair's time goes, before and after.
for b in NEW OLD; do
  perf record -q -o "/tmp/fixed-pair-$b.data" "${!b}" \
    --benchmark_filter='BM_ThreadCachedFixedPool<ThreadSafety::kLockFree>/64/real_time/threads:1$' \
    --benchmark_min_time=0.5 > /dev/null 2>&1
  perf report -i "/tmp/fixed-pair-$b.data" --no-children --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -6 \
    > "$OUT/perf-$b.txt"
  perf annotate -i "/tmp/fixed-pair-$b.data" --stdio \
    -s 'nativepool::ThreadCachedPool<(nativepool::ThreadSafety)2>::deallocate' 2>/dev/null \
    | grep -E '^ +[0-9]+\.[0-9]+ :' >> "$OUT/perf-$b.txt"
done
