"""tools.impact.statistics against data with a known truth, through the real SQL on DuckDB."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from tools.impact import statistics
from tools.impact.reports import MetricRow, ReportStore
from tools.impact.sql import ANALYSIS_QUERIES
from tools.impact.statistics import DerivedMetric, Exposure, HourlyData, Settings, analyse, ratio_interval

DAY0 = 1_704_067_200  # 2024-01-01T00:00:00Z
BUCKETS_PER_DAY = 96


def series_rows(metric: str, source: str, values, start: int = DAY0) -> list[MetricRow]:
    """One row per 15-minute bucket with a value above 0 (reports have no rows for empty buckets)."""
    return [
        MetricRow(metric, "VIEW", float(value), "samplecount", source, start + 900 * bucket)
        for bucket, value in enumerate(values)
        if value
    ]


def run(rows: list[MetricRow], exposure=None, derived=(), **settings) -> dict[str, statistics.MetricReport]:
    store = ReportStore()
    try:
        store.add_rows(rows, "test.csv")
        results = store.aggregates(ANALYSIS_QUERIES)
    finally:
        store.close()
    data = HourlyData(results["hourly_by_source"], results["traffic_by_hour"])
    analysis = analyse(data, results["metric_details"], Settings(**settings), exposure=exposure, derived=derived)
    run.last = analysis
    return {report.metric: report for report in analysis.metrics}


def by_source(report):
    return {figures.source: figures for figures in report.sources}


def test_sparse_metric_rate_is_over_the_time_traffic_flowed():
    # Two days of views in every bucket for both sources (48 h of traffic), and one purchase per
    # day per source. The true purchase rate is 2 / 48 h = 0.0417/h; dividing by the buckets where
    # purchases have rows (2 buckets = 0.5 h) would say 4/h.
    views = [1] * (2 * BUCKETS_PER_DAY)
    purchases = [0] * (2 * BUCKETS_PER_DAY)
    purchases[10] = purchases[BUCKETS_PER_DAY + 50] = 1
    rows = []
    for source in ("SOURCE_NAME_UNDEFINED", "recommended_for_you"):
        rows += series_rows("COUNTVIEWS", source, views) + series_rows("COUNTPURCHASES", source, purchases)
    reports = run(rows)
    rfy = by_source(reports["COUNTPURCHASES"])["RECOMMENDED_FOR_YOU"]
    assert rfy.traffic_hours == 48
    assert rfy.per_hour.estimate == pytest.approx(2 / 48)
    assert rfy.buckets_with_data == 2
    assert "small sample: only 2 15-minute buckets" in rfy.lift.warnings[-1]


def test_a_late_source_is_compared_only_over_the_window_both_were_live():
    # Baseline at 30 per bucket for five days; the new source at 40 per bucket on the last day
    # only: true rate lift 4/3, over the last day. Counting the four days before launch as zeros
    # would give 40 / (5 * 30) = 0.27.
    baseline = [30] * (5 * BUCKETS_PER_DAY)
    late = [0] * (4 * BUCKETS_PER_DAY) + [40] * BUCKETS_PER_DAY
    reports = run(series_rows("COUNTVIEWS", "SOURCE_NAME_UNDEFINED", baseline) + series_rows("COUNTVIEWS", "new_widget", late))
    figures = by_source(reports["COUNTVIEWS"])
    new = figures["NEW_WIDGET"]
    assert new.lift.rate_lift.estimate == pytest.approx(4 / 3)
    assert new.lift.window_start == datetime(2024, 1, 5, tzinfo=UTC)
    assert new.lift.window_end == datetime(2024, 1, 6, tzinfo=UTC)
    assert new.lift.clusters == 1 and new.lift.rate_lift.low is None
    assert "short window: 1 day " in new.lift.warnings[0]
    assert new.live_start == datetime(2024, 1, 5, tzinfo=UTC) and new.traffic_hours == 24
    assert new.per_hour.estimate == pytest.approx(160)  # 40 per bucket over its own live day
    assert figures["SOURCE_NAME_UNDEFINED"].per_hour.estimate == pytest.approx(120)
    # Rates over time: nothing for the new source before it launched.
    over_time = reports["COUNTVIEWS"].rates_over_time
    assert over_time.period == "day" and over_time.per_hour["NEW_WIDGET"] == [None] * 4 + [pytest.approx(160)]


def test_outages_are_gaps_not_zeros():
    values = [5] * 8 + [0] * 8 + [5] * 8  # six hours, the middle two with no rows at all
    reports = run(series_rows("COUNTVIEWS", "SOURCE_NAME_UNDEFINED", values) + series_rows("COUNTVIEWS", "a", values))
    rates = reports["COUNTVIEWS"].rates_over_time
    assert rates.period == "hour"
    assert rates.per_hour["A"] == [20.0, 20.0, None, None, 20.0, 20.0]
    assert by_source(reports["COUNTVIEWS"])["A"].per_hour.estimate == pytest.approx(20)


def test_delta_interval_matches_the_cluster_robust_formula():
    # Per-day totals S = 10, 14, 12 and B = 10, 10, 10: R = 1.2, residuals -2, 2, 0,
    # Var(R) = 3/2 * 8 / 30^2, interval R * exp(+-t(0.975, 2) * sqrt(Var(R)) / R).
    interval = ratio_interval(np.array([10.0, 14, 12]), np.array([10.0, 10, 10]))
    spread = 4.302652729911275 * math.sqrt(1.5 * 8 / 900) / 1.2
    assert interval.estimate == pytest.approx(1.2)
    assert interval.low == pytest.approx(1.2 * math.exp(-spread))
    assert interval.high == pytest.approx(1.2 * math.exp(spread))
    assert ratio_interval(np.array([5.0]), np.array([0.0])).note == "the denominator is 0 in the window"


def test_day_blocks_widen_the_interval_when_days_differ():
    # Within each day both sources are constant, but the source's day level swings +-15 %: the
    # day-clustered interval must be far wider than one treating hours as independent.
    rng = np.random.default_rng(3)
    rows = series_rows("COUNTVIEWS", "SOURCE_NAME_UNDEFINED", [20] * (10 * BUCKETS_PER_DAY))
    levels = np.repeat(26 * rng.normal(1, 0.15, 10), BUCKETS_PER_DAY).round()
    rows += series_rows("COUNTVIEWS", "rec", levels)
    by_day = by_source(run(rows)["COUNTVIEWS"])["REC"].lift.rate_lift
    by_hour = by_source(run(rows, block="hour")["COUNTVIEWS"])["REC"].lift.rate_lift
    assert by_day.low < by_day.estimate < by_day.high
    assert (by_day.high - by_day.low) > 5 * (by_hour.high - by_hour.low)


def test_bootstrap_by_day_is_repeatable_for_a_seed():
    rng = np.random.default_rng(1)
    rows = series_rows("COUNTVIEWS", "SOURCE_NAME_UNDEFINED", rng.poisson(15, 8 * BUCKETS_PER_DAY))
    rows += series_rows("COUNTVIEWS", "rec", rng.poisson(30, 8 * BUCKETS_PER_DAY))

    def lift(seed):
        return by_source(run(rows, ci="bootstrap", seed=seed, resamples=500)["COUNTVIEWS"])["REC"].lift.rate_lift

    first, again, other = lift(5), lift(5), lift(6)
    assert (first.low, first.high) == (again.low, again.high) != (other.low, other.high)
    assert first.low < first.estimate < first.high and first.estimate == pytest.approx(2.0, rel=0.05)


def test_per_1000_recommendations_and_its_lift():
    # 4 h; the source serves 1,000 recommendations per hour and gets 20 views per hour; the
    # baseline serves 2,000 per hour and gets 10 views per hour (per bucket: 5 and 2.5 -> 5, 3, 2, 0).
    rows = series_rows("COUNTVIEWS", "rec", [5] * 16) + series_rows("COUNTVIEWS", "SOURCE_NAME_UNDEFINED", [5, 3, 2, 0] * 4)
    hours = {DAY0 + 3600 * h: 0.0 for h in range(4)}
    exposure = {
        "rec": Exposure("test", hourly={hour: 1000.0 for hour in hours}),
        "SOURCE_NAME_UNDEFINED": Exposure("test", hourly={hour: 2000.0 for hour in hours}),
    }
    figures = by_source(run(rows, exposure=exposure, block="hour")["COUNTVIEWS"])
    rec = figures["REC"]
    assert rec.exposure == 4000 and rec.per_1000.estimate == pytest.approx(20.0)
    assert figures["SOURCE_NAME_UNDEFINED"].per_1000.estimate == pytest.approx(5.0)
    assert rec.lift.rate_lift.estimate == pytest.approx(2.0)
    assert rec.lift.per_1000_lift.estimate == pytest.approx(4.0)  # 20 vs 5 per 1,000
    # An impressions total instead of a series: a point figure, no interval.
    totals = {"REC": Exposure("--impressions", total=8000.0)}
    rec = by_source(run(rows, exposure=totals, block="hour")["COUNTVIEWS"])["REC"]
    assert rec.per_1000.estimate == pytest.approx(10.0) and "one total" in rec.per_1000.note


def test_derived_metric_per_source_with_interval():
    # Margin per view: recommended 3 per view, baseline 1 per view, over two days of hours.
    views = [2] * (2 * BUCKETS_PER_DAY)
    rows = series_rows("COUNTVIEWS", "rec", views) + series_rows("SUMMARGIN", "rec", [6] * (2 * BUCKETS_PER_DAY))
    rows += series_rows("COUNTVIEWS", "SOURCE_NAME_UNDEFINED", views) + series_rows("SUMMARGIN", "SOURCE_NAME_UNDEFINED", views)
    derived = [DerivedMetric("marginPerView", "sumMargin / countViews"), DerivedMetric("odd", "sumMargin * 2")]
    run(rows, derived=derived)
    margin, odd = run.last.derived
    values = {item.source: item.value for item in margin.sources}
    assert values["REC"].estimate == pytest.approx(3.0) and values["REC"].low == pytest.approx(3.0)
    assert values["SOURCE_NAME_UNDEFINED"].estimate == pytest.approx(1.0)
    assert odd.sources == [] and "metricA / metricB" in odd.note


def test_source_names_are_one_source_whatever_their_case():
    rows = series_rows("countViews", "recommended_for_you", [3] * 4) + series_rows("COUNTVIEWS", "RECOMMENDED_FOR_YOU", [2] * 4)
    rows += series_rows("COUNTVIEWS", "SOURCE_NAME_UNDEFINED", [1] * 4)
    reports = run(rows, baseline="source_name_undefined")
    assert list(reports) == ["COUNTVIEWS"]
    figures = by_source(reports["COUNTVIEWS"])
    assert set(figures) == {"RECOMMENDED_FOR_YOU", "SOURCE_NAME_UNDEFINED"}
    assert figures["RECOMMENDED_FOR_YOU"].total == 20 and figures["RECOMMENDED_FOR_YOU"].lift.rate_lift.estimate == 5.0


def test_lift_axis_ticks_are_readable_when_lifts_are_close_to_one():
    """The chart's lift panel: a narrow range still gets several labelled ticks around 1x."""
    from tools.impact.chart import MAX_LIFT_TICKS, lift_ticks

    assert lift_ticks(0.53, 1.55) == [0.67, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5]
    for low, high in ((0.9, 1.05), (0.05, 40.0), (0.7, 2.3), (0.2, 120.0)):
        ticks = lift_ticks(low, high)
        assert 1.0 in ticks and len(ticks) <= MAX_LIFT_TICKS and all(low <= t <= high for t in ticks)
