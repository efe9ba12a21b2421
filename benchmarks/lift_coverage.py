"""Coverage, bias and false positives of report's figures on simulated reports with a known truth.

Each shape simulates REPLICATES independent reports: Poisson counts per 15-minute bucket (a row
only where a value is above 0) for a baseline source and recommendation sources whose true
rate lift is TRUE_LIFT, built from a generator that knows the truth, and runs the report's own
code on them (tools.impact.statistics; the import shapes write report CSV files named as
Personalize names them and load them through tools.impact.reports and the SQL).

  (a) independent buckets; (b) ±15 % day-level variation; (c) sparse metric (~2/day);
  (d) a source that starts on day 10 of 14 (the earlier table's shapes)
  (1) a source deleted after day 9 of 14, exposure given as impressions totals
  (2) a source paused (INACTIVE) for 3 of 28 days
  (3) late events: each bucket's events split over two daily INCREMENTAL imports (equal
      values such as 1.0 in both are common)
  (4) a FULL import of everything after 14 daily INCREMENTAL ones
  (5) promotions that follow the shop's day in America/Los_Angeles, across the DST change
  (6) a year with week-long promotions (day clusters alone are not independent)
  (7) a quiet shop: traffic 12 h a day, sparse counts (the rate per clock hour)
  (8) heavy-tailed revenue: a few whale orders
  (9) a sparse source: ~38 purchases in 14 days (its live time is not its first-to-last event)
  (10) A/A: 7 sources and the baseline, 3 metrics, no true difference: family-wise false positives

Coverage: share of replicates whose nominal 95 % interval holds the truth (± its simulation
standard error). Bias: mean estimate / truth - 1 (± standard error). Warned: share with a
warning next to the figure (short window, small sample, correlated days, heavy tail).

    .venv/bin/python benchmarks/lift_coverage.py [--replicates 200] [--shapes a,b,1,...] [--code PATH]

--code PATH runs the same shapes against the tools/ of another checkout (e.g. the main branch
before a change), so a change is judged on the same simulated reports.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.impact import reports  # noqa: E402
from tools.impact.figures import Analysis, DerivedMetric, Exposure, Interval, Settings  # noqa: E402
from tools.impact.hourly import HourlyData  # noqa: E402
from tools.impact.statistics import UNDEFINED_SOURCE, analyse  # noqa: E402

BUCKETS_PER_DAY = 96
TRUE_LIFT = 1.3
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
BASE, REC = UNDEFINED_SOURCE, "REC"
NO_DETAILS = {"metric": np.array([], dtype=object), "event_type": np.array([]), "math_function": np.array([])}
HEADER = "METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP\n"


@dataclass
class Check:
    """One figure of one replicate: the report's interval for it and the truth."""

    figure: str
    get: Callable[[Analysis], Interval | None]
    truth: float
    warned: Callable[[Analysis], bool] = lambda analysis: False


@dataclass
class Case:
    counts: dict[tuple[str, str], np.ndarray]  # (metric, source) -> value per bucket
    checks: list[Check]
    t0: int = T0
    settings: dict = field(default_factory=dict)
    exposure: dict[str, Exposure] = field(default_factory=dict)
    derived: list[DerivedMetric] = field(default_factory=list)


def figures(analysis: Analysis, metric: str, source: str):
    report = next(r for r in analysis.metrics if r.metric == metric)
    return next(s for s in report.sources if s.source == source)


def lift_check(metric: str, source: str = REC, truth: float = TRUE_LIFT) -> Check:
    return Check(
        f"{metric} rate lift",
        lambda a: figures(a, metric, source).lift.rate_lift,
        truth,
        lambda a: bool(figures(a, metric, source).lift.warnings),
    )


def rate_check(metric: str, truth: float, source: str = REC) -> Check:
    return Check(
        f"{metric} per hour", lambda a: figures(a, metric, source).per_hour, truth,
        lambda a: bool(getattr(figures(a, metric, source).per_hour, "warnings", None)),
    )


def day_factors(rng: np.random.Generator, days: int, spread: float = 0.15) -> np.ndarray:
    return rng.normal(1.0, spread, days).clip(0.3)


