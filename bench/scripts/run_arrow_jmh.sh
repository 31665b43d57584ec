#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds nativepool, nativepool-arrow and bench/arrow-jmh, then runs the Arrow
# benchmarks (ArrowBuf pairs, vector workloads; Arrow's Netty and Unsafe
# managers, the bookkeeping floor and nativepool's factory with and without
# automatic trim, all in one run) on 1 and 2 threads with JDK 17.
# Results: bench/results/jmh/arrow/t{1,2}.json, machine.json, load.txt. About 8 minutes.
# Usage: bench/scripts/run_arrow_jmh.sh [extra JMH options]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/results/jmh/arrow
mkdir -p "$out"
mvn -B -q -DskipTests install
mvn -B -q -f arrow/pom.xml -DskipTests install
mvn -B -q -f bench/arrow-jmh/pom.xml clean package
bench/scripts/machine.sh > "$out/machine.json"
: > "$out/load.txt"
for threads in 1 2; do
  echo "== JDK 17, $threads thread(s)" >&2
  echo "t$threads start: $(uptime)" >> "$out/load.txt"
  java -jar bench/arrow-jmh/target/benchmarks.jar -t "$threads" -rf json -rff "$out/t$threads.json" \
    'ArrowBufBenchmark|VectorWorkloadBenchmark' "$@"
  echo "t$threads end: $(uptime)" >> "$out/load.txt"
done
