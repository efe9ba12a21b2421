"""Rates, lift and intervals from the hourly aggregates of sql.named_queries.

Definitions (docs/statistics.md has the why and the measured coverage):

* The report's period runs from the first to the last hour with a row, widened to whole days
  of the shop (`timezone`) when days are the clusters. A source is *live* over that period
  except runs of hours without its rows that its usual activity makes improbable (hourly.live_hours:
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
  neighbouring days are merged into longer blocks (intervals.choose_block); a heavy-tailed
  total gets a studentized bootstrap (intervals.heavy_tail). `--ci bootstrap` resamples whole
  blocks instead; `--block hour` treats hours as independent (short tests).
* Every rate lift of a report is one family: Holm-adjusted p-values and simultaneous
  intervals (intervals.adjust_comparisons).
* Per 1,000 recommendations: 1000 * total / recommendations served while live; the exposure
  counts are measurements, not samples, so they scale the interval.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

from lambdas.personalize_resources.address_book import cloudwatch_name
from tools._cli import plural
from tools.impact.figures import (
    Analysis,
    Comparison,
    DerivedFigures,
    DerivedMetric,
    DerivedReport,
    Exposure,
    Interval,
    MetricReport,
    RatesOverTime,
    Settings,
    SourceFigures,
)
from tools.impact.hourly import DAY, HOUR, HourlyData, utc
from tools.impact.intervals import adjust_comparisons, heavy_tail, ratio_interval, t_quantile

UNDEFINED_SOURCE = "SOURCE_NAME_UNDEFINED"
AUTO_DAILY_AFTER_HOURS = 72  # rates over time: per hour up to three days of data, per day beyond
MIN_CLUSTERS = 7  # below a week of days, day-to-day variation is poorly estimated
MIN_BUCKETS = 30  # below this many 15-minute buckets with data, a source's figures are fragile
RATIO_EXPRESSION = re.compile(r"\s*\(?\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)?\s*/\s*\(?\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)?\s*")


def _cluster_sums(values: np.ndarray, mask: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum of `values` (1-D, per hour, or 2-D rows x hours) over the hours in `mask`, per cluster,
    and the clusters' ids (day numbers) in order."""
    ids, inverse = np.unique(clusters[mask], return_inverse=True)
    count = len(ids)
    if values.ndim == 1:
        return np.bincount(inverse, weights=values[mask], minlength=count), ids
    return np.stack([np.bincount(inverse, weights=row[mask], minlength=count) for row in values]), ids


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
    baseline_index, baseline_note = _baseline(data, present, settings)
    rate_hours = _rate_hours(data, settings)
    figures = [
        _source_figures(data, metric, index, float(totals[index]), grand_total, rate_hours, exposure, settings, is_baseline=bool(index == baseline_index))
        for index in present
    ]
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
        first_hour=utc(data.hour_starts[with_rows[0]]),
        last_hour=utc(data.hour_starts[with_rows[-1]]),
        baseline=data.sources[baseline_index] if baseline_index is not None else None,
        baseline_note=baseline_note,
        sources=figures,
        rates_over_time=_rates_over_time(data, values, present, settings),
    )


def _baseline(data: HourlyData, present: np.ndarray, settings: Settings) -> tuple[int | None, str | None]:
    """The baseline's row among the sources with data of the metric, or why there is none."""
    baseline_name = cloudwatch_name(settings.baseline or UNDEFINED_SOURCE)
    baseline_index = data.sources.index(baseline_name) if baseline_name in data.sources else None
    if baseline_index is not None and baseline_index not in present:
        baseline_index = None
    if baseline_index is not None:
        return baseline_index, None
    return None, (
        f"baseline {settings.baseline} has no data for this metric"
        if settings.baseline
        else f"no {UNDEFINED_SOURCE} rows; pass --baseline SOURCE for lift"
    )


def _source_figures(
    data: HourlyData,
    metric: str,
    index: int,
    total: float,
    grand_total: float,
    rate_hours: np.ndarray,
    exposure: Mapping[str, Exposure],
    settings: Settings,
    *,
    is_baseline: bool,
) -> SourceFigures:
    values, buckets = data.values[metric][index], data.buckets[metric][index]
    source = data.sources[index]
    live = data.live_mask(index)
    live_hours = np.flatnonzero(live)
    heavy = heavy_tail(values[live])
    per_hour = _interval(data, values, rate_hours, live, settings, heavy)
    served, per_1000 = _per_1000(data, values, live, exposure.get(source), settings)
    return SourceFigures(
        source=source,
        total=total,
        volume_share=float(total / grand_total) if grand_total else None,
        live_start=utc(data.hour_starts[live_hours[0]]),
        live_end=utc(data.hour_starts[live_hours[-1]] + HOUR),
        traffic_hours=float(data.traffic_hours[live].sum()),
        buckets_with_data=int(buckets.sum()),
        per_hour=per_hour,
        exposure=served,
        per_1000=per_1000,
        is_baseline=is_baseline,
        live_hours=float(live.sum()),
        pauses=data.pauses(index),
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
        window_start=utc(data.hour_starts[hours[0]]),
        window_end=utc(data.hour_starts[hours[-1]] + HOUR),
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
    return RatesOverTime(period=period, starts=[utc(k * length) for k in unique], per_hour=rates)


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
