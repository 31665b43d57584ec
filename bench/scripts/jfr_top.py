#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The hottest methods of a JFR recording's method samples.

    jfr print --events jdk.ExecutionSample X.jfr > samples.txt
    bench/scripts/jfr_top.py samples.txt

Prints the share of samples with each method on top of the stack, then with
it anywhere on the stack (each method counted once per sample).
"""
import collections
import re
import sys

top = collections.Counter()
anywhere = collections.Counter()
samples = 0


def record(frames):
    global samples
    if frames:
        samples += 1
        top[frames[0]] += 1
        anywhere.update(set(frames))


frames = []
with open(sys.argv[1]) as printed:
    for line in printed:
        line = line.strip()
        if line.startswith('jdk.ExecutionSample'):  # a new sample; its frames follow, top first
            record(frames)
            frames = []
        elif 'line:' in line:
            frames.append(re.sub(r'\s+line:.*', '', line))
record(frames)
print('samples', samples)
print('--- top of the stack')
for method, count in top.most_common(25):
    print(f'{count * 100 / samples:5.1f}% {method}')
print('--- anywhere on the stack')
for method, count in anywhere.most_common(20):
    print(f'{count * 100 / samples:5.1f}% {method}')
