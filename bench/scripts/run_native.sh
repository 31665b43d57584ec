#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds and runs the Google Benchmark suites; results go to
# bench/results/native/. jemalloc and mimalloc are measured by preloading them
# (Debian: libjemalloc-dev, libmimalloc-dev), as a user would deploy them; the
# build finds them (build-bench/bench/preload.env) and an absent one is skipped.
# Usage: bench/scripts/run_native.sh [min-time-seconds, default 0.3]
set -euo pipefail
cd "$(dirname "$0")/../.."
min_time=${1:-0.3}
build=build-bench
out=bench/results/native
mkdir -p "$out"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DNATIVEPOOL_BUILD_BENCHMARKS=ON -DNATIVEPOOL_BUILD_JNI=OFF \
  -DNATIVEPOOL_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --parallel 2 --target pairs_bench holes_bench safety_bench numa_bench metadata_bench trace_replay \
  malloc_log
bench/scripts/machine.sh > "$out/machine.json"
preloaded() {  # preloaded <allocator>: its library, found by the build, or nothing
  sed -n "s/^$1=//p" "$build/bench/preload.env"
}
common=(--benchmark_min_time="$min_time" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
        --benchmark_out_format=json --benchmark_context=commit="$(git rev-parse --short HEAD)")
echo "== pairs: nativepool and glibc" >&2
"$build/bench/pairs_bench" "${common[@]}" --benchmark_out="$out/pairs-glibc.json"
echo "== host memory per live block, by resident set: nativepool and glibc" >&2
"$build/bench/metadata_bench" > "$out/metadata.csv"
for allocator in jemalloc mimalloc; do
  library=$(preloaded "$allocator")
  if [[ -z $library ]]; then
    echo "== $allocator: not found when building, skipped (Debian: lib$allocator-dev)" >&2
    continue
  fi
  echo "== pairs and host memory per block: $allocator (LD_PRELOAD)" >&2
  LD_PRELOAD="$library" "$build/bench/pairs_bench" "${common[@]}" --benchmark_filter=BM_Malloc \
    --benchmark_out="$out/pairs-$allocator.json"
  LD_PRELOAD="$library" "$build/bench/metadata_bench" malloc | tail -n +2 >> "$out/metadata.csv"
done
echo "== holes" >&2
"$build/bench/holes_bench" "${common[@]}" --benchmark_out="$out/holes.json"
echo "== safety levels" >&2
"$build/bench/safety_bench" "${common[@]}" --benchmark_out="$out/safety.json"
echo "== NUMA backend and bandwidth per node pair" >&2
"$build/bench/numa_bench" "${common[@]}" --benchmark_out="$out/numa.json"
