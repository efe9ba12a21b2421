"""report at scale: 1,000,000 report rows (100 sources x 5,000 buckets x 2 metrics), or with
--year a year of daily imports (365 files, 8 sources x 3 metrics, about 650,000 rows).

Writes the rows as report CSVs, then runs the report's pipeline in fresh child processes
(DuckDB load + SQL aggregates + rates, lift and intervals, the work of `report --dir … --json`
without printing) and prints the median wall time (interpreter start and imports included)
and the peak RSS of the child (getrusage of the waited-for children). Target: <= 2 s and
<= 400 MB.

    .venv/bin/python benchmarks/report_scale.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SOURCES, BUCKETS, METRICS = 100, 5_000, ("COUNTVIEWS", "SUMMARGIN")
T0 = 1_704_067_200

CHILD = """
import sys, time
started = time.perf_counter()
from pathlib import Path
from tools.impact import reports, statistics
from stacks.report_sql import ANALYSIS_QUERIES
store = reports.ReportStore()
reports.load_local(store, Path(sys.argv[1]))
results = store.aggregates(ANALYSIS_QUERIES)
data = statistics.HourlyData(results["hourly_by_source"], results["traffic_by_hour"])
analysis = statistics.analyse(data, results["metric_details"], statistics.Settings())
lifts = [s.lift.rate_lift for m in analysis.metrics for s in m.sources if s.lift]
assert len(lifts) == int(sys.argv[2]) and all(l.low is not None for l in lifts), "every source needs a lift interval"
print(f"{time.perf_counter() - started:.3f} {store.row_count()}")
"""


def write_reports(folder: Path, files: int) -> int:
    """The rows split by time into `files` report files (as import jobs write them)."""
    rng = np.random.default_rng(7)
    sources = np.array(["SOURCE_NAME_UNDEFINED"] + [f"source_{i:03d}" for i in range(SOURCES - 1)])
    timestamps = T0 + 900 * np.arange(BUCKETS)
    handles = [(folder / f"AggregatedAttributionMetrics - INCREMENTAL - {n}.csv").open("w") for n in range(files)]
    for handle in handles:
        handle.write("METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP\n")
    part = -(-BUCKETS // files)
    for metric in METRICS:
        kind, function = ("View", "samplecount") if metric == "COUNTVIEWS" else ("Purchase", "sum")
        for source in sources:
            values = rng.poisson(20, BUCKETS) + 1
            for n, handle in enumerate(handles):
                chunk = slice(n * part, (n + 1) * part)
                handle.writelines(f"{metric},{kind},{v},{function},{source},{t}\n" for v, t in zip(values[chunk], timestamps[chunk]))
    for handle in handles:
        handle.close()
    return SOURCES * BUCKETS * len(METRICS)


YEAR_SOURCES, YEAR_DAYS = 8, 365


def write_year(folder: Path) -> int:
    """A daily INCREMENTAL import for a year: views in every bucket, purchases and revenue in
    about two buckets of three, for the baseline and 7 sources."""
    rng = np.random.default_rng(7)
    sources = ["SOURCE_NAME_UNDEFINED"] + [f"source_{i}" for i in range(YEAR_SOURCES - 1)]
    rows = 0
    for day in range(YEAR_DAYS):
        stamps = T0 + day * 86_400 + 900 * np.arange(96)
        lines = ["METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP\n"]
        for source in sources:
            views = rng.poisson(20, 96) + 1
            purchases = rng.poisson(1.1, 96)
            lines += [f"COUNTVIEWS,View,{v},samplecount,{source},{t}\n" for v, t in zip(views, stamps)]
            lines += [f"COUNTPURCHASES,Purchase,{p},samplecount,{source},{t}\n" for p, t in zip(purchases, stamps) if p]
            lines += [f"SUMREVENUE,Purchase,{p * 41.5:.2f},sum,{source},{t}\n" for p, t in zip(purchases, stamps) if p]
        rows += len(lines) - 1
        (folder / f"AggregatedAttributionMetrics - INCREMENTAL - {T0 + (day + 1) * 86_400}.csv").write_text("".join(lines))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=1, help="split the rows into this many report files (default 1)")
    parser.add_argument("--year", action="store_true", help="a year of daily imports: 365 files, 8 sources x 3 metrics")
    parser.add_argument(
        "--copy", action="store_true", help="add a re-downloaded copy of the first file (the deduplication has work to do)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder)
        rows = write_year(report) if args.year else write_reports(report, args.files)
        lifts = (YEAR_SOURCES - 1) * 3 if args.year else 2 * (SOURCES - 1)
        if args.copy:
            first = report / "AggregatedAttributionMetrics - INCREMENTAL - 0.csv"
            (report / "copy of the first report.csv").write_bytes(first.read_bytes())
            rows += rows // args.files
        walls, inner = [], []
        for _ in range(args.runs):
            started = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(report), str(lifts)], cwd=ROOT, check=True, capture_output=True, text=True
            ).stdout.split()
            walls.append(time.perf_counter() - started)
            inner.append(float(out[0]))
            assert int(out[1]) == rows, out
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_mib = children.ru_maxrss / 1024  # Linux: KiB
        cpu = (children.ru_utime + children.ru_stime) / args.runs
    copy = " + a copy of the first" if args.copy else ""
    shape = (
        f"{YEAR_DAYS} daily files, {YEAR_SOURCES} sources x 3 metrics"
        if args.year
        else f"{SOURCES} sources x {BUCKETS:,} buckets x {len(METRICS)} metrics in {args.files} file(s){copy}"
    )
    print(f"{rows:,} rows ({shape}), "
          f"{args.runs} runs; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"wall, child process incl. interpreter and imports: median {statistics.median(walls):.2f} s "
          f"(min {min(walls):.2f} s)")
    print(f"inside the child, load + SQL + statistics: median {statistics.median(inner):.2f} s")
    print(f"CPU time of the child (user + system, both cores): mean {cpu:.2f} s")
    print(f"peak RSS of the child: {peak_mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
