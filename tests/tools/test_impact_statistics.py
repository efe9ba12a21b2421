"""tools.impact.statistics against data with a known truth, through the real SQL on DuckDB."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from tools.impact import figures, intervals
from tools.impact.report_csv import MetricRow
from tools.impact.reports import ReportStore
from stacks.report_sql import ANALYSIS_QUERIES
from tools.impact.figures import DerivedMetric, Exposure, Settings
from tools.impact.hourly import HourlyData
from tools.impact.intervals import ratio_interval
from tools.impact.statistics import analyse

DAY0 = 1_704_067_200  # 2024-01-01T00:00:00Z
BUCKETS_PER_DAY = 96


def series_rows(metric: str, source: str, values, start: int = DAY0) -> list[MetricRow]:
    """One row per 15-minute bucket with a value above 0 (reports have no rows for empty buckets)."""
    return [
        MetricRow(metric, "VIEW", float(value), "samplecount", source, start + 900 * bucket)
        for bucket, value in enumerate(values)
        if value
    ]


def run(rows: list[MetricRow], exposure=None, derived=(), **settings) -> dict[str, figures.MetricReport]:
    store = ReportStore()
    try:
        store.add_rows(rows, "test.csv")
        results = store.aggregates(ANALYSIS_QUERIES)
    finally:
        store.close()
    data = HourlyData(results["hourly_by_source"], results["traffic_by_hour"], whole_days=settings.get("block", "day") == "day")
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


def test_quiet_hours_are_clock_hours_and_active_hours_only_if_asked():
    values = [5] * 8 + [0] * 8 + [5] * 8  # six hours, the middle two with no rows of any source
    rows = series_rows("COUNTVIEWS", "SOURCE_NAME_UNDEFINED", values) + series_rows("COUNTVIEWS", "a", values)
    reports = run(rows, block="hour")
    rates = reports["COUNTVIEWS"].rates_over_time
    assert rates.period == "hour"
    assert rates.per_hour["A"] == [20.0, 20.0, 0.0, 0.0, 20.0, 20.0]  # a quiet shop, not a pause
    figures = by_source(reports["COUNTVIEWS"])["A"]
    assert figures.per_hour.estimate == pytest.approx(80 / 6) and figures.live_hours == 6 and not figures.pauses
    active = by_source(run(rows, rate_hours="active", block="hour")["COUNTVIEWS"])["A"]
    assert active.per_hour.estimate == pytest.approx(20)
    # With day clusters the period is the whole (UTC) day: 80 views in 24 clock hours.
    assert by_source(run(rows)["COUNTVIEWS"])["A"].per_hour.estimate == pytest.approx(80 / 24)


def test_rates_are_independent_of_other_sources_rows():
    """Per clock hour: adding a source with rows in the quiet hours changes nobody else's rate."""
    values = [5] * 8 + [0] * 8 + [5] * 8
    rows = series_rows("COUNTVIEWS", "SOURCE_NAME_UNDEFINED", values) + series_rows("COUNTVIEWS", "a", values)
    night_owl = series_rows("COUNTVIEWS", "owl", [1] * 24)
    alone, together = (by_source(run(r, block="hour")["COUNTVIEWS"])["A"].per_hour.estimate for r in (rows, rows + night_owl))
    assert alone == together == pytest.approx(80 / 6)


def test_a_pause_is_not_live_time_and_is_stated():
    """The source stops for three of ten days while the baseline goes on: those days are
    excluded from its rate and from the lift's window, and reported as a pause."""
    rng = np.random.default_rng(4)
    days = 10
    baseline = rng.poisson(10, days * BUCKETS_PER_DAY)
    source = rng.poisson(13, days * BUCKETS_PER_DAY)
    source[3 * BUCKETS_PER_DAY : 6 * BUCKETS_PER_DAY] = 0
    reports = run(series_rows("COUNTVIEWS", "SOURCE_NAME_UNDEFINED", baseline) + series_rows("COUNTVIEWS", "rec", source))
    rec = by_source(reports["COUNTVIEWS"])["REC"]
    [pause] = rec.pauses
    assert (pause.start, pause.end, pause.hours) == (datetime(2024, 1, 4, tzinfo=UTC), datetime(2024, 1, 7, tzinfo=UTC), 72)
    assert rec.live_hours == 7 * 24
    assert rec.per_hour.estimate == pytest.approx(source.sum() / (7 * 24))
    assert rec.lift.rate_lift.estimate == pytest.approx(1.3, rel=0.03)
    baseline_figures = by_source(reports["COUNTVIEWS"])["SOURCE_NAME_UNDEFINED"]
    assert baseline_figures.live_hours == days * 24 and not baseline_figures.pauses


def test_a_sparse_source_is_live_from_the_start_of_the_report_not_its_first_event():
    """38 purchases in 14 days: nothing makes the empty hours before the first one improbable."""
    rng = np.random.default_rng(9)
    days = 14
    views = series_rows("COUNTVIEWS", "SOURCE_NAME_UNDEFINED", rng.poisson(5, days * BUCKETS_PER_DAY))
    purchases = np.zeros(days * BUCKETS_PER_DAY)
    purchases[np.sort(rng.choice(np.arange(30, days * BUCKETS_PER_DAY - 30), 38, replace=False))] = 1
    rec = by_source(run(views + series_rows("COUNTPURCHASES", "rec", purchases))["COUNTPURCHASES"])["REC"]
    assert rec.live_hours == days * 24 and rec.per_hour.estimate == pytest.approx(38 / (days * 24))


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


