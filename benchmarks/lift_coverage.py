"""Coverage of report's nominal 95 % lift interval, and bias of its rates, on simulated reports.

Each scenario simulates DATASETS independent two-week reports of a baseline source and one
recommendation source whose true rate lift is TRUE_LIFT, in 15-minute buckets (Poisson
counts, a row only where the count is above 0), aggregates them to the hourly shape the SQL
produces, and runs the report's own statistics (tools.impact.statistics) on them.

  (a) independent buckets: constant rates
  (b) day-level variation: each source's rate is multiplied by an independent N(1, 0.15)
      factor per day (promotions, weather, weekday)
  (c) sparse metric: ~2 purchases per day for the baseline, with (b)'s day variation; a busy
      view metric marks the time traffic flowed
  (d) late start: as (b), but the source launches on day 10 of 14

Coverage: share of data sets whose interval contains TRUE_LIFT (target >= 92 % for a and b).
Rate bias: mean estimated rate per hour of the source / its true rate per hour, - 1.

    .venv/bin/python benchmarks/lift_coverage.py [--datasets 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.impact.statistics import HourlyData, Settings, analyse  # noqa: E402

DAYS = 14
BUCKETS_PER_DAY = 96
TRUE_LIFT = 1.3
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
SCENARIOS = {
    "a": "independent buckets",
    "b": "±15 % day-level variation",
    "c": "sparse metric (~2/day), day variation",
    "d": "source starts on day 10 of 14",
}


def simulate(scenario: str, rng: np.random.Generator) -> tuple[dict, dict, float, str]:
    """Hourly aggregates of one simulated report, the true per-hour rate of the source, the metric."""
    per_bucket = {"BASE": 10.0, "REC": 10.0 * TRUE_LIFT}
    metric = "COUNTVIEWS"
    if scenario == "c":
        per_bucket = {"BASE": 2 / BUCKETS_PER_DAY, "REC": 2 * TRUE_LIFT / BUCKETS_PER_DAY}
        metric = "COUNTPURCHASES"
    day_variation = scenario != "a"
    first_day = {"BASE": 0, "REC": 9 if scenario == "d" else 0}
    counts = {}
    for source, rate in per_bucket.items():
        factor = rng.normal(1.0, 0.15, DAYS).clip(0.3) if day_variation else np.ones(DAYS)
        lam = np.repeat(rate * factor, BUCKETS_PER_DAY)
        values = rng.poisson(lam).astype(float)
        values[: first_day[source] * BUCKETS_PER_DAY] = 0
        counts[(metric, source)] = values
        if scenario == "c":  # the busy metric that shows when traffic flowed
            views = rng.poisson(20.0, DAYS * BUCKETS_PER_DAY).astype(float)
            views[: first_day[source] * BUCKETS_PER_DAY] = 0
            counts[("COUNTVIEWS", source)] = views
    hourly = {"metric": [], "source": [], "hour_start": [], "total": [], "buckets": []}
    traffic = np.zeros(DAYS * 24, dtype=np.int64)
    any_row = np.zeros(DAYS * BUCKETS_PER_DAY, dtype=bool)
    hour_starts = T0 + 3600 * np.arange(DAYS * 24)
    for (name, source), values in counts.items():
        any_row |= values > 0
        totals = values.reshape(-1, 4).sum(axis=1)
        buckets = (values.reshape(-1, 4) > 0).sum(axis=1)
        keep = buckets > 0
        hourly["metric"] += [name] * int(keep.sum())
        hourly["source"] += [source] * int(keep.sum())
        hourly["hour_start"] += hour_starts[keep].tolist()
        hourly["total"] += totals[keep].tolist()
        hourly["buckets"] += buckets[keep].tolist()
    traffic = any_row.reshape(-1, 4).sum(axis=1)
    arrays = {key: np.array(value) for key, value in hourly.items()}
    traffic_table = {"hour_start": hour_starts[traffic > 0], "buckets": traffic[traffic > 0]}
    return arrays, traffic_table, per_bucket["REC"] * 4, metric


def run(datasets: int, seed: int = 2024) -> list[dict]:
    rows = []
    details = {"metric": np.array([], dtype=object), "event_type": np.array([]), "math_function": np.array([])}
    for scenario, label in SCENARIOS.items():
        # (b) once more with hours as the independent units: what ignoring day effects costs.
        variants = [("delta", "day"), ("bootstrap", "day")] + ([("delta", "hour")] if scenario == "b" else [])
        for method, block in variants:
            covered, estimates, widths, rate_ratio, warned = 0, [], [], [], 0
            inner = np.random.default_rng(seed + ord(scenario))  # same data sets for both methods
            for index in range(datasets):
                hourly, traffic, true_rate, metric = simulate(scenario, inner)
                data = HourlyData(hourly, traffic)
                settings = Settings(baseline="BASE", ci=method, block=block, resamples=1000, seed=index, metrics=[metric])
                [report] = analyse(data, details, settings).metrics
                rec = next(s for s in report.sources if s.source == "REC")
                lift = rec.lift.rate_lift
                if lift.low is not None and lift.low <= TRUE_LIFT <= lift.high:
                    covered += 1
                estimates.append(lift.estimate)
                widths.append((lift.high - lift.low) if lift.low is not None else np.nan)
                rate_ratio.append(rec.per_hour.estimate / true_rate)
                warned += bool(rec.lift.warnings)
            rows.append(
                {
                    "scenario": f"({scenario}) {label}",
                    "method": f"{method}, {block}s",
                    "coverage": covered / datasets,
                    "mean_lift": float(np.mean(estimates)),
                    "median_width": float(np.nanmedian(widths)),
                    "rate_bias": float(np.mean(rate_ratio) - 1),
                    "warned": warned / datasets,
                }
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=int, default=200, help="simulated data sets per scenario (default 200)")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = run(args.datasets)
    print(f"{args.datasets} data sets per scenario, 14 days, true lift {TRUE_LIFT}, nominal 95 %, "
          f"{time.perf_counter() - started:.0f} s\n")
    print("| Scenario | Interval | Coverage | Mean lift | Median width | Rate bias | Warned |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['scenario']} | {row['method']} | {row['coverage'] * 100:.1f} % | {row['mean_lift']:.3f} | "
            f"{row['median_width']:.3f} | {row['rate_bias'] * 100:+.1f} % | {row['warned'] * 100:.0f} % |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
