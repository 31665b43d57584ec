#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Packs everything the GPU checks need into one file, for a machine with an
# NVIDIA GPU but without this project's toolchain (no JDK, Maven, GoogleTest
# or Google Benchmark; only the driver): the GPU test programs and
# gpu_alloc_bench built here, the packaged JAR, the JUnit test classes with
# the JUnit console launcher, a jlink'd Java runtime, and gpu_checks.sh, which
# runs it all. The CUDA runtime is linked statically, so the driver is the
# only thing the other machine must have.
#
#   bench/scripts/gpu_bundle.sh [OUT_DIR, default .gpu]   # here: ~5 min, ~60 MB -> one .tar.xz
#   tar xJf .gpu/bundle.tar.xz -C /tmp && /tmp/gpu/gpu_checks.sh RESULTS_DIR   # there
#
# Needs what the README's test command needs, plus libbenchmark-dev.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-.gpu}
junit_console=org.junit.platform:junit-platform-console-standalone:1.14.1
jdk=${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}
build=build/gpu-bundle
stage=$(mktemp -d)/gpu
mkdir -p "$stage"/{bin,lib,java,classes} "$out"

echo "== native: GPU test programs and gpu_alloc_bench (Release)" >&2
# NATIVEPOOL_WITH_CUDA=ON: without a CUDA toolkit there is nothing to check on a GPU, and CMake says so.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DNATIVEPOOL_WITH_CUDA=ON -DNATIVEPOOL_BUILD_JNI=OFF \
  -DNATIVEPOOL_BUILD_BENCHMARKS=ON >/dev/null
# One test program per tests/native/gpu_*_test.cpp, as tests/native/CMakeLists.txt makes them.
gpu_tests=()
for source in tests/native/gpu_*_test.cpp; do gpu_tests+=("$(basename "$source" .cpp)"); done
cmake --build "$build" --parallel 2 --target "${gpu_tests[@]}" gpu_alloc_bench
for t in "${gpu_tests[@]}"; do cp "$build/tests/native/$t" "$stage/bin/"; done
cp "$build/bench/gpu_alloc_bench" "$stage/bin/"
# Google Benchmark exists only as a shared library in Debian.
cp -L "$(ldd "$build/bench/gpu_alloc_bench" | awk '/libbenchmark\.so/ {print $3}')" "$stage/lib/"

echo "== Java: JAR, test classes, GpuAllocBench, JUnit console, runtime" >&2
mvn -B -q -ntp -DskipTests package
cp target/nativepool-*-SNAPSHOT.jar "$stage/java/nativepool.jar"
# The GPU suites need only JUnit and nativepool; the other test classes stay behind.
mvn -B -q -ntp test-compile
cp -r target/test-classes/. "$stage/classes/"
"$jdk/bin/javac" -d "$stage/classes" -cp "$stage/java/nativepool.jar" bench/java/org/nativepool/bench/GpuAllocBench.java
mvn -B -q -ntp dependency:copy -Dartifact="$junit_console" -DoutputDirectory="$stage/java"
mv "$stage"/java/junit-platform-console-standalone-*.jar "$stage/java/junit-console.jar"
"$jdk/bin/jlink" --add-modules java.base,java.logging,java.management,java.xml,jdk.unsupported \
  --strip-debug --no-man-pages --no-header-files --output "$stage/jre"
cp bench/scripts/gpu_checks.sh "$stage/"
git rev-parse HEAD > "$stage/COMMIT"

echo "== packing" >&2
tar -C "$(dirname "$stage")" -cJf "$out/bundle.tar.xz" gpu
rm -rf "$(dirname "$stage")"
ls -l "$out/bundle.tar.xz" >&2
