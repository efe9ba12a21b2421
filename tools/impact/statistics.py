"""Rates, lift and intervals from the hourly aggregates of sql.named_queries.

Definitions (see the README's "How report computes lift" for the why):

* Traffic flowed in a 15-minute bucket when any metric of any source has a row in it. A
  source is *live* from the first to the last hour in which it has a row of any metric.
* A source's rate (per hour) is its total over the hours of traffic while it was live: a
  sparse metric (purchases, margin) is divided by the time traffic flowed, not by the few
  buckets where that metric happens to have rows.
* Rate lift of S over the baseline B: total_S / total_B over the *common window*, the hours
  where both were live (the output states it). A source that launched late is compared only
  after its launch, so the buckets before it existed do not count as zeros.
* Interval: cluster-robust delta method for a ratio of totals, clustered by UTC day:
  with the per-day totals S_d and B_d and R = sum S_d / sum B_d, the residuals
  e_d = S_d - R * B_d give Var(R) = G/(G-1) * sum e_d^2 / (sum B_d)^2 (G days); the interval
  is R * exp(+-t * sqrt(Var(R)) / R) with Student's t on G-1 degrees of freedom. Days, not
  15-minute buckets, are the independent units: a day that is busier or quieter for one
  source (promotions, weather, weekday) moves all its buckets together. `--ci bootstrap`
  resamples whole days instead; `--block hour` treats hours as independent (short tests).
* Per 1,000 recommendations: 1000 * total / GetRecommendations served while live; the
  exposure counts are measurements, not samples, so they scale the interval.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from tools._cli import plural

BUCKETS_PER_HOUR = 4
HOUR = 3600
DAY = 86_400
UNDEFINED_SOURCE = "SOURCE_NAME_UNDEFINED"
AUTO_DAILY_AFTER_HOURS = 72  # rates over time: per hour up to three days of data, per day beyond
MIN_CLUSTERS = 7  # below a week of days, day-to-day variation is poorly estimated
MIN_BUCKETS = 30  # below this many 15-minute buckets with data, a source's figures are fragile
RATIO_EXPRESSION = re.compile(r"\s*\(?\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)?\s*/\s*\(?\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)?\s*")


@dataclass
class Interval:
    estimate: float | None
    low: float | None = None
    high: float | None = None
    note: str | None = None


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


@dataclass
class SourceFigures:
    source: str
    total: float
    volume_share: float | None
    live_start: datetime
    live_end: datetime
    traffic_hours: float
    buckets_with_data: int
    per_hour: Interval
    exposure: float | None = None
    per_1000: Interval | None = None
    is_baseline: bool = False
    lift: Comparison | None = None


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


@dataclass
class Analysis:
    metrics: list[MetricReport]
    derived: list[DerivedReport]
    method: str


class HourlyData:
    """Dense (source x hour) matrices per metric from the hourly_by_source / traffic_by_hour results."""

    def __init__(self, hourly: Mapping[str, np.ndarray], traffic: Mapping[str, np.ndarray]):
        hour_starts = np.asarray(traffic["hour_start"], dtype=np.int64)
        if not len(hour_starts):
            raise ValueError("no rows")
        self.first = int(hour_starts.min())
        self.hours = (int(hour_starts.max()) - self.first) // HOUR + 1
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
        # Live period of each source: first to last hour with a row of any metric.
        any_row = np.zeros((len(self.sources), self.hours), dtype=bool)
        any_row[rows_source, rows_hour] = True
        self.live_first = any_row.argmax(axis=1)
        self.live_last = self.hours - 1 - any_row[:, ::-1].argmax(axis=1)

    def clusters(self, block: str) -> np.ndarray:
        return self.hour_starts // (DAY if block == "day" else HOUR)

    def live_mask(self, index: int) -> np.ndarray:
        mask = np.zeros(self.hours, dtype=bool)
        mask[self.live_first[index] : self.live_last[index] + 1] = True
        return mask


def t_quantile(confidence: float, degrees_of_freedom: int) -> float:
    from scipy.special import stdtrit  # Student's t quantile; scipy.stats would cost ~1 s to import

    return float(stdtrit(degrees_of_freedom, 1 - (1 - confidence) / 2))


def ratio_interval(
    numerator: np.ndarray,
    denominator: np.ndarray,
    *,
    method: str = "delta",
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    unit: str = "days",
) -> Interval:
    """sum(numerator) / sum(denominator) with an interval from the per-cluster sums given."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    total_numerator, total_denominator = float(numerator.sum()), float(denominator.sum())
    if total_denominator <= 0:
        return Interval(None, note="the denominator is 0 in the window")
    ratio = total_numerator / total_denominator
    clusters = len(numerator)
    if clusters < 2:
        return Interval(ratio, note=f"no interval: 1 {unit[:-1]} in the window")
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        weights = rng.multinomial(clusters, np.full(clusters, 1.0 / clusters), size=resamples)
        resampled_denominator = weights @ denominator
        usable = resampled_denominator > 0
        if usable.sum() < resamples / 2:
            return Interval(ratio, note="too few resamples with a nonzero denominator")
        ratios = (weights @ numerator)[usable] / resampled_denominator[usable]
        tail = (1 - confidence) / 2 * 100
        low, high = np.percentile(ratios, [tail, 100 - tail])
        return Interval(ratio, float(low), float(high))
    residuals = numerator - ratio * denominator
    variance = clusters / (clusters - 1) * float(residuals @ residuals) / total_denominator**2
    t = t_quantile(confidence, clusters - 1)
    if ratio > 0:
        spread = t * math.sqrt(variance) / ratio
        return Interval(ratio, ratio * math.exp(-spread), ratio * math.exp(spread))
    return Interval(ratio, 0.0, t * math.sqrt(variance))