def poisson_series(rng: np.random.Generator, per_bucket: np.ndarray | float, days: int) -> np.ndarray:
    return rng.poisson(np.broadcast_to(per_bucket, (days * BUCKETS_PER_DAY,))).astype(float)


def by_day(values: np.ndarray) -> np.ndarray:
    return np.repeat(values, BUCKETS_PER_DAY)


def two_sources(rng, days, rate=10.0, spread=0.15, metric="COUNTVIEWS") -> dict:
    return {
        (metric, source): poisson_series(rng, level * by_day(day_factors(rng, days, spread) if spread else np.ones(days)), days)
        for source, level in ((BASE, rate), (REC, rate * TRUE_LIFT))
    }


# The shapes -------------------------------------------------------------------------------


def shape_a(rng):
    return Case(two_sources(rng, 14, spread=0), [lift_check("COUNTVIEWS"), rate_check("COUNTVIEWS", 10 * TRUE_LIFT * 4)])


def shape_b(rng):
    return Case(two_sources(rng, 14), [lift_check("COUNTVIEWS"), rate_check("COUNTVIEWS", 10 * TRUE_LIFT * 4)])


def shape_c(rng):
    counts = two_sources(rng, 14, rate=2 / BUCKETS_PER_DAY, metric="COUNTPURCHASES")
    for source in (BASE, REC):
        counts[("COUNTVIEWS", source)] = poisson_series(rng, 20.0, 14)
    return Case(counts, [lift_check("COUNTPURCHASES"), rate_check("COUNTPURCHASES", 2 * TRUE_LIFT / 24)])


def shape_d(rng):
    counts = two_sources(rng, 14)
    counts[("COUNTVIEWS", REC)][: 9 * BUCKETS_PER_DAY] = 0
    return Case(counts, [lift_check("COUNTVIEWS"), rate_check("COUNTVIEWS", 10 * TRUE_LIFT * 4)])


def shape_1(rng):
    """Deleted after day 9 of 14; each source served 1,000 recommendations an hour while live,
    given as --impressions totals; outcomes per 1,000 served: 10 and 13 an hour."""
    days, live_days = 14, 9
    counts = two_sources(rng, days, rate=2.5)
    counts[("COUNTVIEWS", REC)][live_days * BUCKETS_PER_DAY :] = 0
    exposure = {BASE: Exposure("impressions", total=1000.0 * 24 * days), REC: Exposure("impressions", total=1000.0 * 24 * live_days)}
    return Case(
        counts,
        [
            Check("per-1,000 lift", lambda a: figures(a, "COUNTVIEWS", REC).lift.per_1000_lift, TRUE_LIFT),
            lift_check("COUNTVIEWS"),
        ],
        exposure=exposure,
    )


def shape_2(rng):
    days = 28
    counts = two_sources(rng, days)
    counts[("COUNTVIEWS", REC)][12 * BUCKETS_PER_DAY : 15 * BUCKETS_PER_DAY] = 0
    return Case(counts, [lift_check("COUNTVIEWS"), rate_check("COUNTVIEWS", 10 * TRUE_LIFT * 4)])


def shape_5(rng, timezone: str | None = "America/Los_Angeles"):
    """Day factors (±30 %) per Los Angeles day for each source, a diurnal traffic curve by local
    hour; 28 days from 2024-02-26 (DST starts 2024-03-10)."""
    days, t0 = 28, 1_708_934_400  # 2024-02-26T08:00Z = midnight in Los Angeles
    zone = ZoneInfo("America/Los_Angeles")
    starts = t0 + 900 * np.arange(days * BUCKETS_PER_DAY)
    local = [datetime.fromtimestamp(int(t), tz=zone) for t in starts[::4]]
    local_day = np.repeat([(moment.date() - local[0].date()).days for moment in local], 4)
    local_hour = np.repeat([moment.hour for moment in local], 4)
    diurnal = 0.2 + np.sin(np.pi * local_hour / 24) ** 2 * 1.6
    counts = {}
    for source, level in ((BASE, 10.0), (REC, 10.0 * TRUE_LIFT)):
        factors = day_factors(rng, int(local_day.max()) + 1, 0.3)
        counts[("COUNTVIEWS", source)] = rng.poisson(level * diurnal * factors[local_day]).astype(float)
    return Case(counts, [lift_check("COUNTVIEWS")], t0=t0, settings={"timezone": timezone})


