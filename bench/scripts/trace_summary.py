#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""One line per trace replay CSV (trace_replay's output): the time-averaged
efficiency by footprint and by resident bytes, peak live / peak footprint and
peak live / peak resident, and the time-averaged resident efficiency of each
phase of the trace (the final drain left out).

    bench/scripts/trace_summary.py bench/results/native/large-classes/traces/*.csv
"""
import csv
import sys


def summarize(path):
    samples = [s for s in csv.DictReader(open(path))
               if s["phase"] != "drain" and int(s["footprint_bytes"]) > 0]
    resident = [(s["phase"], int(s["live_bytes"]) / int(s["resident_bytes"]))
                for s in samples if int(s["resident_bytes"]) > 0]
    mean = lambda values: sum(values) / len(values)
    phases = [p for p in dict.fromkeys(p for p, _ in resident) if p != "-"]
    per_phase = " / ".join(f"{p} {mean([r for q, r in resident if q == p]):.3f}" for p in phases)
    peak_live = max(int(s["live_bytes"]) for s in samples)
    print(f"{path}: mean efficiency {mean([float(s['efficiency']) for s in samples]):.3f}, "
          f"mean live/resident {mean([r for _, r in resident]):.3f}, "
          f"peak live/footprint {peak_live / max(int(s['footprint_bytes']) for s in samples):.3f}, "
          f"peak live/resident {peak_live / max(int(s['resident_bytes']) for s in samples):.3f}"
          + (f"; resident by phase: {per_phase}" if per_phase else ""))


for argument in sys.argv[1:]:
    summarize(argument)
