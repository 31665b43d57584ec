#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fragmentation scenarios: replays the seeded synthetic trace, and a trace
# recorded from a real program (g++ compiling a nativepool source file), on
# VariablePool and on glibc, jemalloc and mimalloc. Results: bench/results/traces/.
# Needs bench/scripts/run_native.sh to have built build-bench first.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build-bench
out=bench/results/traces
work=${TMPDIR:-/tmp}/nativepool-traces
mkdir -p "$out" "$work"
bench/scripts/machine.sh > "$out/machine.json"

echo "== generating the synthetic trace (seed 1)" >&2
python3 bench/traces/generate_trace.py --seed 1 > "$work/synthetic.trace"

echo "== recording a real trace: g++ -O2 -c bench/traces/trace_replay.cpp" >&2
rm -f "$work"/gcc.*.trace
NATIVEPOOL_TRACE="$work/gcc.%p.trace" LD_PRELOAD="$PWD/$build/bench/traces/libmalloc_log.so" \
  g++ -std=c++20 -O2 -Inative/include -Ibench/native -c bench/traces/trace_replay.cpp -o "$work/replay.o"
# The compiler proper (cc1plus) is the process with the longest trace.
cp "$(ls -S "$work"/gcc.*.trace | head -1)" "$work/gcc.trace"

replay() {  # replay <trace-name> <label> <trace_replay args...>
  local name=$1 label=$2
  shift 2
  "$build/bench/traces/trace_replay" "$@" < "$work/$name.trace" > "$out/$name-$label.csv"
}
for name in synthetic gcc; do
  replay "$name" nativepool pool
  replay "$name" glibc malloc
  for allocator in jemalloc mimalloc; do
    library=$(sed -n "s/^$allocator=//p" "$build/bench/preload.env")
    if [[ -z $library ]]; then
      echo "== $allocator: not found when building, skipped (Debian: lib$allocator-dev)" >&2
      continue
    fi
    LD_PRELOAD="$library" replay "$name" "$allocator" malloc
  done
done
# Arena granularity: the g++ trace's live set (about 8 MiB) next to 1 MiB
# arenas instead of the default 8 MiB.
replay gcc nativepool-1MiB-arenas pool 0 $((1 << 20))
# A tight fixed capacity: 2% above the synthetic trace's peak live bytes.
peak=$(tail -1 "$out/synthetic-nativepool.csv" | cut -d, -f5)
capacity=$(( peak * 102 / 100 ))
echo "== synthetic trace at a fixed capacity of $capacity bytes" >&2
replay synthetic nativepool-capped pool "$capacity"
