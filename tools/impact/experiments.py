"""Analysis of a randomized experiment between sources (config `experiments`, docs/experiments.md).

Input: one row per assigned unit (user) with its arm (the source it was assigned), the day it was
assigned and its outcomes per metric. Per arm: units and mean outcome per unit. When only
exposures are counted (rows of source, day, exposures and outcome totals, e.g. GetRecommendations
calls), the same steps run on outcomes per exposure, with a day-clustered variance (days are the
independent units, as in report's lift) and the SRM check on exposures. Then:

* Sample-ratio mismatch (SRM): Pearson's chi-square of the units per arm against the configured
  weights (scipy.stats.chisquare). p < 0.001, the threshold of Fabijan et al., "Diagnosing Sample
  Ratio Mismatch in Online Controlled Experiments" (KDD 2019), means the split is broken (an arm
  loses or gains users outside the randomization): the verdict is blocked, whatever the lifts say.
* Lift of each arm over the control (the first arm), mean_arm / mean_control - 1, with a
  delta-method standard error se = sqrt(var_a/n_a + r^2 var_c/n_c) / mean_c (r the ratio of means).
  The fixed-horizon interval is lift +- z se: valid only when looked at once, at the planned end.
* Always-valid interval: the mixture sequential probability ratio test (mSPRT) of Johari, Koomen,
  Pekelis and Walsh, "Always Valid Inference: Continuous Monitoring of A/B Tests" (Operations
  Research 70(3), 2022), with a normal mixture of scale tau = the configured
  minimumDetectableEffect over the lift's normal approximation (variance V = se^2). Its
  confidence sequence is lift +- sqrt(V (V + tau^2) / tau^2 * (2 log(1/alpha) + log((V + tau^2) / V)));
  intersected over the daily looks it covers the true lift at all looks at once with probability
  >= 1 - alpha, so looking every day does not inflate false positives. The verdict uses it, with
  alpha split evenly over the arms compared to the control (Bonferroni).
* Days needed: units for the minimum detectable effect at 80 % power and the fixed-horizon alpha,
  at the observed variance and units per day.

scipy provides the chi-square test and normal quantiles (already pinned for the report); the
mSPRT interval is the closed form above (no maintained Python package ships it).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from config.experiments import SRM_P_THRESHOLD
from tools._cli import CliError

POWER = 0.8
UNIT_COLUMN, SOURCE_COLUMN, DAY_COLUMN, EXPOSURES_COLUMN = "unit", "source", "day", "exposures"


def normal_quantile(probability: float) -> float:
    from scipy.special import ndtri  # scipy.stats costs ~1 s to import

    return float(ndtri(probability))


@dataclass(frozen=True)
class Moments:
    """Units, sum and sum of squares of one metric in one arm (arrays: one entry per look)."""

    n: Any
    total: Any
    squares: Any

    @property
    def mean(self) -> Any:
        return self.total / self.n

    @property
    def variance(self) -> Any:
        return np.maximum(self.squares / self.n - self.mean**2, 0) * self.n / np.maximum(self.n - 1, 1)


@dataclass(frozen=True)
class LiftIntervals:
    lift: Any
    fixed_low: Any
    fixed_high: Any
    sequential_low: Any
    sequential_high: Any


def lift_intervals(control: Moments | ClusteredRatio, arm: Moments | ClusteredRatio, *, alpha: float, mixture_scale: float) -> LiftIntervals:
    """Lift of ``arm`` over ``control`` with the fixed-horizon and the always-valid (mSPRT)
    intervals at each look (module docstring); works on numbers or numpy arrays alike."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = arm.mean / control.mean
        variance = (arm.variance / arm.n + ratio**2 * control.variance / control.n) / control.mean**2
        lift = ratio - 1
        half = normal_quantile(1 - alpha / 2) * np.sqrt(variance)
        tau2 = mixture_scale**2
        sequential = np.sqrt(variance * (variance + tau2) / tau2 * (2 * math.log(1 / alpha) + np.log((variance + tau2) / variance)))
    return LiftIntervals(lift, lift - half, lift + half, lift - sequential, lift + sequential)


def running_intersection(intervals: LiftIntervals) -> tuple[Any, Any]:
    """The always-valid interval after every look so far: the intersection of the looks' intervals."""
    low = np.fmax.accumulate(np.nan_to_num(intervals.sequential_low, nan=-np.inf), axis=-1)
    high = np.fmin.accumulate(np.nan_to_num(intervals.sequential_high, nan=np.inf), axis=-1)
    return low, high


