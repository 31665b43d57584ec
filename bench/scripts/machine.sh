#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Prints the machine, JDKs and commit as JSON, stored beside every result.
set -euo pipefail
java_version() { "$1" -version 2>&1 | head -1 | sed 's/"/\\"/g'; }
cat <<JSON
{
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "commit": "$(git rev-parse HEAD)$(git diff --quiet HEAD -- native java bench/native bench/jmh bench/traces || echo '+local-changes')",
  "cpu": "$(lscpu | sed -n 's/^Model name: *//p' | head -1)",
  "cpus": $(nproc),
  "kernel": "$(uname -r)",
  "memory_kib": $(awk '/MemTotal/ {print $2}' /proc/meminfo),
  "gcc": "$(gcc -dumpfullversion)",
  "jdk17": "$(java_version java)",
  "jdk25": "$(java_version /usr/lib/jvm/temurin-25-jdk-amd64/bin/java 2>/dev/null || echo absent)",
  "load_average_at_start": "$(cut -d' ' -f1-3 /proc/loadavg)"
}
JSON
