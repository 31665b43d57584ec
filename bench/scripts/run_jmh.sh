#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds nativepool and the JMH module, then runs the Java benchmarks on 1 and
# 2 threads with JDK 17, and again with JDK 25 (adding the FFM comparison).
# Results: bench/results/jmh/jdk{17,25}-t{1,2}.json. About 25 minutes.
# Usage: bench/scripts/run_jmh.sh [extra JMH options, e.g. -f 2 or a regex]
set -euo pipefail
cd "$(dirname "$0")/../.."
jdk25=/usr/lib/jvm/temurin-25-jdk-amd64
out=bench/results/jmh
mkdir -p "$out"
mvn -B -q -DskipTests install
mvn -B -q -f bench/jmh/pom.xml clean package
bench/scripts/machine.sh > "$out/machine.json"
for threads in 1 2; do
  echo "== JDK 17, $threads thread(s)" >&2
  java -jar bench/jmh/target/benchmarks.jar -t "$threads" -rf json -rff "$out/jdk17-t$threads.json" \
    'FixedSizeBenchmark|MixedSizeBenchmark' "$@"
done
java -jar bench/jmh/target/benchmarks.jar -rf json -rff "$out/breakdown-jdk17.json" BreakdownBenchmark "$@"
echo "== JDK 17, safety levels" >&2
java -jar bench/jmh/target/benchmarks.jar -rf json -rff "$out/safety-jdk17.json" SafetyCostBenchmark "$@"
if [[ -x $jdk25/bin/java ]]; then
  JAVA_HOME=$jdk25 mvn -B -q -f bench/jmh/pom.xml -Pjdk25 clean package
  for threads in 1 2; do
    echo "== JDK 25, $threads thread(s)" >&2
    "$jdk25/bin/java" --enable-native-access=ALL-UNNAMED -jar bench/jmh/target/benchmarks.jar -t "$threads" \
      -jvmArgsAppend "--sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED" \
      -rf json -rff "$out/jdk25-t$threads.json" 'FixedSizeBenchmark|MixedSizeBenchmark|FfmBenchmark' "$@"
  done
fi
