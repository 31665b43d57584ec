#!/usr/bin/env python3
"""CPU ns per pair per thread, median of the interleaved runs: this branch, main, and the preloaded mallocs."""
import glob, json, os, re, statistics, sys
here = os.path.dirname(os.path.abspath(__file__))
def runs(pattern):
    out = {}
    for path in sorted(glob.glob(os.path.join(here, pattern))):
        for b in json.load(open(path))["benchmarks"]:
            name = b["name"].replace("/real_time", "")
            if name.startswith("BM_Malloc"):
                name = name.replace("BM_Malloc", "BM_Malloc[" + b.get("label", "") + "]")
            out.setdefault(name, []).append(b["cpu_time"])
    return out
branch, main = runs("branch-*.json"), runs("main-*.json")
mallocs = runs("malloc-*.json")
print(f"{'benchmark':78} {'branch':>12} {'main':>12}")
for name in sorted(set(branch) | set(main) | set(mallocs)):
    def cell(d):
        v = d.get(name)
        return f"{statistics.median(v):6.1f} ({min(v):.1f}-{max(v):.1f})" if v and len(v) > 1 else (f"{v[0]:6.1f}" if v else "")
    print(f"{name:78} {cell(branch) or cell(mallocs):>12} {cell(main):>12}")