def test_a_pause_is_printed_next_to_the_table():
    from tools.impact.render import format_text

    rng = np.random.default_rng(4)
    baseline = rng.poisson(10, 10 * BUCKETS_PER_DAY)
    source = rng.poisson(13, 10 * BUCKETS_PER_DAY)
    source[3 * BUCKETS_PER_DAY : 6 * BUCKETS_PER_DAY] = 0
    run(series_rows("COUNTVIEWS", "SOURCE_NAME_UNDEFINED", baseline) + series_rows("COUNTVIEWS", "rec", source))
    text = format_text(run.last, 0.95)
    assert "REC: paused 2024-01-04 00:00 to 2024-01-07 00:00 UTC (3.0 d, no rows where ~72 hours with rows were expected)" in text
    assert "Holm p" in text and "simultaneous CI" in text


def test_partly_live_source_per_1000_lift_uses_matching_periods():
    """Deleted after 5 of 10 days; both served 1,000 an hour while live (impressions totals).
    Views per 1,000: 13 and 10 -> lift 1.3, whatever the source's shorter period."""
    views = {"SOURCE_NAME_UNDEFINED": [2.5] * (10 * BUCKETS_PER_DAY), "rec": [3.25] * (5 * BUCKETS_PER_DAY) + [0] * (5 * BUCKETS_PER_DAY)}
    rows = [row for source, values in views.items() for row in series_rows("COUNTVIEWS", source, values)]
    exposure = {"SOURCE_NAME_UNDEFINED": Exposure("t", total=1000.0 * 240), "REC": Exposure("t", total=1000.0 * 120)}
    rec = by_source(run(rows, exposure=exposure)["COUNTVIEWS"])["REC"]
    assert rec.per_1000.estimate == pytest.approx(13.0)
    assert rec.lift.per_1000_lift.estimate == pytest.approx(1.3)
    assert rec.live_hours == 120 and rec.lift.rate_lift.estimate == pytest.approx(1.3)


def test_holm_adjusts_every_lift_of_the_report_and_gives_simultaneous_intervals():
    from tools.impact.figures import Comparison, Interval
    from tools.impact.intervals import adjust_comparisons, t_p_value

    lifts = [Interval(1.2, se_log=0.05, df=20), Interval(1.05, se_log=0.05, df=20), Interval(0.9, se_log=0.2, df=20)]
    comparisons = [Comparison("B", None, None, 21, 0.0, lift) for lift in lifts]
    assert adjust_comparisons(comparisons, Settings()) == 3
    raw = [t_p_value(math.log(c.rate_lift.estimate) / c.rate_lift.se_log, 20) for c in comparisons]
    order = np.argsort(raw)
    expected = np.maximum.accumulate([min(1.0, (3 - rank) * raw[i]) for rank, i in enumerate(order)])
    assert [comparisons[i].p_adjusted for i in order] == pytest.approx(list(expected))
    spread = intervals.t_quantile(1 - 0.05 / 3, 20) * 0.05
    assert comparisons[0].adjusted.low == pytest.approx(1.2 * math.exp(-spread))
    assert adjust_comparisons(comparisons[:1], Settings(adjust="none")) == 1


def test_correlated_days_are_merged_into_weeks_and_independent_days_are_not():
    from tools.impact.intervals import choose_block

    rng = np.random.default_rng(5)
    days = np.arange(140)
    baseline = np.full(140, 1000.0)
    weekly = 1000 * np.repeat(rng.normal(1, 0.2, 20), 7) + rng.normal(0, 10, 140)
    assert choose_block(weekly, baseline, days)[2] == 7
    independent = 1000 * rng.normal(1, 0.2, 140)
    assert choose_block(independent, baseline, days)[2] == 1
    # Too few days for weeks: days stay, with a warning.
    _, _, block, warnings = choose_block(weekly[:28], baseline[:28], days[:28])
    assert block == 1 and "too few for 7-day blocks" in warnings[0]


def test_heavy_tail_is_flagged_only_when_a_few_hours_carry_much_of_the_total():
    from tools.impact.intervals import heavy_tail

    rng = np.random.default_rng(6)
    assert heavy_tail(rng.poisson(5, 600).astype(float)) is None
    whales = rng.poisson(5, 600).astype(float)
    whales[[10, 300, 500]] = 400
    message = heavy_tail(whales)
    assert message.startswith("heavy-tailed: 6 of ") and " hours with data carry " in message  # the top 1 %: 6 of ~600 hours
    assert heavy_tail(np.array([5.0, 0, 0, 1])) is None  # a handful of hours is not a tail


def test_local_days_follow_the_shop_across_a_dst_change():
    from tools.impact.hourly import _local_days

    starts = 1_709_971_200 + 3600 * np.arange(72)  # 2024-03-09T08:00Z = midnight in Los Angeles
    days = _local_days(starts, "America/Los_Angeles")
    assert [int((days == day).sum()) for day in np.unique(days)] == [24, 23, 24, 1]  # 2024-03-10 has 23 hours
    assert _local_days(starts, None)[0] == starts[0] // 86_400
