#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Turns the raw results under bench/results/ into ratio tables
(bench/results/summary.md) and plots (bench/results/plots/*.png).

Every number in docs/performance.md comes from summary.md. Needs
python3-matplotlib (Debian). Usage: bench/scripts/report.py [results-dir]
"""
import csv
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RESULTS = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "results")
PLOTS = RESULTS / "plots"
SIZES = {64: "64 B", 1024: "1 KiB", 65536: "64 KiB", 0: "mixed"}
out = []


def table(header, rows):
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "---|" * len(header))
    for row in rows:
        out.append("| " + " | ".join(row) + " |")
    out.append("")


def fmt(value, digits=2):
    return "n/a" if value is None else f"{value:.{digits}f}"


def save(figure, name):
    PLOTS.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(PLOTS / name, dpi=110)
    plt.close(figure)


def machine(directory):
    path = RESULTS / directory / "machine.json"
    if path.exists():
        m = json.loads(path.read_text())
        out.append(f"Machine: {m['cpu']}, {m['cpus']} CPUs, kernel {m['kernel']}; commit {m['commit']}; "
                   f"{m['date']}; load average at start {m['load_average_at_start']}.")
        out.append("")


# ---------------------------------------------------------------- native
def native_pairs():
    """ns per pair per thread (median of repetitions), keyed (name, size, threads)."""
    times = {}
    for path in sorted((RESULTS / "native").glob("pairs-*.json")):
        for b in json.loads(path.read_text())["benchmarks"]:
            if b.get("aggregate_name") != "median":
                continue
            m = re.match(r"BM_(\w+)(?:<ThreadSafety::k(\w+)>)?/(\d+)/.*threads:(\d+)", b["run_name"])
            if m is None:  # e.g. the producer/consumer runs, which have no per-size table
                continue
            family, mode, size, threads = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
            name = b.get("label") if family == "Malloc" else f"{family}<{mode}>"
            times[(name, size, threads)] = threads * 1e9 / b["items_per_second"]
    return times


def report_native():
    times = native_pairs()
    if not times:
        return
    out.append("## Native: allocation + free pairs (Google Benchmark)")
    out.append("")
    machine("native")
    out.append("ns per pair per thread, median of 5 repetitions; ratios > 1 mean nativepool is faster.")
    out.append("")
    names = sorted({k[0] for k in times}, key=lambda n: (not n.startswith(("Cached", "Fixed", "Variable")), n))
    for threads in (1, 2):
        rows = []
        for size in SIZES:
            row = [SIZES[size]] + [fmt(times.get((n, size, threads))) for n in names]
            rows.append(row)
        out.append(f"**{threads} thread(s)**")
        out.append("")
        table(["size"] + names, rows)
    ratio_rows = []
    for pool, size in [("CachedFixedPool<LockFree>", 64), ("CachedFixedPool<Mutex>", 64), ("FixedPool<None>", 64),
                       ("FixedPool<LockFree>", 64), ("FixedPool<Mutex>", 64), ("VariablePool<None>", 0),
                       ("VariablePool<Mutex>", 0), ("VariablePool<None>", 64)]:
        mine = times.get((pool, size, 1))
        if mine is None:
            continue
        ratio_rows.append([pool, SIZES[size], fmt(mine)] +
                          [fmt(times[(a, size, 1)] / mine) if (a, size, 1) in times else "n/a"
                           for a in ("glibc", "jemalloc", "mimalloc")])
    out.append("**Speed-up over each malloc, 1 thread** (their time / nativepool's time)")
    out.append("")
    table(["pool", "size", "ns/pair", "× glibc", "× jemalloc", "× mimalloc"], ratio_rows)
    scale_rows = []
    for pool in ("CachedFixedPool<LockFree>", "CachedFixedPool<Mutex>", "FixedPool<LockFree>", "FixedPool<Mutex>",
                 "VariablePool<Mutex>", "glibc", "jemalloc", "mimalloc"):
        for size in (64, 1024):
            one, two = times.get((pool, size, 1)), times.get((pool, size, 2))
            if one and two:
                scale_rows.append([pool, SIZES[size], fmt(2 * one / two)])
    out.append("**2-thread throughput / 1-thread throughput** (2.0 = perfect scaling; the VM has 2 vCPUs)")
    out.append("")
    table(["allocator", "size", "scaling"], scale_rows)

    figure, axes = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = [times.get((name, size, 1), 0) for size in SIZES]
        axes.bar([x + i * width for x in range(len(SIZES))], values, width, label=name)
    axes.set_xticks([x + 0.4 - width / 2 for x in range(len(SIZES))], list(SIZES.values()))
    axes.set_ylabel("ns per allocation + free (1 thread)")
    axes.set_yscale("log")
    axes.set_title("Native allocation + free pairs")
    axes.legend(fontsize=8, ncol=2)
    save(figure, "native-pairs.png")


def report_holes():
    path = RESULTS / "native" / "holes.json"
    if not path.exists():
        return
    series = defaultdict(dict)
    for b in json.loads(path.read_text())["benchmarks"]:
        if b.get("aggregate_name") == "median":
            name, holes = re.match(r"BM_(\w+)Holes/(\d+)", b["run_name"]).groups()
            series[name][int(holes)] = b["real_time"]
    out.append("## Native: cost as free holes accumulate")
    out.append("")
    rows = []
    for name, points in series.items():
        xs = sorted(points)
        rows.append([name] + [fmt(points[x], 1) for x in xs] + [fmt(points[xs[-1]] / points[xs[0]])])
    xs = sorted(next(iter(series.values())))
    table(["allocator"] + [f"{x // 1024}k holes (ns)" for x in xs] + ["64k / 1k"], rows)
    figure, axes = plt.subplots(figsize=(6, 4))
    for name, points in series.items():
        axes.plot(sorted(points), [points[x] for x in sorted(points)], marker="o", label=name)
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xlabel("free holes")
    axes.set_ylabel("ns per allocation + free")
    axes.legend()
    save(figure, "holes.png")


# ---------------------------------------------------------------- JMH
def jmh_results():
    """{(jdk, threads): {(benchmark, size): (ns/op, error)}}"""
    results = defaultdict(dict)
    for path in sorted((RESULTS / "jmh").glob("jdk*-t*.json")):
        if path.stat().st_size == 0:
            continue
        jdk, threads = re.match(r"(jdk\d+)-t(\d+)", path.stem).groups()
        for r in json.loads(path.read_text()):
            cls, method = r["benchmark"].split(".")[-2:]
            size = int(r.get("params", {}).get("size", 0)) if cls != "MixedSizeBenchmark" else 0
            if method == "arenaOfConfinedMixed":
                size = 0
            results[(jdk, int(threads))][(method, size)] = (r["primaryMetric"]["score"],
                                                            r["primaryMetric"]["scoreError"])
    return results


def jmh_settings():
    """The run's forks, warm-up and measurement, as JMH recorded them."""
    first = json.loads(next((RESULTS / "jmh").glob("jdk17-t1.json")).read_text())[0]
    return (f"{first['forks']} fork(s), {first['warmupIterations']}×{first['warmupTime']} warm-up, "
            f"{first['measurementIterations']}×{first['measurementTime']} measurement")


JMH_ORDER = ["floor", "nativepoolCache", "nativepoolRaw", "nativepoolBatch", "nativepoolHandle", "unsafe",
             "netty", "arenaOfConfined", "arenaOfConfinedMixed", "arrow", "allocateDirect"]


def report_jmh():
    results = jmh_results()
    if not results:
        return
    out.append("## Java: allocation + free pairs (JMH)")
    out.append("")
    machine("jmh")
    out.append("ns per pair (± 99.9% error) and × the floor (two empty JNI calls) in the same run. "
               f"{jmh_settings()} per benchmark (bench/scripts/run_jmh.sh).")
    out.append("")
    for (jdk, threads), scores in sorted(results.items()):
        methods = [m for m in JMH_ORDER if any(k[0] == m for k in scores)]
        out.append(f"**{jdk}, {threads} thread(s)**")
        out.append("")
        rows = []
        for size in SIZES:
            floor = scores.get(("floor", size))
            if floor is None:
                continue
            row = [SIZES[size]]
            for m in methods:
                if m == "arenaOfConfinedMixed":
                    continue
                s = scores.get((m, size))
                row.append("n/a" if s is None else f"{s[0]:.1f} ± {s[1]:.1f} ({s[0] / floor[0]:.2f}×)")
            rows.append(row)
        header = [m for m in methods if m != "arenaOfConfinedMixed"]
        for row in rows:
            if row[0] == "mixed" and ("arenaOfConfinedMixed", 0) in scores:
                s = scores[("arenaOfConfinedMixed", 0)]
                idx = header.index("arenaOfConfined") + 1 if "arenaOfConfined" in header else None
                if idx:
                    row[idx] = f"{s[0]:.1f} ± {s[1]:.1f} ({s[0] / scores[('floor', 0)][0]:.2f}×)"
        table(["size"] + header, rows)
        targets = []
        for size in (64, 1024, 65536, 0):
            raw, cache = scores.get(("nativepoolRaw", size)), scores.get(("nativepoolCache", size))
            floor = scores.get(("floor", size))
            if raw is None or floor is None:
                continue
            speedup = lambda other, mine: fmt(scores[(other, size)][0] / mine[0]) if (other, size) in scores else "n/a"
            targets.append([SIZES[size], fmt(raw[0] / floor[0]), fmt(cache[0] / floor[0]) if cache else "n/a",
                            speedup("unsafe", raw), speedup("allocateDirect", raw), speedup("netty", raw),
                            speedup("unsafe", cache) if cache else "n/a",
                            speedup("allocateDirect", cache) if cache else "n/a",
                            speedup("netty", cache) if cache else "n/a"])
        out.append(f"Targets, {jdk}, {threads} thread(s): raw and cache × floor (want ≤ 1.2 and ≤ 0.5); "
                   "speed-ups of raw (want ≥ 2.5 over Unsafe, ≥ 50 over allocateDirect, ≥ 3 over Netty) and of the cache.")
        out.append("")
        table(["size", "raw × floor", "cache × floor", "raw vs Unsafe", "raw vs allocateDirect", "raw vs Netty",
               "cache vs Unsafe", "cache vs allocateDirect", "cache vs Netty"], targets)

        figure, axes = plt.subplots(figsize=(11, 4.5))
        sizes = [s for s in SIZES if ("floor", s) in scores]
        width = 0.85 / len(header)
        for i, m in enumerate(header):
            values = []
            for size in sizes:
                key = ("arenaOfConfinedMixed", 0) if (m == "arenaOfConfined" and size == 0) else (m, size)
                values.append(scores[key][0] / scores[("floor", size)][0] if key in scores else 0)
            axes.bar([x + i * width for x in range(len(sizes))], values, width, label=m)
        axes.axhline(1.0, color="black", linewidth=0.8)
        axes.set_xticks([x + 0.425 - width / 2 for x in range(len(sizes))], [SIZES[s] for s in sizes])
        axes.set_yscale("log")
        axes.set_ylabel("× the floor (two empty JNI calls)")
        axes.set_title(f"Java allocation + free, {jdk}, {threads} thread(s)")
        axes.legend(fontsize=7, ncol=3)
        save(figure, f"jmh-{jdk}-t{threads}.png")


def report_breakdown():
    path = RESULTS / "jmh" / "breakdown-jdk17.json"
    if not path.exists():
        return
    scores = {}
    for r in json.loads(path.read_text()):
        name = r["benchmark"].split(".")[-1]
        mode = r.get("params", {}).get("threadSafety")
        scores[f"{name} ({mode})" if mode else name] = (r["primaryMetric"]["score"], r["primaryMetric"]["scoreError"])
    floor = scores["floor"][0]
    out.append("## Java: where a raw pair's time goes (JMH BreakdownBenchmark, JDK 17, 1 thread, 64 B)")
    out.append("")
    table(["step", "ns per pair", "× floor", "added by this step (ns)"],
          [[name, f"{s[0]:.1f} ± {s[1]:.1f}", fmt(s[0] / floor),
            fmt(s[0] - (scores["guardedFloor"][0] if name.startswith("raw") else floor), 1)
            if name != "floor" else "-"] for name, s in scores.items()])


def report_safety():
    """What each safety level costs: native (safety_bench) and Java (SafetyCostBenchmark)."""
    native, java = RESULTS / "native" / "safety.json", RESULTS / "jmh" / "safety-jdk17.json"
    if not native.exists() and not java.exists():
        return
    out.append("## Safety levels: what they cost")
    out.append("")
    levels = ("OFF", "CANARIES", "FULL")
    if native.exists():
        rows = defaultdict(dict)
        for b in json.loads(native.read_text())["benchmarks"]:
            if b.get("aggregate_name") != "median":
                continue
            parts = b["run_name"].removeprefix("BM_").split("/")
            if parts[0] == "AllocFree":  # AllocFree/<fixed|variable>/<level>/<size>
                label, level, value = f"{parts[1]} pool, allocate + free, {parts[3]} B", parts[2], b["real_time"]
            elif parts[0] == "Verify":  # Verify/<level>/<live blocks>
                label, level, value = f"verify(), {parts[2]} live blocks of 64 B (µs)", parts[1], b["real_time"] / 1000
            else:  # Churn/<level>
                label, level, value = "variable pool, churn over 4096 live blocks of 16..1024 B", parts[1], b["real_time"]
            rows[label][levels[int(level)]] = value
        out.append("Native (safety_bench, ns per operation unless stated, median of 5):")
        out.append("")
        table(["benchmark"] + list(levels), [[label] + [fmt(v.get(l), 1) for l in levels] for label, v in rows.items()])
    if java.exists():
        scores = {}
        for r in json.loads(java.read_text()):
            p = r["params"]
            scores[(p["safetyLevel"], p["leakDetection"])] = r["primaryMetric"]["score"]
        detection = ("OFF", "SAMPLED", "ALL")
        out.append("Java (SafetyCostBenchmark, JDK 17: ns per handle allocate + close of 64 B; rows: safety level, "
                   "columns: leak detection):")
        out.append("")
        table(["safety level"] + list(detection),
              [[level] + [fmt(scores.get((level, d)), 1) for d in detection] for level in levels])


# ---------------------------------------------------------------- traces
def report_traces():
    directory = RESULTS / "traces"
    files = sorted(directory.glob("*.csv")) if directory.exists() else []
    if not files:
        return
    out.append("## Fragmentation: trace replays")
    out.append("")
    machine("traces")
    out.append("Efficiency = live bytes / footprint. Footprint: for nativepool the bytes it reserved from its "
               "backend (what it reports; an upper bound on what is resident), for the mallocs the growth of the "
               "resident set (every page of every block is touched). 'peak' = peak live / peak footprint; "
               "phase columns = time-averaged efficiency within each phase of the trace (the synthetic trace "
               "has phases small, large, mixed, steady; the final drain is left out).")
    out.append("")
    rows = []
    by_trace = defaultdict(dict)
    for path in files:
        trace, label = path.stem.split("-", 1)
        with path.open() as f:
            samples = list(csv.DictReader(f))
        by_trace[trace][label] = samples
        steady = [s for s in samples if s["phase"] != "drain" and int(s["footprint_bytes"]) > 0]
        phases = [p for p in dict.fromkeys(s["phase"] for s in samples) if p not in ("drain", "-")]
        phase_means = []
        for phase in phases:
            values = [float(s["efficiency"]) for s in steady if s["phase"] == phase]
            phase_means.append(fmt(sum(values) / len(values), 3) if values else "n/a")
        peak_live = max(int(s["live_bytes"]) for s in samples)
        peak_foot = max(int(s["footprint_bytes"]) for s in samples)
        peak_res = max(int(s["resident_bytes"]) for s in samples)
        frag = [float(s["external_fragmentation"]) for s in steady if s["external_fragmentation"]]
        largest = [int(s["largest_free_block"]) for s in steady if s["largest_free_block"]]
        rows.append([trace, label, f"{peak_live / 2**20:.1f}", f"{peak_foot / 2**20:.1f}",
                     fmt(peak_live / peak_foot, 3), " / ".join(phase_means) or "n/a",
                     fmt(peak_live / peak_res, 3) if peak_res else "n/a",
                     fmt(sum(frag) / len(frag), 3) if frag else "n/a",
                     f"{min(largest) / 2**20:.2f}" if largest else "n/a", samples[-1]["failures"]])
    table(["trace", "allocator", "peak live MiB", "peak footprint MiB", "peak efficiency", "mean efficiency per phase",
           "peak live / peak resident", "mean ext. fragmentation", "min largest free MiB", "failures"], rows)
    for trace, runs in by_trace.items():
        figure, axes = plt.subplots(figsize=(9, 4))
        for label, samples in sorted(runs.items()):
            axes.plot([int(s["op"]) for s in samples], [float(s["efficiency"]) for s in samples], label=label,
                      linewidth=1)
        axes.set_ylim(0, 1.05)
        axes.set_xlabel("operation")
        axes.set_ylabel("live bytes / footprint")
        axes.set_title(f"Memory efficiency over time: {trace} trace")
        axes.legend(fontsize=8)
        save(figure, f"trace-{trace}.png")


report_native()
report_holes()
report_jmh()
report_breakdown()
report_safety()
report_traces()
(RESULTS / "summary.md").write_text("# Benchmark summary (generated by bench/scripts/report.py)\n\n" + "\n".join(out))
print(f"wrote {RESULTS / 'summary.md'} and {PLOTS}/", file=sys.stderr)