def srm_p_value(units: Any, weights: Sequence[float]) -> Any:
    """Pearson's chi-square p-value of units per arm (last axis; leading axes are separate tests)."""
    from scipy.stats import chisquare

    observed = np.asarray(units, dtype=float)
    expected = observed.sum(axis=-1, keepdims=True) * np.asarray(weights, dtype=float) / float(sum(weights))
    return chisquare(observed, expected, axis=-1).pvalue


def units_needed(control: Moments | ClusteredRatio, arm: Moments | ClusteredRatio, *, weights: tuple[float, float], effect: float, alpha: float, power: float = POWER) -> float:
    """Total units (all arms) for a fixed-horizon test to detect a relative ``effect`` between
    two arms of the given weights (shares of all units)."""
    z = normal_quantile(1 - alpha / 2) + normal_quantile(power)
    per_unit = (arm.variance / weights[1] + control.variance / weights[0]) / control.mean**2
    return float(z**2 * per_unit / effect**2)


# --- the per-unit table --------------------------------------------------------------------------


@dataclass
class UnitTable:
    sources: np.ndarray  # str, one per unit
    days: np.ndarray  # int, days since the first assignment day
    metrics: dict[str, np.ndarray]

    @property
    def day_count(self) -> int:
        return int(self.days.max()) + 1

    @classmethod
    def read_csv(cls, path: Path, metrics: Sequence[str], *, start: date | None = None, end: date | None = None) -> UnitTable | ExposureTable:
        """Rows of days from ``start`` to ``end`` (the experiment's window), both included."""
        try:
            with path.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        except OSError as err:
            raise CliError(f"cannot read --units {path}: {err.strerror}") from None
        if rows and DAY_COLUMN in rows[0] and (start or end):
            try:
                rows = [r for r in rows if (start is None or date.fromisoformat(r[DAY_COLUMN]) >= start) and (end is None or date.fromisoformat(r[DAY_COLUMN]) <= end)]
            except ValueError as err:
                raise CliError(f"--units {path}: a day is not an ISO date ({err})") from None
        if not rows:
            raise CliError(f"--units {path} has no rows in the experiment's window ({start} to {end or 'now'})")
        if UNIT_COLUMN not in rows[0] and EXPOSURES_COLUMN in rows[0]:
            missing = [c for c in (SOURCE_COLUMN, DAY_COLUMN, *metrics) if c not in rows[0]]
            if missing:
                raise CliError(f"--units {path} lacks column(s) {missing}; per-exposure rows are {SOURCE_COLUMN},{DAY_COLUMN},{EXPOSURES_COLUMN},{','.join(metrics)}")
            return ExposureTable.from_rows(rows, metrics, path)
        missing = [c for c in (UNIT_COLUMN, SOURCE_COLUMN, *metrics) if c not in rows[0]]
        if missing:
            raise CliError(f"--units {path} lacks column(s) {missing}; expected {UNIT_COLUMN},{SOURCE_COLUMN}[,{DAY_COLUMN}],{','.join(metrics)} "
                           f"(or per-exposure rows: {SOURCE_COLUMN},{DAY_COLUMN},{EXPOSURES_COLUMN},...)")
        if DAY_COLUMN in rows[0]:
            days = [date.fromisoformat(r[DAY_COLUMN]) for r in rows]
            first = min(days)
            day_index = np.array([(d - first).days for d in days])
        else:
            day_index = np.zeros(len(rows), dtype=int)
        try:
            values = {m: np.array([float(r[m] or 0) for r in rows]) for m in metrics}
        except ValueError as err:
            raise CliError(f"--units {path}: a metric value is not a number ({err})") from None
        return cls(np.array([r[SOURCE_COLUMN] for r in rows]), day_index, values)

    kind = "units"

    def count(self, source: str) -> int:
        return int((self.sources == source).sum())

    def mean(self, source: str, metric: str) -> float:
        mask = self.sources == source
        return float(self.metrics[metric][mask].mean()) if mask.any() else math.nan

    def moments(self, source: str, metric: str) -> Moments:
        """Cumulative moments after each day (index = day)."""
        mask = self.sources == source
        days = int(self.days.max()) + 1
        count = np.bincount(self.days[mask], minlength=days)
        values = self.metrics[metric][mask]
        total = np.bincount(self.days[mask], weights=values, minlength=days)
        squares = np.bincount(self.days[mask], weights=values**2, minlength=days)
        return Moments(np.cumsum(count).astype(float), np.cumsum(total), np.cumsum(squares))


@dataclass(frozen=True)
class ClusteredRatio:
    """Outcome per exposure with a day-clustered variance, shaped like `Moments` for
    `lift_intervals`: variance / n is Var(R) of the cluster-robust delta method (report's lift,
    tools/impact/statistics.py), R = sum of outcomes / sum of exposures over the days so far."""

    n: Any
    mean: Any
    variance: Any


