#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes a seeded, synthetic allocation trace for trace_replay.

Sizes are log-uniform; lifetimes are a mix of short (freed within tens of
operations), medium (thousands) and long (tens of thousands, often crossing a
phase). Phases shift the size mix, so memory freed by one phase must serve the
requests of the next; the last phase is a long steady state.

Format, one operation per line: "+ <id> <size>" allocates, "- <id>" frees,
"# <phase>" starts a phase. Blocks still live at the end are freed in a
last phase, "drain".
"""
import argparse
import heapq
import math
import random
import sys

KIB = 1024
MIB = 1024 * KIB

# (name, allocations, smallest size, largest size)
PHASES = [
    ("small", 60_000, 16, 4 * KIB),
    ("large", 20_000, 64 * KIB, 1 * MIB),
    ("mixed", 60_000, 16, 1 * MIB),
    ("steady", 160_000, 16, 1 * MIB),
]

# (share, shortest, longest lifetime in operations)
LIFETIMES = [(0.73, 1, 64), (0.25, 500, 5_000), (0.02, 5_000, 30_000)]


def lifetime(rng):
    pick = rng.random()
    for share, low, high in LIFETIMES:
        if pick < share:
            return rng.randint(low, high)
        pick -= share
    raise AssertionError("shares must add up to 1")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every phase's length")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    out = sys.stdout
    deaths = []  # (operation index of the free, id)
    next_id = 0
    now = 0
    for name, count, low, high in PHASES:
        out.write(f"# {name}\n")
        for _ in range(int(count * args.scale)):
            while deaths and deaths[0][0] <= now:
                out.write(f"- {heapq.heappop(deaths)[1]}\n")
            size = int(math.exp(rng.uniform(math.log(low), math.log(high))))
            out.write(f"+ {next_id} {size}\n")
            heapq.heappush(deaths, (now + lifetime(rng), next_id))
            next_id += 1
            now += 1
    out.write("# drain\n")
    for _, block in sorted(deaths):
        out.write(f"- {block}\n")


if __name__ == "__main__":
    main()
