"""Text tables and JSON for the report's figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from tools._cli import format_number, format_table
from tools.impact.figures import Analysis, Interval, MetricReport, SourceFigures

RATES_TABLE_SOURCES = 8  # the rates-over-time table shows the biggest sources; JSON has all


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "n/a"


def _span(first_hour: datetime, last_hour: datetime) -> str:
    """The hours with rows, end exclusive: `2024-01-01 00:00 to 01:00` for rows within one hour."""
    end = last_hour + timedelta(hours=1)
    return f"{_when(first_hour)} to {end:%H:%M}" if end.date() == first_hour.date() else f"{_when(first_hour)} to {_when(end)}"


def _days(hours: float) -> str:
    return f"{hours / 24:.1f} d" if hours >= 24 else f"{hours:.1f} h"


def _interval(value: Interval | None, digits: int = 2, suffix: str = "") -> tuple[str, str]:
    if value is None:
        return "", ""
    if value.estimate is None:
        return "n/a", value.note or ""
    estimate = f"{value.estimate:,.{digits}f}{suffix}"
    if value.low is None or value.high is None:
        return estimate, value.note or "n/a"
    return estimate, f"{value.low:,.{digits}f} - {value.high:,.{digits}f}"


def format_text(analysis: Analysis, confidence: float) -> str:
    level = f"{confidence * 100:g}%"
    blocks = [_metric_text(report, level) for report in analysis.metrics]
    for derived in analysis.derived:
        lines = [f"{derived.label} = {derived.expression} (over each source's live hours)"]
        if derived.note:
            lines.append(f"  not reported: {derived.note}")
        else:
            rows = [[item.source, *_interval(item.value, 4)] for item in derived.sources]
            lines.append(format_table(["source", derived.name, f"{level} CI"], rows, right_align={1, 2}))
        blocks.append("\n".join(lines))
    blocks.append(
        "volume share: a source's part of the metric's total (mostly reflects how much traffic it got).\n"
        "live: the source's clock hours from its first to its last, pauses excluded (hours without its rows that its\n"
        "  usual activity makes improbable, or without recommendations served where that is known).\n"
        "per hour: total per clock hour live (--rate-hours active: per hour in which any source had rows).\n"
        "rate lift: the source's rate / the baseline's rate over the hours both were live (the window).\n"
        f"intervals: {analysis.method}."
    )
    return "\n\n".join(blocks)


def _metric_text(report: MetricReport, level: str) -> str:
    details = "; ".join(
        part
        for part in (
            f"event type {', '.join(report.event_types)}" if report.event_types else "",
            ", ".join(report.math_functions),
        )
        if part
    )
    title = (
        f"{report.metric}" + (f" ({details})" if details else "")
        + f": {_span(report.first_hour, report.last_hour)} UTC, total {format_number(report.total)}"
        + (f"; lift vs baseline {report.baseline}" if report.baseline else "")
    )
    has_exposure = any(s.per_1000 is not None for s in report.sources)
    headers = ["source", "total", "volume share", "live from (UTC)", "live", "per hour"]
    if has_exposure:
        headers += ["per 1,000 recs", "per-1,000 lift"]
    headers += ["rate lift", f"{level} CI", "window (UTC)"]
    adjusted = any(s.lift is not None and s.lift.adjusted is not None for s in report.sources)
    if adjusted:
        headers += ["Holm p", "simultaneous CI"]
    rows = [_source_row(source, has_exposure, adjusted) for source in report.sources]
    numeric = set(range(1, len(headers))) - {3, headers.index("window (UTC)")}
    lines = [title, format_table(headers, rows, right_align=numeric)]
    if report.baseline_note:
        lines.append(f"({report.baseline_note})")
    for source in report.sources:
        for pause in source.pauses:
            lines.append(
                f"{source.source}: paused {_when(pause.start)} to {_when(pause.end)} UTC ({_days(pause.hours)}, "
                f"no rows where ~{pause.expected_hours:,.0f} hours with rows were expected): not counted as live"
            )
        for warning in dict.fromkeys(source.per_hour.warnings + (source.lift.warnings if source.lift else [])):
            lines.append(f"warning: {source.source}: {warning}")
    lines += ["", _rates_text(report)]
    return "\n".join(lines)


def _source_row(source: SourceFigures, has_exposure: bool, adjusted: bool) -> list[str]:
    row = [
        source.source,
        format_number(source.total),
        f"{source.volume_share * 100:.1f}%" if source.volume_share is not None else "n/a",
        _when(source.live_start),
        _days(source.live_hours),
        _interval(source.per_hour)[0],
    ]
    if has_exposure:
        row.append(_interval(source.per_1000)[0])
        row.append(_interval(source.lift.per_1000_lift, suffix="x")[0] if source.lift and source.lift.per_1000_lift else "")
    blank = ["", ""] if adjusted else []
    if source.is_baseline:
        row += ["baseline", "", "", *blank]
    elif source.lift is None:
        row += ["", "", "", *blank]
    else:
        lift, interval = _interval(source.lift.rate_lift, suffix="x")
        window = (
            f"{_when(source.lift.window_start)} +{_days((source.lift.window_end - source.lift.window_start).total_seconds() / 3600)}"
            if source.lift.window_start and source.lift.window_end
            else ""
        )
        row += [lift, interval, window]
        if adjusted:
            p_adjusted = source.lift.p_adjusted
            row += ["" if p_adjusted is None else f"{p_adjusted:.3f}", _interval(source.lift.adjusted, suffix="x")[1]]
    return row


def _rates_text(report: MetricReport) -> str:
    over_time = report.rates_over_time
    shown = [s.source for s in report.sources[:RATES_TABLE_SOURCES]]
    fmt = "%Y-%m-%d" if over_time.period == "day" else "%Y-%m-%d %H:00"
    rows = [
        [f"{start:{fmt}}"]
        + [f"{over_time.per_hour[s][i]:,.2f}" if over_time.per_hour[s][i] is not None else "-" for s in shown]
        for i, start in enumerate(over_time.starts)
    ]
    more = len(report.sources) - len(shown)
    note = f" ({more} smaller sources in --json)" if more > 0 else ""
    title = f"per hour, by {over_time.period} (UTC; '-': not live){note}:"
    return title + "\n" + format_table([over_time.period, *shown], rows, right_align=set(range(1, len(shown) + 1)))


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    if isinstance(value, np.generic):  # numpy scalars from the arrays
        return value.item()
    return value


def to_json(analysis: Analysis, load: dict[str, Any], settings: dict[str, Any], warnings: Sequence[str]) -> dict[str, Any]:
    return {
        "settings": settings,
        **load,
        "warnings": list(warnings),
        "interval_method": analysis.method,
        "metrics": [_encode(asdict(report)) for report in analysis.metrics],
        "derived": [_encode(asdict(report)) for report in analysis.derived],
    }