@dataclass
class ExposureTable:
    """Exposures and outcome totals per arm and day, when units are not counted (e.g.
    GetRecommendations calls per recommender): outcomes per exposure, days as the clusters."""

    exposures: dict[str, np.ndarray]  # source → per day
    totals: dict[str, dict[str, np.ndarray]]  # metric → source → per day
    kind = "exposures"

    @classmethod
    def from_rows(cls, rows: list[dict], metrics: Sequence[str], path: Path) -> ExposureTable:
        days = sorted({date.fromisoformat(r[DAY_COLUMN]) for r in rows})
        index = {d: i for i, d in enumerate(days)}
        exposures: dict[str, np.ndarray] = {}
        totals: dict[str, dict[str, np.ndarray]] = {m: {} for m in metrics}
        try:
            for row in rows:
                day = index[date.fromisoformat(row[DAY_COLUMN])]
                exposures.setdefault(row[SOURCE_COLUMN], np.zeros(len(days)))[day] += float(row[EXPOSURES_COLUMN])
                for metric in metrics:
                    totals[metric].setdefault(row[SOURCE_COLUMN], np.zeros(len(days)))[day] += float(row[metric] or 0)
        except ValueError as err:
            raise CliError(f"--units {path}: a value is not a number ({err})") from None
        return cls(exposures, totals)

    @property
    def sources(self) -> np.ndarray:
        return np.array(list(self.exposures))

    @property
    def day_count(self) -> int:
        return len(next(iter(self.exposures.values())))

    def count(self, source: str) -> int:
        return int(self.exposures.get(source, np.zeros(1)).sum())

    def mean(self, source: str, metric: str) -> float:
        shown = self.count(source)
        return float(self.totals[metric][source].sum() / shown) if shown else math.nan

    def moments(self, source: str, metric: str) -> ClusteredRatio:
        exposures, totals = self.exposures[source], self.totals[metric][source]
        shown, outcome = np.cumsum(exposures), np.cumsum(totals)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = outcome / shown
            variances = []
            for days in range(1, len(exposures) + 1):
                residuals = totals[:days] - ratio[days - 1] * exposures[:days]
                variances.append(days / (days - 1) * float(residuals @ residuals) / shown[days - 1] ** 2 if days > 1 else np.nan)
            return ClusteredRatio(shown, ratio, np.array(variances) * shown)


# --- the report ------------------------------------------------------------------------------------


@dataclass
class ArmFigures:
    source: str
    weight: int
    units: int
    means: dict[str, float]


@dataclass
class Comparison:
    source: str
    metric: str
    lift: float
    fixed: tuple[float, float]
    always_valid: tuple[float, float]
    verdict: str  # better | worse | undecided


@dataclass
class ExperimentReport:
    name: str
    control: str
    days: int
    arms: list[ArmFigures]
    srm_p: float
    srm_ok: bool
    kind: str = "units"  # or "exposures": outcomes per exposure, days as clusters
    comparisons: list[Comparison] = field(default_factory=list)
    days_needed: float | None = None
    units_per_day: float = 0.0
    verdict: str = ""


def analyse(
    name: str, weights: Mapping[str, int], table: UnitTable | ExposureTable, *, primary: str, guardrails: Sequence[str], effect: float, alpha: float = 0.05
) -> ExperimentReport:
    sources = list(weights)
    control = sources[0]
    unknown = sorted(set(table.sources) - set(sources))
    if unknown:
        raise CliError(f"units of source(s) {unknown}, which are not arms of {name} ({sources})")
    metrics = [primary, *guardrails]
    arms = [ArmFigures(source, weights[source], table.count(source), {m: table.mean(source, m) for m in metrics}) for source in sources]
    srm_p = float(srm_p_value([a.units for a in arms], [a.weight for a in arms]))
    report = ExperimentReport(name, control, table.day_count, arms, srm_p, srm_p >= SRM_P_THRESHOLD, kind=table.kind)
    if any(a.units < 2 for a in arms) or (table.kind == "exposures" and report.days < 2):
        report.verdict = f"not enough data: every arm needs at least 2 {table.kind}" + (" over 2 days or more" if table.kind == "exposures" else "")
        return report
    per_arm_alpha = alpha / (len(sources) - 1)
    for source in sources[1:]:
        for metric in (primary, *guardrails):
            base, other = table.moments(control, metric), table.moments(source, metric)
            intervals = lift_intervals(base, other, alpha=per_arm_alpha, mixture_scale=effect)
            low, high = running_intersection(intervals)
            verdict = "better" if low[-1] > 0 else "worse" if high[-1] < 0 else "undecided"
            report.comparisons.append(Comparison(source, metric, float(intervals.lift[-1]),
                                                 (float(intervals.fixed_low[-1]), float(intervals.fixed_high[-1])),
                                                 (float(low[-1]), float(high[-1])), verdict))
    days_needed = []
    for source in sources[1:]:
        base, other = table.moments(control, primary), table.moments(source, primary)
        last = lambda m: ClusteredRatio(m.n[-1], m.mean[-1], m.variance[-1])
        share = (weights[control] / 100, weights[source] / 100)
        needed = units_needed(last(base), last(other), weights=share, effect=effect, alpha=per_arm_alpha)
        report.units_per_day = sum(a.units for a in arms) / report.days
        days_needed.append(needed / report.units_per_day)
    report.days_needed = max(days_needed)
    report.verdict = _verdict(report, primary, guardrails)
    return report