def _cluster_sums(values: np.ndarray, mask: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Sum of `values` (1-D, per hour, or 2-D rows x hours) over the hours in `mask`, per cluster."""
    _, inverse = np.unique(clusters[mask], return_inverse=True)
    count = int(inverse.max()) + 1 if inverse.size else 0
    if values.ndim == 1:
        return np.bincount(inverse, weights=values[mask], minlength=count)
    return np.stack([np.bincount(inverse, weights=row[mask], minlength=count) for row in values])


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
    exposure = {name.upper(): value for name, value in (exposure or {}).items()}
    wanted = {name.upper() for name in settings.metrics}
    metrics = [m for m in data.values if not wanted or m in wanted]
    reports = [_metric_report(data, metric, details, settings, exposure) for metric in metrics]
    derived_reports = [_derived_report(data, item, settings) for item in derived]
    method = (
        f"{'day' if settings.block == 'day' else 'hour'}-clustered "
        + ("bootstrap (whole " + settings.block + "s resampled)" if settings.ci == "bootstrap" else "delta method, t on clusters-1 df")
    )
    return Analysis(metrics=reports, derived=derived_reports, method=method)


def _interval_options(settings: Settings) -> dict:
    return {
        "method": settings.ci,
        "confidence": settings.confidence,
        "resamples": settings.resamples,
        "seed": settings.seed,
        "unit": settings.block + "s",
    }


def _metric_report(
    data: HourlyData, metric: str, details: Mapping[str, np.ndarray], settings: Settings, exposure: Mapping[str, Exposure]
) -> MetricReport:
    values, buckets = data.values[metric], data.buckets[metric]
    clusters = data.clusters(settings.block)
    options = _interval_options(settings)
    totals = values.sum(axis=1)
    present = np.flatnonzero(buckets.sum(axis=1) > 0)  # sources with a row of this metric
    grand_total = float(totals[present].sum())
    baseline_name = (settings.baseline or UNDEFINED_SOURCE).upper()
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
    for index in present:
        source = data.sources[index]
        live = data.live_mask(index)
        hours = float(data.traffic_hours[live].sum())
        per_hour = ratio_interval(
            _cluster_sums(values[index], live, clusters), _cluster_sums(data.traffic_hours, live, clusters), **options
        )
        served, per_1000 = _per_1000(data, values[index], live, clusters, exposure.get(source), options)
        figures.append(
            SourceFigures(
                source=source,
                total=float(totals[index]),
                volume_share=float(totals[index] / grand_total) if grand_total else None,
                live_start=_utc(data.hour_starts[data.live_first[index]]),
                live_end=_utc(data.hour_starts[data.live_last[index]] + HOUR),
                traffic_hours=hours,
                buckets_with_data=int(buckets[index].sum()),
                per_hour=per_hour,
                exposure=served,
                per_1000=per_1000,
                is_baseline=bool(index == baseline_index),
            )
        )
        if baseline_index is not None and index != baseline_index:
            figures[-1].lift = _compare(data, metric, index, baseline_index, settings, exposure)
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
        rates_over_time=_rates_over_time(data, values, present, settings.per),
    )


def _per_1000(
    data: HourlyData, values: np.ndarray, live: np.ndarray, clusters: np.ndarray, served: Exposure | None, options: dict
) -> tuple[float | None, Interval | None]:
    if served is None:
        return None, None
    if served.hourly is not None:
        counts = _exposure_per_hour(data, served)
        total_served = float(counts[live].sum())
        interval = ratio_interval(
            _cluster_sums(1000 * values, live, clusters), _cluster_sums(counts, live, clusters), **options
        )
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
    data: HourlyData, metric: str, index: int, baseline: int, settings: Settings, exposure: Mapping[str, Exposure]
) -> Comparison:
    values, buckets = data.values[metric], data.buckets[metric]
    name, baseline_name = data.sources[index], data.sources[baseline]
    first = max(data.live_first[index], data.live_first[baseline])
    last = min(data.live_last[index], data.live_last[baseline])
    if first > last:
        return Comparison(
            baseline_name, None, None, 0, 0.0,
            Interval(None, note=f"never live at the same time as {baseline_name}"),
        )
    window = np.zeros(data.hours, dtype=bool)
    window[first : last + 1] = True
    clusters = data.clusters(settings.block)
    sums = _cluster_sums(values[[index, baseline]], window, clusters)
    rate_lift = ratio_interval(sums[0], sums[1], **_interval_options(settings))
    comparison = Comparison(
        baseline=baseline_name,
        window_start=_utc(data.hour_starts[first]),
        window_end=_utc(data.hour_starts[last] + HOUR),
        clusters=sums.shape[1],
        traffic_hours=float(data.traffic_hours[window].sum()),
        rate_lift=rate_lift,
    )
    if settings.block == "day" and comparison.clusters < MIN_CLUSTERS:
        comparison.warnings.append(
            f"short window: {plural(comparison.clusters, 'day')} in common with {baseline_name} "
            f"(fewer than {MIN_CLUSTERS}); day-to-day variation is poorly known, read the interval with care"
        )
    sparse = min(int(buckets[index][window].sum()), int(buckets[baseline][window].sum()))
    if sparse < MIN_BUCKETS:
        comparison.warnings.append(
            f"small sample: only {plural(sparse, '15-minute bucket')} with data in the window (fewer than {MIN_BUCKETS})"
        )
    own, theirs = exposure.get(name), exposure.get(baseline_name)
    if own is not None and theirs is not None and rate_lift.estimate is not None:
        if own.hourly is not None and theirs.hourly is not None:
            factor_num = float(_exposure_per_hour(data, theirs)[window].sum())
            factor_den = float(_exposure_per_hour(data, own)[window].sum())
            note = None
        else:
            factor_num, factor_den = theirs.total or 0.0, own.total or 0.0
            note = "exposure given as totals over the whole period"
        if factor_num > 0 and factor_den > 0:
            factor = factor_num / factor_den
            comparison.per_1000_lift = Interval(
                rate_lift.estimate * factor,
                rate_lift.low * factor if rate_lift.low is not None else None,
                rate_lift.high * factor if rate_lift.high is not None else None,
                note or rate_lift.note,
            )
        else:
            comparison.per_1000_lift = Interval(None, note="no recommendations served in the window")
    return comparison


def _rates_over_time(data: HourlyData, values: np.ndarray, present: np.ndarray, per: str) -> RatesOverTime:
    period = per
    if per == "auto":
        period = "hour" if data.hours <= AUTO_DAILY_AFTER_HOURS else "day"
    length = DAY if period == "day" else HOUR
    keys = data.hour_starts // length
    unique, inverse = np.unique(keys, return_inverse=True)
    rates: dict[str, list[float | None]] = {}
    for index in present:
        live = data.live_mask(index)
        hours = np.bincount(inverse, weights=np.where(live, data.traffic_hours, 0.0), minlength=len(unique))
        totals = np.bincount(inverse, weights=np.where(live, values[index], 0.0), minlength=len(unique))
        rates[data.sources[index]] = [float(t / h) if h > 0 else None for t, h in zip(totals, hours)]
    return RatesOverTime(period=period, starts=[_utc(k * length) for k in unique], per_hour=rates)


def _derived_report(data: HourlyData, item: DerivedMetric, settings: Settings) -> DerivedReport:
    report = DerivedReport(item.name, item.expression, item.label or item.name, [])
    match = RATIO_EXPRESSION.fullmatch(item.expression)
    if not match:
        report.note = "only expressions of the form metricA / metricB are reported"
        return report
    numerator, denominator = (name.upper() for name in match.groups())
    missing = [name for name in (numerator, denominator) if name not in data.values]
    if missing:
        report.note = f"no report rows for {', '.join(missing)}"
        return report
    clusters = data.clusters(settings.block)
    options = _interval_options(settings)
    for index, source in enumerate(data.sources):
        live = data.live_mask(index)
        top, bottom = data.values[numerator][index], data.values[denominator][index]
        if not bottom[live].any():
            continue
        value = ratio_interval(_cluster_sums(top, live, clusters), _cluster_sums(bottom, live, clusters), **options)
        report.sources.append(DerivedFigures(source, value))
    report.sources.sort(key=lambda f: (-(f.value.estimate or 0.0), f.source))
    return report