def shape_5_utc(rng):
    return shape_5(rng, None)


def shape_6(rng):
    """365 days; each source's level moves with week-long promotions (a factor per 7-day block,
    random phase, ±20 %) and a slow drift (±10 % over the year), plus ±5 % a day."""
    days = 365
    counts = {}
    for source, level in ((BASE, 10.0), (REC, 10.0 * TRUE_LIFT)):
        phase = int(rng.integers(7))
        weeks = rng.normal(1.0, 0.2, days // 7 + 2).clip(0.3)[(np.arange(days) + phase) // 7]
        drift = 1 + 0.1 * np.sin(2 * np.pi * (np.arange(days) / days + rng.random()))
        factors = weeks * drift * rng.normal(1.0, 0.05, days)
        counts[("COUNTVIEWS", source)] = poisson_series(rng, level * by_day(factors), days)
    return Case(counts, [lift_check("COUNTVIEWS")])


def shape_7(rng):
    """Open 08:00-20:00 UTC, 0.3 and 0.39 views per bucket then: per clock hour 0.6 and 0.78."""
    days = 14
    open_hours = np.tile(np.repeat((np.arange(24) >= 8) & (np.arange(24) < 20), 4), days)
    counts = {
        ("COUNTVIEWS", source): rng.poisson(level * open_hours).astype(float) for source, level in ((BASE, 0.3), (REC, 0.3 * TRUE_LIFT))
    }
    return Case(counts, [lift_check("COUNTVIEWS"), rate_check("COUNTVIEWS", 0.3 * TRUE_LIFT * 4 / 2)])


WHALE_SHARE, WHALE_FACTOR = 0.01, 30.0
ORDER_MEAN = 40.0 * (1 - WHALE_SHARE + WHALE_SHARE * WHALE_FACTOR)


def revenue(rng: np.random.Generator, orders: np.ndarray) -> np.ndarray:
    """Order amounts: lognormal with mean 40, and 1 % whales 30 times that; summed per bucket."""
    total = int(orders.sum())
    amounts = 40.0 * rng.lognormal(-0.5 * 0.8**2, 0.8, total) * np.where(rng.random(total) < WHALE_SHARE, WHALE_FACTOR, 1.0)
    return np.bincount(np.repeat(np.arange(len(orders)), orders.astype(int)), weights=amounts, minlength=len(orders))


def shape_8(rng):
    """28 days, 0.3 and 0.39 orders per bucket with ±15 % day variation, whale revenue."""
    days = 28
    counts = {}
    for source, level in ((BASE, 0.3), (REC, 0.3 * TRUE_LIFT)):
        orders = poisson_series(rng, level * by_day(day_factors(rng, days)), days)
        counts[("COUNTORDERS", source)] = orders
        counts[("SUMREVENUE", source)] = revenue(rng, orders)
        counts[("COUNTVIEWS", source)] = poisson_series(rng, 10.0, days)
    derived = [DerivedMetric("revenuePerOrder", "sumRevenue / countOrders")]

    def per_order(a: Analysis) -> Interval:
        return next(f.value for f in a.derived[0].sources if f.source == REC)

    return Case(
        counts,
        [
            lift_check("SUMREVENUE"),
            rate_check("SUMREVENUE", 0.3 * TRUE_LIFT * 4 * ORDER_MEAN),
            Check("revenue per order", per_order, ORDER_MEAN, lambda a: bool(getattr(per_order(a), "warnings", None))),
        ],
        derived=derived,
    )


def shape_9(rng):
    """38 purchases expected in 14 days (uniform), baseline views every bucket."""
    days = 14
    counts = {
        ("COUNTVIEWS", BASE): poisson_series(rng, 10.0, days),
        ("COUNTPURCHASES", REC): poisson_series(rng, 38 / (days * BUCKETS_PER_DAY), days),
    }
    return Case(counts, [rate_check("COUNTPURCHASES", 38 / (days * 24))])


AA_SOURCES = 7  # with the baseline: 8 sources
AA_METRICS = ("COUNTVIEWS", "COUNTPURCHASES", "SUMREVENUE")


def shape_10(rng):
    """A/A: every source has the baseline's rates (±15 % day variation per source, shared by its
    three metrics: purchases are 5 % of views, revenue 40 a purchase)."""
    days = 14
    counts = {}
    for source in [BASE] + [f"S{i}" for i in range(AA_SOURCES)]:
        level = by_day(day_factors(rng, days))
        counts[("COUNTVIEWS", source)] = poisson_series(rng, 10.0 * level, days)
        purchases = poisson_series(rng, 0.5 * level, days)
        counts[("COUNTPURCHASES", source)] = purchases
        counts[("SUMREVENUE", source)] = np.bincount(
            np.repeat(np.arange(len(purchases)), purchases.astype(int)),
            weights=40.0 * rng.lognormal(-0.32, 0.8, int(purchases.sum())),
            minlength=len(purchases),
        )
    return Case(counts, [])


# Import shapes: report files as Personalize writes them, read through reports.ReportStore ----


def import_files(rng, late_share: float, full_at_end: bool) -> tuple[dict[str, str], float]:
    """14 daily INCREMENTAL imports of sparse view events (0.8 a bucket); a `late_share` of each
    bucket's events reach only the next day's import. With `full_at_end` a FULL import of all
    events follows. Returns file name -> CSV text, and the true total."""
    days = 14
    events = poisson_series(rng, 0.8, days)
    late = rng.binomial(events.astype(int), late_share).astype(float)
    on_time = events - late
    stamps = T0 + np.arange(days * BUCKETS_PER_DAY) * 900
    day_of = np.arange(days * BUCKETS_PER_DAY) // BUCKETS_PER_DAY
    files = {}

    def csv(values: np.ndarray, keep: np.ndarray) -> str:
        rows = [f"COUNTVIEWS,View,{v:.1f},samplecount,{REC},{t}\n" for v, t in zip(values[keep], stamps[keep])]
        return HEADER + "".join(rows)

    for day in range(days + 1):
        # The import after day d holds day d's on-time events and day d-1's late ones.
        values = np.where(day_of == day, on_time, 0.0) + np.where(day_of == day - 1, late, 0.0)
        imported_at = T0 + (day + 1) * 86_400 + 3_600
        files[f"AggregatedAttributionMetrics - INCREMENTAL - {imported_at}.csv"] = csv(values, values > 0)
    if full_at_end:
        files[f"AggregatedAttributionMetrics - FULL - {T0 + (days + 2) * 86_400}.csv"] = csv(events, events > 0)
    return files, float(events.sum())


def import_total(files: dict[str, str], folder: Path) -> float:
    """The total report's SQL (the same text Athena runs) counts from these files."""
    for path in folder.iterdir():
        path.unlink()
    for name, text in files.items():
        (folder / name).write_text(text)
    store = reports.ReportStore()
    try:
        reports.load_local(store, folder)
        results = store.aggregates(["hourly_by_source"])
    finally:
        store.close()
    return float(np.sum(results["hourly_by_source"]["total"]))


# Running ------------------------------------------------------------------------------------


def hourly_data(hourly: dict, traffic: dict, timezone: str | None) -> HourlyData:
    """HourlyData with whole days, as report's --block day (an older checkout takes no options)."""
    try:
        return HourlyData(hourly, traffic, timezone=timezone)
    except TypeError:
        return HourlyData(hourly, traffic)


def make_settings(**values) -> Settings:
    """Settings with the options this checkout's Settings has."""
    known = set(Settings.__dataclass_fields__)
    return Settings(**{key: value for key, value in values.items() if key in known})


def use_code(path: Path) -> None:
    """Import tools.impact from another checkout in place of this one's."""
    global reports, HourlyData, Settings, analyse
    sys.path.insert(0, str(path.resolve()))
    for name in [name for name in sys.modules if name == "tools" or name.startswith("tools.")]:
        del sys.modules[name]
    from tools.impact import reports as other_reports
    from tools.impact import statistics as other

    reports, HourlyData, Settings, analyse = other_reports, other.HourlyData, other.Settings, other.analyse


def hourly_tables(counts: dict[tuple[str, str], np.ndarray], t0: int) -> tuple[dict, dict]:
    """The hourly_by_source and traffic_by_hour results the SQL would give for these buckets."""
    hourly: dict[str, list] = {"metric": [], "source": [], "hour_start": [], "total": [], "buckets": []}
    size = len(next(iter(counts.values())))
    any_row = np.zeros(size, dtype=bool)
    hour_starts = t0 + 3600 * np.arange(size // 4)
    for (metric, source), values in counts.items():
        any_row |= values > 0
        totals = values.reshape(-1, 4).sum(axis=1)
        buckets = (values.reshape(-1, 4) > 0).sum(axis=1)
        keep = buckets > 0
        hourly["metric"] += [metric] * int(keep.sum())
        hourly["source"] += [source] * int(keep.sum())
        hourly["hour_start"] += hour_starts[keep].tolist()
        hourly["total"] += totals[keep].tolist()
        hourly["buckets"] += buckets[keep].tolist()
    traffic = any_row.reshape(-1, 4).sum(axis=1)
    arrays = {key: np.array(value) for key, value in hourly.items()}
    return arrays, {"hour_start": hour_starts[traffic > 0], "buckets": traffic[traffic > 0]}


SHAPES: dict[str, tuple[str, Callable, float]] = {
    # key: (label, builder, share of --replicates run: the year-long shape is slower)
    "a": ("(a) independent buckets, 14 d", shape_a, 1.0),
    "b": ("(b) ±15 % day variation, 14 d", shape_b, 1.0),
    "c": ("(c) sparse metric ~2/day, 14 d", shape_c, 1.0),
    "d": ("(d) source starts day 10 of 14", shape_d, 1.0),
    "1": ("(1) deleted after day 9 of 14, impressions totals", shape_1, 1.0),
    "2": ("(2) paused 3 of 28 days", shape_2, 1.0),
    "5": ("(5) Los Angeles promotions over DST, --timezone", shape_5, 1.0),
    "5u": ("(5) the same, clustered by UTC day", shape_5_utc, 1.0),
    "6": ("(6) 365 d, week-long promotions and drift", shape_6, 0.5),
    "7": ("(7) quiet shop, 12 h/day, sparse", shape_7, 1.0),
    "8": ("(8) whale revenue, 28 d", shape_8, 1.0),
    "9": ("(9) sparse source, ~38 events in 14 d", shape_9, 1.0),
}


def run_shape(key: str, replicates: int, seed: int) -> list[dict]:
    label, build, share = SHAPES[key]
    count = max(10, int(replicates * share))
    rng = np.random.default_rng([seed, sum(map(ord, key))])
    outcomes: dict[str, list[tuple[bool, float, bool]]] = {}
    truths: dict[str, float] = {}
    for index in range(count):
        case = build(rng)
        hourly, traffic = hourly_tables(case.counts, case.t0)
        data = hourly_data(hourly, traffic, case.settings.get("timezone"))
        settings = make_settings(baseline=BASE, seed=index, resamples=1000, **case.settings)
        analysis = analyse(data, NO_DETAILS, settings, exposure=case.exposure, derived=case.derived)
        for check in case.checks:
            interval = check.get(analysis)
            covered = interval is not None and interval.low is not None and interval.low <= check.truth <= interval.high
            estimate = interval.estimate if interval is not None and interval.estimate is not None else math.nan
            outcomes.setdefault(check.figure, []).append((covered, estimate, check.warned(analysis)))
            truths[check.figure] = check.truth
    rows = []
    for figure, results in outcomes.items():
        covered = np.array([r[0] for r in results], dtype=float)
        ratios = np.array([r[1] for r in results]) / truths[figure]
        rows.append(
            {
                "shape": label, "figure": figure, "replicates": count,
                "coverage": covered.mean(), "coverage_se": math.sqrt(covered.mean() * (1 - covered.mean()) / count),
                "bias": float(np.nanmean(ratios) - 1), "bias_se": float(np.nanstd(ratios) / math.sqrt(count)),
                "warned": float(np.mean([r[2] for r in results])),
            }
        )
    return rows


def run_false_positives(replicates: int, seed: int) -> list[dict]:
    """(10): share of A/A replicates with at least one 'significant' lift, raw and Holm-adjusted."""
    rng = np.random.default_rng([seed, 10])
    raw, holm, family = [], [], 0
    for index in range(replicates):
        case = shape_10(rng)
        hourly, traffic = hourly_tables(case.counts, case.t0)
        analysis = analyse(hourly_data(hourly, traffic, None), NO_DETAILS, make_settings(baseline=BASE, seed=index))
        lifts = [s.lift for m in analysis.metrics for s in m.sources if s.lift is not None]
        family = len(lifts)
        raw.append(any(c.rate_lift.low is not None and not c.rate_lift.low <= 1 <= c.rate_lift.high for c in lifts))
        holm.append(any((getattr(c, "p_adjusted", None) or 1.0) < 0.05 for c in lifts))
    rows = []
    for name, hits in (("any raw 95 % interval excludes 1", raw), ("any Holm-adjusted p < 0.05", holm)):
        share = float(np.mean(hits))
        rows.append({"figure": name, "replicates": replicates, "family": family, "rate": share,
                     "se": math.sqrt(share * (1 - share) / replicates)})
    return rows


def run_imports(replicates: int, seed: int) -> list[dict]:
    """(3) and (4): total views reported / true total - 1."""
    rng = np.random.default_rng([seed, 34])
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for label, full in (("(3) late events over two INCREMENTAL imports", False), ("(4) FULL after 14 INCREMENTAL imports", True)):
            values = []
            for _ in range(replicates):
                files, truth = import_files(rng, 0.3, full)
                values.append(import_total(files, Path(folder)) / truth)
            values = np.array(values)
            rows.append({"shape": label, "replicates": replicates,
                         "bias": float(values.mean() - 1), "bias_se": float(values.std() / math.sqrt(replicates))})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicates", type=int, default=200, help="simulated reports per shape (default 200; the year-long shape half)")
    parser.add_argument("--import-replicates", type=int, default=40, help="replicates of the import shapes (3), (4) (default 40)")
    parser.add_argument("--shapes", default=",".join([*SHAPES, "3", "4", "10"]), help="comma-separated shape keys")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--code", type=Path, metavar="PATH", help="run against the tools/ of another checkout")
    args = parser.parse_args()
    if args.code:
        use_code(args.code)
    chosen = args.shapes.split(",")
    started = time.perf_counter()
    code = f"; code of {args.code}" if args.code else ""
    print(f"true lift {TRUE_LIFT}, nominal 95 %, seed {args.seed}{code}; ± is the simulation standard error\n")
    print("| Shape | Figure | Replicates | Coverage | Bias | Warned |")
    print("|---|---|---|---|---|---|")
    for key in (k for k in SHAPES if k in chosen):
        for row in run_shape(key, args.replicates, args.seed):
            print(
                f"| {row['shape']} | {row['figure']} | {row['replicates']} | "
                f"{row['coverage'] * 100:.1f} ± {row['coverage_se'] * 100:.1f} % | "
                f"{row['bias'] * 100:+.1f} ± {row['bias_se'] * 100:.1f} % | {row['warned'] * 100:.0f} % |",
                flush=True,
            )
    if "3" in chosen or "4" in chosen:
        print("\n| Shape | Replicates | Total views: bias |")
        print("|---|---|---|")
        for row in run_imports(args.import_replicates, args.seed):
            print(f"| {row['shape']} | {row['replicates']} | {row['bias'] * 100:+.2f} ± {row['bias_se'] * 100:.2f} % |", flush=True)
    if "10" in chosen:
        print(f"\n(10) A/A, {AA_SOURCES} sources + baseline x {len(AA_METRICS)} metrics, 14 d, ±15 % day variation:\n")
        print("| Family-wise false positive | Replicates | Lifts per report | Rate |")
        print("|---|---|---|---|")
        for row in run_false_positives(args.replicates, args.seed):
            print(f"| {row['figure']} | {row['replicates']} | {row['family']} | {row['rate'] * 100:.1f} ± {row['se'] * 100:.1f} % |", flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