def _verdict(report: ExperimentReport, primary: str, guardrails: Sequence[str]) -> str:
    if not report.srm_ok:
        return f"BLOCKED: sample ratio mismatch (p = {report.srm_p:.2g} < {SRM_P_THRESHOLD}); find why arms lost or gained {report.kind} before reading any lift"
    harms = [c for c in report.comparisons if c.metric in guardrails and c.verdict == "worse"]
    winners = [c for c in report.comparisons if c.metric == primary and c.verdict == "better"]
    losers = [c for c in report.comparisons if c.metric == primary and c.verdict == "worse"]
    parts = []
    for c in winners:
        harmed = [h.metric for h in harms if h.source == c.source]
        parts.append(f"{c.source} beats {report.control} on {primary}" + (f" but harms {', '.join(harmed)}" if harmed else ""))
    parts += [f"{c.source} is worse than {report.control} on {primary}" for c in losers]
    if not parts:
        if report.days_needed is None:
            return "no decision yet"
        return (f"no decision yet; at the current {report.units_per_day:,.0f} {report.kind}/day, a test planned to detect the configured effect "
                f"(80 % power) needs about {report.days_needed:.0f} days in all ({report.days} so far)")
    return "; ".join(parts)


def format_report(report: ExperimentReport) -> str:
    from tools._cli import format_table

    each = report.kind.removesuffix("s")
    lines = [f"Experiment {report.name}: {sum(a.units for a in report.arms):,} {report.kind} over {report.days} day(s); control {report.control}", ""]
    metrics = list(report.arms[0].means)
    lines.append(format_table(
        ["arm", "weight %", report.kind, "share %", *[f"{m} per {each}" for m in metrics]],
        [[a.source, str(a.weight), f"{a.units:,}", f"{100 * a.units / max(1, sum(b.units for b in report.arms)):.2f}",
          *[f"{a.means[m]:.4g}" for m in metrics]] for a in report.arms],
        right_align={1, 2, 3, *range(4, 4 + len(metrics))},
    ))
    lines += ["", f"Sample ratio: chi-square p = {report.srm_p:.3g} ({'OK' if report.srm_ok else 'MISMATCH'}; fails below {SRM_P_THRESHOLD})", ""]
    if report.comparisons:
        pct = lambda v: f"{100 * v:+.2f} %"
        lines.append(format_table(
            ["arm", "metric", "lift", "fixed-horizon interval", "always-valid interval", "reading"],
            [[c.source, c.metric, pct(c.lift), f"{pct(c.fixed[0])} .. {pct(c.fixed[1])}",
              f"{pct(c.always_valid[0])} .. {pct(c.always_valid[1])}", c.verdict] for c in report.comparisons],
        ))
        lines.append("")
    lines.append(f"Verdict: {report.verdict}")
    return "\n".join(lines)


def run_experiment_report(args: Any, stdout: Any) -> int:
    """``report --experiment NAME --config C --group G --units CSV``."""
    import json
    from dataclasses import asdict

    if not (args.experiment and args.units and args.config and args.group):
        raise CliError("--experiment needs --config, --group and --units: report --experiment home-widget --config config/experiments.yaml --group retail --units units.csv")
    from tools.deployment_lookup import load_group

    _, group = load_group(args.config, args.group)
    experiment = next((e for e in group.experiments if e.name == args.experiment), None)
    if experiment is None:
        raise CliError(f"--experiment {args.experiment!r} is not an experiment of group {group.name}; known: {[e.name for e in group.experiments]}")
    metrics = [experiment.primary_metric, *experiment.guardrail_metrics]
    table = UnitTable.read_csv(args.units, metrics, start=experiment.start, end=experiment.end)
    report = analyse(experiment.name, experiment.weights, table, primary=experiment.primary_metric, guardrails=experiment.guardrail_metrics,
                     effect=experiment.minimum_detectable_effect, alpha=1 - args.confidence)
    stdout.write((json.dumps(asdict(report), indent=1) if args.json else format_report(report)) + "\n")
    return 0
