"""Rates, lift and intervals from the hourly aggregates of sql.named_queries.

Definitions (docs/statistics.md has the why and the measured coverage):

* The report's period runs from the first to the last hour with a row, widened to whole days
  of the shop (`timezone`) when days are the clusters. A source is *live* over that period
  except runs of hours without its rows that its usual activity makes improbable (live_hours:
  before launch, pauses, after deletion), or, where its hourly exposure is known, the hours it
  served recommendations.
* A source's rate (per hour) is its total per clock hour live (Settings.rate_hours "active":
  per hour in which any source had rows).
* Rate lift of S over the baseline B: total_S / total_B over the *common window*, the hours
  where both were live (the output states it).
* Interval: cluster-robust delta method for a ratio of totals, clustered by the shop's day:
  with the per-day totals S_d and B_d and R = sum S_d / sum B_d, the residuals
  e_d = S_d - R * B_d give Var(R) = G/(G-1) * sum e_d^2 / (sum B_d)^2 (G days); the interval
  is R * exp(+-t * sqrt(Var(R)) / R) with Student's t on G-1 degrees of freedom. Correlated
  neighbouring days are merged into longer blocks (choose_block); a heavy-tailed total gets a
  studentized bootstrap (heavy_tail). `--ci bootstrap` resamples whole blocks instead;
  `--block hour` treats hours as independent (short tests).
* Every rate lift of a report is one family: Holm-adjusted p-values and simultaneous
  intervals (adjust_comparisons).
* Per 1,000 recommendations: 1000 * total / recommendations served while live; the exposure
  counts are measurements, not samples, so they scale the interval.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from lambdas.personalize_resources.address_book import cloudwatch_name
from tools._cli import plural

BUCKETS_PER_HOUR = 4
HOUR = 3600
DAY = 86_400
UNDEFINED_SOURCE = "SOURCE_NAME_UNDEFINED"
AUTO_DAILY_AFTER_HOURS = 72  # rates over time: per hour up to three days of data, per day beyond
MIN_CLUSTERS = 7  # below a week of days, day-to-day variation is poorly estimated
MIN_BUCKETS = 30  # below this many 15-minute buckets with data, a source's figures are fragile
PAUSE_FALSE_ALARM = 0.01  # chance that a source live throughout shows any pause
BLOCK_DAYS = (1, 7, 28)  # coarser blocks tried in turn while consecutive blocks are correlated
MIN_BLOCKS = 8  # fewer blocks than this estimate the variance too poorly to coarsen further
HEAVY_TOP_HOURS = 0.01  # heavy-tailed: the top 1 % of hours with data ...
HEAVY_TOP_SHARE = 0.10  # ... carry at least this share of the total
RATIO_EXPRESSION = re.compile(r"\s*\(?\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)?\s*/\s*\(?\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)?\s*")


@dataclass
class Interval:
    estimate: float | None
    low: float | None = None
    high: float | None = None
    note: str | None = None
    se_log: float | None = None  # standard error of log(estimate) (delta method), for p-values
    df: int | None = None  # degrees of freedom of its t quantile
    block_days: int | None = None  # consecutive days per independent block (None: hours)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Pause:
    """Hours inside a source's live period with no rows where its usual activity makes that
    improbable (a stopped recommender, a disabled widget): not counted as live time."""

    start: datetime
    end: datetime
    hours: float
    expected_hours: float  # hours with its rows expected at its usual activity


@dataclass
class Comparison:
    """Source vs baseline over the hours both were live."""

    baseline: str
    window_start: datetime | None
    window_end: datetime | None
    clusters: int
    traffic_hours: float
    rate_lift: Interval
    per_1000_lift: Interval | None = None
    warnings: list[str] = field(default_factory=list)
    p_value: float | None = None  # of rate lift = 1, from the delta method
    p_adjusted: float | None = None  # Holm-adjusted over every lift of the report
    adjusted: Interval | None = None  # simultaneous (Bonferroni) interval of the rate lift


@dataclass
class SourceFigures:
    source: str
    total: float
    volume_share: float | None
    live_start: datetime
    live_end: datetime
    traffic_hours: float  # hours in which any source had rows, while this one was live
    buckets_with_data: int
    per_hour: Interval  # per clock hour live (Settings.rate_hours "active": per hour of traffic)
    exposure: float | None = None
    per_1000: Interval | None = None
    is_baseline: bool = False
    lift: Comparison | None = None
    live_hours: float = 0.0  # clock hours live: its period minus pauses
    pauses: list[Pause] = field(default_factory=list)


@dataclass
class RatesOverTime:
    period: str  # "hour" or "day"
    starts: list[datetime]
    per_hour: dict[str, list[float | None]]  # None: the source was not live or no traffic flowed


@dataclass
class MetricReport:
    metric: str
    event_types: list[str]
    math_functions: list[str]
    total: float
    first_hour: datetime
    last_hour: datetime
    baseline: str | None
    baseline_note: str | None
    sources: list[SourceFigures]
    rates_over_time: RatesOverTime


@dataclass
class DerivedFigures:
    source: str
    value: Interval


@dataclass
class DerivedReport:
    name: str
    expression: str
    label: str
    sources: list[DerivedFigures]
    note: str | None = None


@dataclass
class Exposure:
    """Recommendations served by a source: per hour (CloudWatch) or one total (impressions)."""

    origin: str
    hourly: Mapping[int, float] | None = None  # hour start (epoch s) -> count
    total: float | None = None


@dataclass
class DerivedMetric:
    name: str
    expression: str
    label: str = ""


@dataclass
class Settings:
    baseline: str | None = None
    ci: str = "delta"  # or "bootstrap"
    block: str = "day"  # or "hour"
    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0
    per: str = "auto"
    metrics: Sequence[str] = ()
    rate_hours: str = "clock"  # or "active": divide by the hours in which any source had rows
    timezone: str | None = None  # the shop's day for the day clusters (IANA name); None: UTC
    adjust: str = "holm"  # multiple comparisons over every lift of the report, or "none"


@dataclass
class Analysis:
    metrics: list[MetricReport]
    derived: list[DerivedReport]
    method: str
    comparisons: int = 0  # lifts in the multiple-comparisons family


class HourlyData:
    """Dense (source x hour) matrices per metric from the hourly_by_source / traffic_by_hour results."""

    def __init__(
        self,
        hourly: Mapping[str, np.ndarray],
        traffic: Mapping[str, np.ndarray],
        *,
        timezone: str | None = None,
        whole_days: bool = True,
    ):
        hour_starts = np.asarray(traffic["hour_start"], dtype=np.int64)
        if not len(hour_starts):
            raise ValueError("no rows")
        self.first, last = int(hour_starts.min()), int(hour_starts.max())
        if whole_days:
            # The report's period is whole days of the shop (the interval's clusters): a quiet
            # first morning or last evening is part of the clock time, not cut off.
            self.first, last = _day_edges(self.first, last, timezone)
        self.hours = (last - self.first) // HOUR + 1
        self.hour_starts = self.first + HOUR * np.arange(self.hours, dtype=np.int64)
        self.traffic_hours = np.zeros(self.hours)
        self.traffic_hours[(hour_starts - self.first) // HOUR] = np.asarray(traffic["buckets"]) / BUCKETS_PER_HOUR
        metrics, rows_metric = np.unique(np.asarray(hourly["metric"], dtype=object), return_inverse=True)
        sources, rows_source = np.unique(np.asarray(hourly["source"], dtype=object), return_inverse=True)
        self.sources = [str(name) for name in sources]
        rows_hour = (np.asarray(hourly["hour_start"], dtype=np.int64) - self.first) // HOUR
        totals = np.asarray(hourly["total"], dtype=np.float64)
        buckets = np.asarray(hourly["buckets"], dtype=np.int64)
        self.values: dict[str, np.ndarray] = {}
        self.buckets: dict[str, np.ndarray] = {}
        shape = (len(self.sources), self.hours)
        for position, metric in enumerate(metrics):
            rows = rows_metric == position
            cells = np.ravel_multi_index((rows_source[rows], rows_hour[rows]), shape)
            size = shape[0] * shape[1]
            self.values[str(metric)] = np.bincount(cells, weights=totals[rows], minlength=size).reshape(shape)
            self.buckets[str(metric)] = np.bincount(cells, weights=buckets[rows], minlength=size).reshape(shape).astype(np.int64)
        self.timezone = timezone
        self.local_day = _local_days(self.hour_starts, timezone)
        # Live time of each source: the report's hours minus the runs without its rows that its
        # usual activity makes improbable (not launched yet, stopped, paused, deleted).
        any_row = np.zeros(shape, dtype=bool)
        any_row[rows_source, rows_hour] = True
        activity = sum(self.buckets.values()).astype(np.float64) if self.buckets else np.zeros(shape)
        self.live = np.zeros(shape, dtype=bool)
        self.gaps: list[list[tuple[int, int, float]]] = []
        for index in range(len(self.sources)):
            others = activity.sum(axis=0) - activity[index]
            weight = others if others.any() else self.traffic_hours * BUCKETS_PER_HOUR
            live, gaps = live_hours(any_row[index], weight)
            self.live[index] = live
            self.gaps.append(gaps)

    def served(self, index: int, counts: np.ndarray) -> None:
        """The source served recommendations in the hours with `counts` > 0: that is its live time
        (unless it served none in the report's hours: then its rows tell)."""
        serving = counts > 0
        if not serving.any():
            return
        self.live[index] = serving
        runs = _false_runs(serving)
        self.gaps[index] = [(start, stop, 0.0) for start, stop in runs if start > 0 and stop < self.hours]

    def clusters(self, block: str) -> np.ndarray:
        return self.local_day if block == "day" else self.hour_starts // HOUR

    def live_mask(self, index: int) -> np.ndarray:
        return self.live[index]

    def pauses(self, index: int) -> list[Pause]:
        """The gaps inside the live period (those before the first or after the last live hour
        are its start and end)."""
        live = np.flatnonzero(self.live[index])
        if not live.size:
            return []
        return [
            Pause(_utc(self.hour_starts[start]), _utc(self.hour_starts[stop - 1] + HOUR), float(stop - start), expected)
            for start, stop, expected in self.gaps[index]
            if live[0] < start and stop <= live[-1]
        ]


def _day_edges(first: int, last: int, timezone: str | None) -> tuple[int, int]:
    """The first hour of first's day and the last hour of last's day, in the shop's time zone."""
    zone = UTC if timezone is None else ZoneInfo(timezone)
    start = datetime.fromtimestamp(first, tz=zone).replace(hour=0, minute=0, second=0)
    end = datetime.fromtimestamp(last, tz=zone).replace(hour=0, minute=0, second=0) + timedelta(days=1)
    return int(start.timestamp()), int(end.timestamp()) - HOUR


def _local_days(hour_starts: np.ndarray, timezone: str | None) -> np.ndarray:
    """The day number of each hour in the shop's time zone (UTC days without one)."""
    if timezone is None:
        return hour_starts // DAY
    zone = ZoneInfo(timezone)
    offsets = np.array([datetime.fromtimestamp(int(t), tz=zone).utcoffset().total_seconds() for t in hour_starts])
    return (hour_starts + offsets.astype(np.int64)) // DAY


def _false_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each maximal run of False."""
    padded = np.concatenate(([True], flags.astype(bool), [True]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def live_hours(active: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, float]]]:
    """Which hours a source was live, from the hours it has rows (`active`).

    Each run of hours without its rows is tested against its usual activity: in an hour where
    the other sources fill w buckets the source has rows with probability 1 - exp(-lam * w)
    (lam fitted on its live hours), so a run is empty by chance with probability
    exp(-lam * sum w). Runs less likely than PAUSE_FALSE_ALARM / (number of runs) are not live:
    the time before launch, pauses (stopped, INACTIVE, `enabled: false`) and the time after it
    was deleted. Hours nobody had rows in weigh nothing: a quiet night is not a pause.
    Returns the live mask and the excluded runs as (start, stop, hours with rows expected).
    """
    hours = len(active)
    if not active.any():
        return np.zeros(hours, dtype=bool), []
    runs = _false_runs(active)
    live = np.ones(hours, dtype=bool)
    excluded: list[int] = []
    expected = np.zeros(len(runs))
    for _ in range(5):
        lam = _activity_rate(active[live], weight[live])
        expected = np.array([lam * weight[start:stop].sum() for start, stop in runs])
        chosen = [i for i, value in enumerate(expected) if value > math.log(len(runs) / PAUSE_FALSE_ALARM)]
        if chosen == excluded:
            break
        excluded = chosen
        live[:] = True
        for i in excluded:
            live[runs[i][0] : runs[i][1]] = False
    lam = _activity_rate(active[live], weight[live])
    return live, [(start, stop, float((1 - np.exp(-lam * weight[start:stop])).sum())) for start, stop in (runs[i] for i in excluded)]


def _activity_rate(active: np.ndarray, weight: np.ndarray) -> float:
    """lam with sum(1 - exp(-lam * w)) = hours active, over the hours with w > 0."""
    busy = weight > 0
    hits = float(active[busy].sum())
    count = int(busy.sum())
    if count == 0 or hits == 0:
        return 0.0
    hits = min(hits, count - 0.5)  # active in every hour: as if once short, not infinitely busy
    low, high = 1e-12, 1e6
    for _ in range(100):
        middle = math.sqrt(low * high)
        if float((1 - np.exp(-middle * weight[busy])).sum()) < hits:
            low = middle
        else:
            high = middle
    return math.sqrt(low * high)


def t_quantile(confidence: float, degrees_of_freedom: int) -> float:
    from scipy.special import stdtrit  # Student's t quantile; scipy.stats would cost ~1 s to import

    return float(stdtrit(degrees_of_freedom, 1 - (1 - confidence) / 2))


def t_p_value(statistic: float, degrees_of_freedom: int) -> float:
    from scipy.special import stdtr

    return float(2 * stdtr(degrees_of_freedom, -abs(statistic)))


def ratio_interval(
    numerator: np.ndarray,
    denominator: np.ndarray,
    *,
    method: str = "delta",
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    unit: str = "days",
    positions: np.ndarray | None = None,
    heavy: bool = False,
) -> Interval:
    """sum(numerator) / sum(denominator) with an interval from the per-cluster sums given.

    `positions` (the day number of each cluster) lets correlated consecutive days be merged into
    blocks (choose_block). `heavy` (a few hours carry much of the numerator) turns the delta
    method into a studentized bootstrap, whose interval follows the skew of the data.
    """
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    total_numerator, total_denominator = float(numerator.sum()), float(denominator.sum())
    if total_denominator <= 0:
        return Interval(None, note="the denominator is 0 in the window")
    ratio = total_numerator / total_denominator
    block_days = 1 if unit == "days" else None
    warnings: list[str] = []
    if positions is not None and len(numerator) >= 2:
        numerator, denominator, block_days, warnings = choose_block(numerator, denominator, np.asarray(positions))
    clusters = len(numerator)
    if clusters < 2:
        return Interval(ratio, note=f"no interval: 1 {unit[:-1]} in the window")
    residuals = numerator - ratio * denominator
    variance = clusters / (clusters - 1) * float(residuals @ residuals) / total_denominator**2
    se_log = math.sqrt(variance) / ratio if ratio > 0 else None
    found = Interval(ratio, se_log=se_log, df=clusters - 1, block_days=block_days, warnings=warnings)
    if method == "bootstrap" or (heavy and ratio > 0 and variance > 0):
        rng = np.random.default_rng(seed)
        weights = rng.multinomial(clusters, np.full(clusters, 1.0 / clusters), size=resamples)
        resampled_denominator = weights @ denominator
        usable = resampled_denominator > 0
        if usable.sum() < resamples / 2:
            found.note = "too few resamples with a nonzero denominator"
            return found
        weights, resampled_denominator = weights[usable], resampled_denominator[usable]
        ratios = (weights @ numerator) / resampled_denominator
        tail = (1 - confidence) / 2
        if method == "bootstrap":
            found.low, found.high = (float(v) for v in np.percentile(ratios, [tail * 100, 100 - tail * 100]))
            return found
        # Studentized: the spread of (log R* - log R) / se*(log R*) sets each side of the interval.
        squares = weights @ numerator**2 - 2 * ratios * (weights @ (numerator * denominator)) + ratios**2 * (weights @ denominator**2)
        spread = np.sqrt(np.maximum(clusters / (clusters - 1) * squares, 0)) / resampled_denominator
        keep = (ratios > 0) & (spread > 0)
        studentized = (np.log(ratios[keep]) - math.log(ratio)) / (spread[keep] / ratios[keep])
        low_q, high_q = np.quantile(studentized, [tail, 1 - tail])
        if np.isfinite([low_q, high_q]).all() and max(-low_q, high_q) * se_log < 50:
            found.low, found.high = ratio * math.exp(-high_q * se_log), ratio * math.exp(-low_q * se_log)
            return found
        found.warnings.append("the studentized bootstrap did not settle; delta-method interval instead")
    t = t_quantile(confidence, clusters - 1)
    if ratio > 0:
        found.low, found.high = ratio * math.exp(-t * se_log), ratio * math.exp(t * se_log)
    else:
        found.low, found.high = 0.0, t * math.sqrt(variance)
    return found


def choose_block(
    numerator: np.ndarray, denominator: np.ndarray, positions: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, list[str]]:
    """Per-block sums of consecutive days, as coarse as serial correlation needs.

    Day-clustered intervals assume days are independent. A week-long promotion or a drift makes
    neighbouring days alike, and the interval too narrow. The lag-1 autocorrelation r of the
    residuals S_b - R * B_b of neighbouring blocks is compared with 2/sqrt(G) (about the one-sided
    5 % point for G independent blocks); while it is above, days are merged into blocks of
    BLOCK_DAYS, as long as MIN_BLOCKS remain. Merging independent days only widens the interval.
    """
    ratio = numerator.sum() / denominator.sum()
    chosen = (numerator, denominator, 1)
    warnings: list[str] = []
    correlation = 0.0  # of the blocks before; read once they are too few
    for days in BLOCK_DAYS:
        keys, inverse = np.unique((positions - positions.min()) // days, return_inverse=True)
        if days > 1 and len(keys) < MIN_BLOCKS:
            warnings.append(
                f"consecutive {'days' if chosen[2] == 1 else f'{chosen[2]}-day blocks'} are correlated "
                f"(r = {correlation:.2f}), too few for {days}-day blocks: the interval may be too narrow"
            )
            break
        block_numerator = np.bincount(inverse, weights=numerator)
        block_denominator = np.bincount(inverse, weights=denominator)
        chosen = (block_numerator, block_denominator, days)
        residuals = block_numerator - ratio * block_denominator
        neighbours = np.flatnonzero(np.diff(keys) == 1)
        scale = float(residuals @ residuals)
        correlation = float(residuals[neighbours] @ residuals[neighbours + 1]) / scale if scale > 0 else 0.0
        if correlation <= 2 / math.sqrt(len(keys)):
            break
    if chosen[2] > 1:
        warnings.insert(0, f"neighbouring days are correlated: {chosen[2]}-day blocks are the independent units")
    return chosen[0], chosen[1], chosen[2], warnings


def heavy_tail(values: np.ndarray) -> str | None:
    """A warning when the top HEAVY_TOP_HOURS of the hours with data carry HEAVY_TOP_SHARE of the total."""
    positive = np.sort(values[values > 0])[::-1]
    total = float(positive.sum())
    if total <= 0:
        return None
    top = max(1, math.ceil(HEAVY_TOP_HOURS * len(positive)))
    share = float(positive[:top].sum()) / total
    # Also five times their share if all hours were alike: a handful of hours is not a tail.
    if share < max(HEAVY_TOP_SHARE, 5 * top / len(positive)):
        return None
    return (
        f"heavy-tailed: {top} of {len(positive)} hours with data carry {share * 100:.0f} % of the total; "
        "the interval is a studentized bootstrap over days, and a few more such hours would move the figure"
    )


def _cluster_sums(values: np.ndarray, mask: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum of `values` (1-D, per hour, or 2-D rows x hours) over the hours in `mask`, per cluster,
    and the clusters' ids (day numbers) in order."""
    ids, inverse = np.unique(clusters[mask], return_inverse=True)
    count = len(ids)
    if values.ndim == 1:
        return np.bincount(inverse, weights=values[mask], minlength=count), ids
    return np.stack([np.bincount(inverse, weights=row[mask], minlength=count) for row in values]), ids


def _utc(epoch: int | float) -> datetime:
    return datetime.fromtimestamp(int(epoch), tz=UTC)


def analyse(
    data: HourlyData,
    details: Mapping[str, np.ndarray],
    settings: Settings,
    *,
    exposure: Mapping[str, Exposure] | None = None,
    derived: Sequence[DerivedMetric] = (),
) -> Analysis:
    exposure = {cloudwatch_name(name): value for name, value in (exposure or {}).items()}
    for source, served in exposure.items():
        if served.hourly is not None and source in data.sources:
            data.served(data.sources.index(source), _exposure_per_hour(data, served))
    wanted = {cloudwatch_name(name) for name in settings.metrics}
    metrics = [m for m in data.values if not wanted or m in wanted]
    reports = [_metric_report(data, metric, details, settings, exposure) for metric in metrics]
    derived_reports = [_derived_report(data, item, settings) for item in derived]
    comparisons = adjust_comparisons(
        [s.lift for report in reports for s in report.sources if s.lift is not None], settings
    )
    days = f"{settings.timezone} days" if settings.timezone else "UTC days"
    method = (
        (f"{days} (merged into 7- or 28-day blocks when neighbouring days are correlated)" if settings.block == "day" else "hours")
        + " as independent clusters; "
        + ("bootstrap of whole clusters" if settings.ci == "bootstrap" else "delta method, t on clusters-1 df")
        + " (studentized bootstrap where a few hours carry much of a total)"
    )
    if comparisons:
        method += (
            f"; {comparisons} lifts compared: Holm-adjusted p and simultaneous (Bonferroni) intervals"
            if settings.adjust == "holm"
            else f"; {comparisons} lifts compared, not adjusted for multiple comparisons"
        )
    return Analysis(metrics=reports, derived=derived_reports, method=method, comparisons=comparisons)


def adjust_comparisons(comparisons: Sequence[Comparison], settings: Settings) -> int:
    """p-values of every rate lift, Holm-adjusted, and simultaneous intervals; the family size.

    Holm rather than Benjamini-Hochberg: a report is read as "which sources beat the baseline",
    and one false winner among many misleads as much as several, so the family-wise error is
    what is controlled (Holm does so at the level asked, uniformly more powerful than
    Bonferroni). The intervals next to it are Bonferroni's (level 1 - alpha/m each), the
    simultaneous intervals that go with Holm's first step.
    """
    family = [c for c in comparisons if c.rate_lift.se_log and c.rate_lift.df and c.rate_lift.estimate]
    for item in family:
        lift = item.rate_lift
        item.p_value = t_p_value(math.log(lift.estimate) / lift.se_log, lift.df)
    if settings.adjust != "holm" or not family:
        return len(family)
    size = len(family)
    running = 0.0
    for rank, item in enumerate(sorted(family, key=lambda c: c.p_value)):
        running = max(running, min(1.0, (size - rank) * item.p_value))
        item.p_adjusted = running
    level = 1 - (1 - settings.confidence) / size
    for item in family:
        lift = item.rate_lift
        spread = t_quantile(level, lift.df) * lift.se_log
        item.adjusted = Interval(lift.estimate, lift.estimate * math.exp(-spread), lift.estimate * math.exp(spread))
    return size


def _interval_options(settings: Settings) -> dict:
    return {
        "method": settings.ci,
        "confidence": settings.confidence,
        "resamples": settings.resamples,
        "seed": settings.seed,
        "unit": settings.block + "s",
    }


def _interval(
    data: HourlyData, numerator: np.ndarray, denominator: np.ndarray, mask: np.ndarray, settings: Settings, heavy: str | None = None
) -> Interval:
    """ratio_interval of per-hour series over the hours in `mask`, clustered as settings say."""
    clusters = data.clusters(settings.block)
    top, ids = _cluster_sums(numerator, mask, clusters)
    bottom, _ = _cluster_sums(denominator, mask, clusters)
    interval = ratio_interval(
        top, bottom, positions=ids if settings.block == "day" else None, heavy=heavy is not None, **_interval_options(settings)
    )
    if heavy:
        interval.warnings.append(heavy)
    return interval


def _rate_hours(data: HourlyData, settings: Settings) -> np.ndarray:
    """Per hour: 1 (a clock hour), or with rate_hours "active" the share of it in which traffic flowed."""
    return data.traffic_hours if settings.rate_hours == "active" else np.ones(data.hours)


def _metric_report(
    data: HourlyData, metric: str, details: Mapping[str, np.ndarray], settings: Settings, exposure: Mapping[str, Exposure]
) -> MetricReport:
    values, buckets = data.values[metric], data.buckets[metric]
    totals = values.sum(axis=1)
    present = np.flatnonzero(buckets.sum(axis=1) > 0)  # sources with a row of this metric
    grand_total = float(totals[present].sum())
    baseline_name = cloudwatch_name(settings.baseline or UNDEFINED_SOURCE)
    baseline_index = data.sources.index(baseline_name) if baseline_name in data.sources else None
    if baseline_index is not None and baseline_index not in present:
        baseline_index = None
    baseline_note = None
    if baseline_index is None:
        baseline_note = (
            f"baseline {settings.baseline} has no data for this metric"
            if settings.baseline
            else f"no {UNDEFINED_SOURCE} rows; pass --baseline SOURCE for lift"
        )

    figures = []
    rate_hours = _rate_hours(data, settings)
    for index in present:
        source = data.sources[index]
        live = data.live_mask(index)
        live_hours = np.flatnonzero(live)
        heavy = heavy_tail(values[index][live])
        per_hour = _interval(data, values[index], rate_hours, live, settings, heavy)
        served, per_1000 = _per_1000(data, values[index], live, exposure.get(source), settings)
        figures.append(
            SourceFigures(
                source=source,
                total=float(totals[index]),
                volume_share=float(totals[index] / grand_total) if grand_total else None,
                live_start=_utc(data.hour_starts[live_hours[0]]),
                live_end=_utc(data.hour_starts[live_hours[-1]] + HOUR),
                traffic_hours=float(data.traffic_hours[live].sum()),
                buckets_with_data=int(buckets[index].sum()),
                per_hour=per_hour,
                exposure=served,
                per_1000=per_1000,
                is_baseline=bool(index == baseline_index),
                live_hours=float(live.sum()),
                pauses=data.pauses(index),
            )
        )
    by_index = dict(zip(present, figures))
    for index, item in by_index.items():
        if baseline_index is not None and index != baseline_index:
            item.lift = _compare(data, metric, index, baseline_index, settings, exposure, item, by_index[baseline_index])
    figures.sort(key=lambda f: (-f.total, f.source))

    metric_rows = np.asarray(details["metric"]).astype(str) == metric
    event_types = sorted({str(v) for v in np.asarray(details["event_type"])[metric_rows] if v})
    math_functions = sorted({str(v) for v in np.asarray(details["math_function"])[metric_rows] if v})
    with_rows = np.flatnonzero(buckets.sum(axis=0) > 0)
    return MetricReport(
        metric=metric,
        event_types=event_types,
        math_functions=math_functions,
        total=grand_total,
        first_hour=_utc(data.hour_starts[with_rows[0]]),
        last_hour=_utc(data.hour_starts[with_rows[-1]]),
        baseline=data.sources[baseline_index] if baseline_index is not None else None,
        baseline_note=baseline_note,
        sources=figures,
        rates_over_time=_rates_over_time(data, values, present, settings),
    )


def _per_1000(
    data: HourlyData, values: np.ndarray, live: np.ndarray, served: Exposure | None, settings: Settings
) -> tuple[float | None, Interval | None]:
    if served is None:
        return None, None
    if served.hourly is not None:
        counts = _exposure_per_hour(data, served)
        total_served = float(counts[live].sum())
        interval = _interval(data, 1000 * values, counts, live, settings)
        if total_served <= 0:
            interval.note = f"no recommendations served while live ({served.origin})"
        return total_served, interval
    total = float(values.sum())
    if not served.total:
        return served.total, Interval(None, note="impressions given as 0")
    return served.total, Interval(1000 * total / served.total, note="exposure given as one total: no interval")


def _exposure_per_hour(data: HourlyData, served: Exposure) -> np.ndarray:
    counts = np.zeros(data.hours)
    for hour_start, count in (served.hourly or {}).items():
        position = (int(hour_start) - data.first) // HOUR
        if 0 <= position < data.hours:
            counts[position] += count
    return counts


def _compare(
    data: HourlyData,
    metric: str,
    index: int,
    baseline: int,
    settings: Settings,
    exposure: Mapping[str, Exposure],
    own_figures: SourceFigures,
    baseline_figures: SourceFigures,
) -> Comparison:
    values, buckets = data.values[metric], data.buckets[metric]
    name, baseline_name = data.sources[index], data.sources[baseline]
    window = data.live_mask(index) & data.live_mask(baseline)
    if not window.any():
        return Comparison(
            baseline_name, None, None, 0, 0.0,
            Interval(None, note=f"never live at the same time as {baseline_name}"),
        )
    hours = np.flatnonzero(window)
    heavy = heavy_tail(values[index][window]) or heavy_tail(values[baseline][window])
    rate_lift = _interval(data, values[index], values[baseline], window, settings, heavy)
    clusters = len(np.unique(data.clusters(settings.block)[window]))
    comparison = Comparison(
        baseline=baseline_name,
        window_start=_utc(data.hour_starts[hours[0]]),
        window_end=_utc(data.hour_starts[hours[-1]] + HOUR),
        clusters=clusters,
        traffic_hours=float(data.traffic_hours[window].sum()),
        rate_lift=rate_lift,
    )
    comparison.warnings += rate_lift.warnings
    if settings.block == "day" and clusters < MIN_CLUSTERS:
        comparison.warnings.append(
            f"short window: {plural(clusters, 'day')} in common with {baseline_name} "
            f"(fewer than {MIN_CLUSTERS}); day-to-day variation is poorly known, read the interval with care"
        )
    sparse = min(int(buckets[index][window].sum()), int(buckets[baseline][window].sum()))
    if sparse < MIN_BUCKETS:
        comparison.warnings.append(
            f"small sample: only {plural(sparse, '15-minute bucket')} with data in the window (fewer than {MIN_BUCKETS})"
        )
    own, theirs = exposure.get(name), exposure.get(baseline_name)
    if own is not None and theirs is not None and rate_lift.estimate is not None:
        comparison.per_1000_lift = _per_1000_lift(data, window, rate_lift, own, theirs, own_figures, baseline_figures, settings)
    return comparison


def _per_1000_lift(
    data: HourlyData,
    window: np.ndarray,
    rate_lift: Interval,
    own: Exposure,
    theirs: Exposure,
    own_figures: SourceFigures,
    baseline_figures: SourceFigures,
    settings: Settings,
) -> Interval:
    """Outcomes per 1,000 served of the source over the baseline's.

    With hourly exposure: the rate lift over the common window times the exposure ratio over the
    same window. With totals only (impressions counted over each source's whole period): the
    ratio of the two per-1,000 figures, each over its own period, so that outcomes and exposure
    always cover the same hours; its interval combines the two per-hour intervals' log standard
    errors as if independent (wider than the truth when both move with the same days).
    """
    if own.hourly is not None and theirs.hourly is not None:
        factor_num = float(_exposure_per_hour(data, theirs)[window].sum())
        factor_den = float(_exposure_per_hour(data, own)[window].sum())
        if factor_num <= 0 or factor_den <= 0:
            return Interval(None, note="no recommendations served in the window")
        factor = factor_num / factor_den
        return Interval(
            rate_lift.estimate * factor,
            rate_lift.low * factor if rate_lift.low is not None else None,
            rate_lift.high * factor if rate_lift.high is not None else None,
            rate_lift.note,
        )
    mine, base = own_figures.per_1000, baseline_figures.per_1000
    if mine is None or base is None or not mine.estimate or not base.estimate:
        return Interval(None, note="no recommendations served, or no outcomes")
    estimate = mine.estimate / base.estimate
    errors = [own_figures.per_hour, baseline_figures.per_hour]
    if any(e.se_log is None or e.df is None for e in errors):
        return Interval(estimate, note="exposure given as totals; no interval")
    se_log = math.sqrt(sum(e.se_log**2 for e in errors))
    spread = t_quantile(settings.confidence, min(e.df for e in errors)) * se_log
    return Interval(
        estimate, estimate * math.exp(-spread), estimate * math.exp(spread),
        "exposure given as totals: each source's per-1,000 figure over its own live period",
        se_log=se_log,
    )


def _rates_over_time(data: HourlyData, values: np.ndarray, present: np.ndarray, settings: Settings) -> RatesOverTime:
    period = settings.per
    if period == "auto":
        period = "hour" if data.hours <= AUTO_DAILY_AFTER_HOURS else "day"
    length = DAY if period == "day" else HOUR
    keys = data.hour_starts // length
    unique, inverse = np.unique(keys, return_inverse=True)
    rate_hours = _rate_hours(data, settings)
    rates: dict[str, list[float | None]] = {}
    for index in present:
        live = data.live_mask(index)
        hours = np.bincount(inverse, weights=np.where(live, rate_hours, 0.0), minlength=len(unique))
        totals = np.bincount(inverse, weights=np.where(live, values[index], 0.0), minlength=len(unique))
        rates[data.sources[index]] = [float(t / h) if h > 0 else None for t, h in zip(totals, hours)]
    return RatesOverTime(period=period, starts=[_utc(k * length) for k in unique], per_hour=rates)


def _derived_report(data: HourlyData, item: DerivedMetric, settings: Settings) -> DerivedReport:
    report = DerivedReport(item.name, item.expression, item.label or item.name, [])
    match = RATIO_EXPRESSION.fullmatch(item.expression)
    if not match:
        report.note = "only expressions of the form metricA / metricB are reported"
        return report
    numerator, denominator = (cloudwatch_name(name) for name in match.groups())
    missing = [name for name in (numerator, denominator) if name not in data.values]
    if missing:
        report.note = f"no report rows for {', '.join(missing)}"
        return report
    for index, source in enumerate(data.sources):
        live = data.live_mask(index)
        top, bottom = data.values[numerator][index], data.values[denominator][index]
        if not bottom[live].any():
            continue
        heavy = heavy_tail(top[live]) or heavy_tail(bottom[live])
        value = _interval(data, top, bottom, live, settings, heavy)
        report.sources.append(DerivedFigures(source, value))
    report.sources.sort(key=lambda f: (-(f.value.estimate or 0.0), f.source))
    return report
