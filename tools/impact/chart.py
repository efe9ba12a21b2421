"""The --png figure: rate lift with its interval per source (the headline), then rates over time.

Lift panel: one row per source, the point estimate and its interval on a log axis, the
baseline as the line at 1x. Rates panel: per hour by period; a period without traffic or
before a source launched is a gap, not a zero. Only the biggest sources get their own line
or row; the rest become "other", their mean per source (rates) or counted in the title (lift).
A source has one colour in both panels. Labels are short: a source Personalize recorded as an
ARN (events with only a recommendationId) is labelled with the recommender's or campaign's name
and a dagger, and the footnote gives the rest of the ARN (`--json` has every source in full).
Legends sit outside the plotting area so they never cover data.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np

from tools._cli import CliError, plural
from tools.impact.figures import Analysis, MetricReport

TOP_LINES = 6  # sources drawn as their own line in the rates panel
TOP_LIFTS = 12  # sources shown in the lift panel
MAX_LABEL = 32  # characters of a source label; longer names keep their start and end
ARN_MARK = "\u2020"  # dagger: the label is the end of an ARN, the footnote has its start
BASELINE_COLOUR = "black"


def short_label(source: str) -> tuple[str, str | None]:
    """(label, the ARN's part before the name or None): `ARN:...:CAMPAIGN/SHOP-TOP` -> `SHOP-TOP†`."""
    prefix = None
    if source.lower().startswith("arn:") and "/" in source:
        prefix, source = source.rsplit("/", 1)
        prefix += "/"
    if len(source) > MAX_LABEL:  # names differ at their end (a recommender's name ends in its digest)
        keep = MAX_LABEL - 1
        source = source[: keep // 3] + "\u2026" + source[-(keep - keep // 3) :]
    return (f"{source}{ARN_MARK}" if prefix else source), prefix


def source_colours(metrics: list[MetricReport]) -> dict[str, tuple[float, ...] | str]:
    """One colour per source, the same in every panel of every metric (baselines black)."""
    from matplotlib import colormaps

    baselines = {report.baseline for report in metrics if report.baseline}
    others = list(dict.fromkeys(s.source for report in metrics for s in report.sources if s.source not in baselines))
    # tab20's strong colours (even indices, = tab10) first, its pale ones only beyond ten sources.
    palette = colormaps["tab20"]
    order = [*range(0, palette.N, 2), *range(1, palette.N, 2)]
    colours: dict[str, tuple[float, ...] | str] = {source: palette(order[index % palette.N]) for index, source in enumerate(others)}
    colours.update({baseline: BASELINE_COLOUR for baseline in baselines})
    return colours


def unit_per_hour(report: MetricReport) -> str:
    """The rates' unit: events per hour for a count, the metric's sum per hour for a SUM."""
    events = "/".join(report.event_types) or "events"
    if set(report.math_functions) <= {"samplecount"}:
        return f"{events} events per hour"
    return f"{report.metric} (sum over {events} events) per hour"


def write_chart(analysis: Analysis, path: Path, confidence: float) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed; must precede the pyplot import
    import matplotlib.pyplot as plt

    figure = render_figure(analysis, confidence)
    try:
        try:
            figure.savefig(path, format="png", dpi=100)
        except OSError as exc:
            raise CliError(f"--png {path}: cannot write: {exc}") from None
    finally:
        plt.close(figure)


def render_figure(analysis: Analysis, confidence: float):
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    metrics = analysis.metrics
    lift_heights = [max(1.6, 0.32 * min(TOP_LIFTS, max(1, len(m.sources) - 1)) + 1.1) for m in metrics]
    heights = [h for m, lift in zip(metrics, lift_heights) for h in (lift, 3.0)]
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    figure, axes = plt.subplots(
        len(heights), 1, figsize=(12, sum(heights) + 0.6 * len(heights) + 0.4), squeeze=False,
        gridspec_kw={"height_ratios": heights},
        layout=ConstrainedLayoutEngine(h_pad=0.12, hspace=0.04),  # room between a panel's axis label and the next title
    )
    prefixes: set[str] = set()
    colours = source_colours(metrics)
    for position, report in enumerate(metrics):
        prefixes |= _lift_panel(axes[2 * position, 0], report, confidence, colours)
        prefixes |= _rates_panel(axes[2 * position + 1, 0], report, mdates, colours)
    if prefixes:
        footnote = f"{ARN_MARK} recorded as an ARN (events with only a recommendationId): " + "\n   ".join(
            f"{prefix}<name>" for prefix in sorted(prefixes)
        )  # one ARN start per line: two side by side would not fit the page
        figure.supxlabel(footnote, fontsize="small", x=0.01, ha="left")
    return figure


def _lift_panel(axis, report: MetricReport, confidence: float, colours: dict) -> set[str]:
    compared = [s for s in report.sources if s.lift is not None and s.lift.rate_lift.estimate is not None]
    baseline_label, baseline_prefix = short_label(report.baseline) if report.baseline else ("no baseline", None)
    title = f"{report.metric}: rate lift vs {baseline_label}, {confidence * 100:g}% interval over the window both were live"
    if len(compared) > TOP_LIFTS:
        title += f" (top {TOP_LIFTS} of {plural(len(compared), 'source')} by total)"
        compared = compared[:TOP_LIFTS]
    axis.set_title(title, fontsize="medium", loc="left")
    prefixes = {baseline_prefix} if baseline_prefix else set()
    if not compared:
        axis.text(0.5, 0.5, report.baseline_note or "no source to compare", ha="center", va="center", transform=axis.transAxes)
        axis.set_axis_off()
        return prefixes
    rows = np.arange(len(compared))[::-1]
    spans = [(s.lift.window_end - s.lift.window_start).total_seconds() / 3600 for s in compared]
    longest = max(spans)
    labels = []
    for row, source, hours in zip(rows, compared, spans):
        rate_lift = source.lift.rate_lift
        colour = colours.get(source.source, "tab:gray")
        if rate_lift.low is not None and rate_lift.high is not None:
            axis.errorbar(
                [rate_lift.estimate], [row], xerr=[[rate_lift.estimate - rate_lift.low], [rate_lift.high - rate_lift.estimate]],
                fmt="o", color=colour, ecolor=colour, capsize=3,
            )  # fmt: skip
        else:
            axis.plot([rate_lift.estimate], [row], "o", color=colour, markerfacecolor="white")
        label, prefix = short_label(source.source)
        prefixes |= {prefix} if prefix else set()
        notes = [f"{hours / 24:.1f} d" if hours >= 24 else f"{hours:.0f} h"] if hours < longest else []
        notes += ["no interval"] if rate_lift.low is None else []
        labels.append(label + (f" ({', '.join(notes)})" if notes else ""))
    axis.set_yticks(rows, labels, fontsize="small")
    for tick, source in zip(axis.get_yticklabels(), compared):
        tick.set_color(colours.get(source.source, "black"))
    values = np.asarray(
        [v for s in compared for v in (s.lift.rate_lift.estimate, s.lift.rate_lift.low, s.lift.rate_lift.high) if v is not None],
        dtype=np.float64,
    )
    positive = values[values > 0]
    if positive.size:
        from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator

        axis.set_xscale("log")
        low, high = min(positive.min(), 1.0) / 1.3, max(positive.max(), 1.0) * 1.3
        axis.set_xlim(low, high)
        axis.xaxis.set_major_locator(FixedLocator(lift_ticks(low, high)))
        axis.xaxis.set_minor_locator(LogLocator(subs="all"))
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}x"))
        axis.xaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    axis.axvline(1.0, color=BASELINE_COLOUR, linewidth=1, linestyle="--")
    axis.set_ylim(-0.7, len(compared) - 0.3)
    window = f"{longest / 24:.1f} d" if longest >= 24 else f"{longest:.0f} h"
    axis.set_xlabel(f"rate lift (source's rate / baseline's rate; 1x = the same); window {window} unless noted", fontsize="small")
    axis.grid(True, axis="x", alpha=0.3, which="both")
    return prefixes


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


def _rates_panel(axis, report: MetricReport, mdates, colours: dict) -> set[str]:
    over_time = report.rates_over_time
    starts = over_time.starts
    ordered = [s.source for s in report.sources]
    shown = ordered[:TOP_LINES]
    if report.baseline and report.baseline not in shown:  # the baseline is what every lift refers to
        shown = shown[:-1] + [report.baseline]
    rest = [source for source in ordered if source not in shown]
    prefixes = set()

    def series(source: str) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in over_time.per_hour[source]], dtype=float)

    for source in shown:
        is_baseline = source == report.baseline
        label, prefix = short_label(source)
        prefixes |= {prefix} if prefix else set()
        axis.plot(
            starts, series(source), marker="o", markersize=3, color=colours.get(source),
            linestyle="--" if is_baseline else "-",
            label=f"{label} (baseline)" if is_baseline else label,
        )  # fmt: skip
    if rest:
        stacked = np.vstack([series(source) for source in rest])
        live = ~np.isnan(stacked)
        # The mean per source keeps "other" on the scale of the lines it sits beside (a sum would dwarf them).
        other = np.where(live.any(axis=0), np.nansum(stacked, axis=0) / np.maximum(live.sum(axis=0), 1), np.nan)
        axis.plot(starts, other, marker="o", markersize=3, color="gray", linestyle=":", label=f"other: mean of {plural(len(rest), 'source')}")
    axis.set_title(f"{report.metric}: rate per hour, by {over_time.period}; gaps: not live or no traffic", fontsize="medium", loc="left")
    if len(starts) == 1:  # one period: without limits the date axis would span years
        step = timedelta(days=1) if over_time.period == "day" else timedelta(hours=1)
        axis.set_xlim(starts[0] - step, starts[0] + step)
    axis.set_ylabel(unit_per_hour(report), fontsize="small")
    axis.set_xlabel(f"{over_time.period} (UTC)", fontsize="small")
    axis.set_ylim(bottom=0)
    axis.grid(True, alpha=0.3)
    axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(axis.xaxis.get_major_locator()))
    axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return prefixes
