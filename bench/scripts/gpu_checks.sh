#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs, on a machine with an NVIDIA GPU, everything that the machines without
# one can only skip, from the bundle that gpu_bundle.sh packs:
#   1. the CUDA cases of the GoogleTest GPU suites,
#   2. the JUnit GPU suites (org.nativepool.gpu) through the packaged JAR,
#   3. gpu_alloc_bench (C++) and GpuAllocBench (Java).
# Results land in RESULTS_DIR (default ./gpu-results): gpu.txt names the GPU
# and driver, then one file per step. Exits non-zero if a test failed; the
# benchmarks run whatever the tests said, so one call gives both.
#
#   gpu_checks.sh RESULTS_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
results=$(mkdir -p "${1:-gpu-results}" && cd "${1:-gpu-results}" && pwd)
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
java=("$here/jre/bin/java" -Djava.io.tmpdir="${TMPDIR:-/tmp}")
failed=0

{
  echo "commit $(cat "$here/COMMIT")"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
  nvidia-smi topo -m 2>/dev/null | head -5
} > "$results/gpu.txt" 2>&1
cat "$results/gpu.txt"

echo "== GoogleTest: CUDA cases"
for t in "$here"/bin/gpu_*_test; do
  name=${t##*/}
  # The suites run each case on "simulated" and "cuda"; here only CUDA is news.
  if ! "$t" --gtest_filter='*cuda*' --gtest_brief=1 --gtest_output="xml:$results/$name.xml" \
      > "$results/$name.txt" 2>&1; then
    failed=1
    echo "FAILED: $name (see $name.txt)"
  fi
  tail -3 "$results/$name.txt"
done

echo "== JUnit: org.nativepool.gpu on CUDA"
if ! "${java[@]}" -jar "$here/java/junit-console.jar" execute \
    --class-path "$here/classes:$here/java/nativepool.jar" --select-package org.nativepool.gpu \
    --details=summary --disable-banner --reports-dir="$results/junit" > "$results/junit.txt" 2>&1; then
  failed=1
  echo "FAILED: JUnit (see junit.txt)"
fi
tail -15 "$results/junit.txt"

echo "== gpu_alloc_bench"
"$here/bin/gpu_alloc_bench" --benchmark_min_time=0.2 --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true --benchmark_out="$results/gpu_alloc_bench.json" \
  --benchmark_out_format=json > "$results/gpu_alloc_bench.txt" 2>&1 || failed=1
tail -5 "$results/gpu_alloc_bench.txt"

echo "== GpuAllocBench (Java)"
"${java[@]}" -cp "$here/classes:$here/java/nativepool.jar" org.nativepool.bench.GpuAllocBench \
  > "$results/GpuAllocBench.txt" 2>&1 || failed=1
tail -5 "$results/GpuAllocBench.txt"

exit "$failed"
