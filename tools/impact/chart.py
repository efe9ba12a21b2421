"""The --png figure: rate lift with its interval per source (the headline), then rates over time.

Lift panel: one row per source, the point estimate and its interval on a log axis, the
baseline as the line at 1x. Rates panel: per hour by period; a period without traffic or
before a source launched is a gap, not a zero. Only the biggest sources get their own line
or row; the rest become "other", their mean per source (rates) or counted in the title (lift). Legends sit
outside the plotting area so they never cover data.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np

from tools._cli import CliError
from tools.impact.statistics import Analysis, MetricReport

TOP_LINES = 6  # sources drawn as their own line in the rates panel
TOP_LIFTS = 12  # sources shown in the lift panel


def write_chart(analysis: Analysis, path: Path, confidence: float) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed; must precede the pyplot import
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    metrics = analysis.metrics
    lift_heights = [max(1.6, 0.32 * min(TOP_LIFTS, max(1, len(m.sources) - 1)) + 0.9) for m in metrics]
    heights = [h for m, lift in zip(metrics, lift_heights) for h in (lift, 3.0)]
    figure, axes = plt.subplots(
        len(heights), 1, figsize=(11, sum(heights) + 0.4 * len(heights)), squeeze=False,
        gridspec_kw={"height_ratios": heights}, layout="constrained",
    )
    try:
        for position, report in enumerate(metrics):
            _lift_panel(axes[2 * position, 0], report, confidence)
            _rates_panel(axes[2 * position + 1, 0], report, mdates)
        try:
            figure.savefig(path, format="png", dpi=100)
        except OSError as exc:
            raise CliError(f"--png {path}: cannot write: {exc}") from None
    finally:
        plt.close(figure)


def _lift_panel(axis, report: MetricReport, confidence: float) -> None:
    compared = [s for s in report.sources if s.lift is not None and s.lift.rate_lift.estimate is not None]
    title = f"{report.metric}: rate lift vs {report.baseline or 'no baseline'} ({confidence * 100:g}% interval, common window)"
    if len(compared) > TOP_LIFTS:
        title += f"; top {TOP_LIFTS} of {len(compared)} sources by total"
        compared = compared[:TOP_LIFTS]
    axis.set_title(title, fontsize="medium", loc="left")
    if not compared:
        axis.text(0.5, 0.5, report.baseline_note or "no source to compare", ha="center", va="center", transform=axis.transAxes)
        axis.set_axis_off()
        return
    rows = np.arange(len(compared))[::-1]
    estimates = np.array([s.lift.rate_lift.estimate for s in compared])
    lows = np.array([s.lift.rate_lift.low if s.lift.rate_lift.low is not None else np.nan for s in compared])
    highs = np.array([s.lift.rate_lift.high if s.lift.rate_lift.high is not None else np.nan for s in compared])
    has_interval = ~np.isnan(lows)
    axis.errorbar(
        estimates[has_interval], rows[has_interval],
        xerr=[estimates[has_interval] - lows[has_interval], highs[has_interval] - estimates[has_interval]],
        fmt="o", color="tab:blue", ecolor="tab:blue", capsize=3,
    )
    axis.plot(estimates[~has_interval], rows[~has_interval], "o", color="tab:gray")
    axis.axvline(1.0, color="black", linewidth=1, linestyle="--")
    labels = []
    for source in compared:
        hours = (source.lift.window_end - source.lift.window_start).total_seconds() / 3600
        span = f"{hours / 24:.1f} d" if hours >= 24 else f"{hours:.0f} h"
        caveat = ", no interval" if source.lift.rate_lift.low is None else ""
        labels.append(f"{source.source}  ({span} window{caveat})")
    axis.set_yticks(rows, labels, fontsize="small")
    positive = np.concatenate([estimates, lows[has_interval], highs[has_interval]])
    positive = positive[positive > 0]
    if positive.size:
        from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator

        axis.set_xscale("log")
        low, high = min(positive.min(), 1.0) / 1.3, max(positive.max(), 1.0) * 1.3
        axis.set_xlim(low, high)
        axis.xaxis.set_major_locator(FixedLocator(lift_ticks(low, high)))
        axis.xaxis.set_minor_locator(LogLocator(subs="all"))
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}x"))
        axis.xaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    axis.set_ylim(-0.7, len(compared) - 0.3)
    axis.set_xlabel("rate lift (x baseline; 1 = same rate)")
    axis.grid(True, axis="x", alpha=0.3, which="both")


# Lifts people read: a log axis with only powers of ten (or 1-2-5) shows a single "1x" tick when
# the lifts are close to 1, which is the usual case.
NICE_LIFTS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 0.67, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0)
MAX_LIFT_TICKS = 7


def lift_ticks(low: float, high: float) -> list[float]:
    """Readable ticks inside (low, high), always with 1x, at most MAX_LIFT_TICKS."""
    inside = [t for t in NICE_LIFTS if low <= t <= high]
    while len(inside) > MAX_LIFT_TICKS:
        one = inside.index(1.0)
        inside = [t for i, t in enumerate(inside) if (i - one) % 2 == 0]
    return inside


def _rates_panel(axis, report: MetricReport, mdates) -> None:
    over_time = report.rates_over_time
    starts = over_time.starts
    ordered = [s.source for s in report.sources]
    shown = ordered[:TOP_LINES]
    if report.baseline and report.baseline not in shown:  # the baseline is what every lift refers to
        shown = shown[:-1] + [report.baseline]
    rest = [source for source in ordered if source not in shown]

    def series(source: str) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in over_time.per_hour[source]], dtype=float)

    for source in shown:
        is_baseline = source == report.baseline
        axis.plot(
            starts, series(source), marker="o", markersize=3,
            linestyle="--" if is_baseline else "-",
            label=f"{source} (baseline)" if is_baseline else source,
        )
    if rest:
        stacked = np.vstack([series(source) for source in rest])
        live = ~np.isnan(stacked)
        # The mean per source keeps "other" on the scale of the lines it sits beside (a sum would dwarf them).
        other = np.where(live.any(axis=0), np.nansum(stacked, axis=0) / np.maximum(live.sum(axis=0), 1), np.nan)
        axis.plot(starts, other, marker="o", markersize=3, color="gray", label=f"other: mean of {len(rest)} sources")
    axis.set_title(f"{report.metric}: per hour, by {over_time.period} (UTC); gaps: not live or no traffic", fontsize="medium", loc="left")
    if len(starts) == 1:  # one period: without limits the date axis would span years
        step = timedelta(days=1) if over_time.period == "day" else timedelta(hours=1)
        axis.set_xlim(starts[0] - step, starts[0] + step)
    axis.set_ylabel("per hour")
    axis.set_ylim(bottom=0)
    axis.grid(True, alpha=0.3)
    axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(axis.xaxis.get_major_locator()))
    axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
