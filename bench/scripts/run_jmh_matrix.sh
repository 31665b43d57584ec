#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The shared-pool matrix of issue 17, short enough for a shared machine (about
# 15 minutes with the builds on a loaded 2-vCPU VM; 1 fork, 1 warm-up and 2 measured iterations of 1 s each):
#   FixedSizeBenchmark, 64 B on 1/2/4/8 threads, 1 KiB and 64 KiB on 1/2;
#   MixedSizeBenchmark on 1/2; ProducerConsumerBenchmark; ThreadChurnBenchmark
#   (JDK 17), then FfmBenchmark next to Unsafe and nativepool (JDK 25);
#   and CpuTimePairs (CPU time per pair, which a loaded machine distorts less).
# Each run's load average goes to load.txt beside the results.
# Usage: bench/scripts/run_jmh_matrix.sh NAME  -> bench/results/jmh/NAME/
set -euo pipefail
cd "$(dirname "$0")/../.."
jdk25=/usr/lib/jvm/temurin-25-jdk-amd64
out=bench/results/jmh/${1:?usage: run_jmh_matrix.sh NAME}
short=(-wi 1 -w 1s -i 2 -r 1s -f 1)
mkdir -p "$out"
mvn -B -q -ntp -DskipTests install && mvn -B -q -ntp -f bench/jmh/pom.xml clean package
bench/scripts/machine.sh > "$out/machine.json"
jar=bench/jmh/target/benchmarks.jar
load() { echo "$1: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/load.txt"; }
fixed='FixedSizeBenchmark\.(floor|unsafe|netty|arrow|nativepoolRaw|nativepoolCache)$'
for t in 1 2 4 8; do
  load "fixed 64 B, $t threads"
  java -jar $jar "${short[@]}" -t $t -p size=64 -rf json -rff "$out/fixed-64-t$t.json" "$fixed"
done
for size in 1024 65536; do
  for t in 1 2; do
    load "fixed $size B, $t threads"
    java -jar $jar "${short[@]}" -t $t -p size=$size -rf json -rff "$out/fixed-$size-t$t.json" "$fixed"
  done
done
for t in 1 2; do
  load "mixed, $t threads"
  java -jar $jar "${short[@]}" -t $t -rf json -rff "$out/mixed-t$t.json" \
    'MixedSizeBenchmark\.(unsafe|netty|arrow|nativepoolRaw)$'
done
load "producer/consumer"
java -jar $jar "${short[@]}" -rf json -rff "$out/producer-consumer.json" ProducerConsumerBenchmark
load "thread churn"
java -jar $jar "${short[@]}" -rf json -rff "$out/thread-churn.json" ThreadChurnBenchmark | grep reserved \
  > "$out/thread-churn-reserved.txt" || true
for t in 1 2; do
  load "CPU time, 64 B, $t threads"
  java -cp $jar org.nativepool.bench.CpuTimePairs 64 $t 5 2000000 2>/dev/null > "$out/cpu-time-64-t$t.txt"
done
if [[ -x $jdk25/bin/java ]]; then
  JAVA_HOME=$jdk25 mvn -B -q -ntp -f bench/jmh/pom.xml -Pjdk25 clean package
  load "JDK 25, FFM"
  "$jdk25/bin/java" --enable-native-access=ALL-UNNAMED -jar $jar "${short[@]}" \
    -jvmArgsAppend "--sun-misc-unsafe-memory-access=allow --enable-native-access=ALL-UNNAMED" \
    -rf json -rff "$out/jdk25-ffm.json" \
    'FfmBenchmark|FixedSizeBenchmark\.(unsafe|nativepoolRaw)$|MixedSizeBenchmark\.(unsafe|nativepoolRaw)$'
fi
load "end"
