"""Compare Amazon Personalize metric attribution sources from attribution reports.

Reads the CSV reports a metric attribution writes to S3 (`--s3 s3://bucket/prefix/`), the
same files copied to a folder (`--dir`), or the metrics it publishes to CloudWatch
(`--cloudwatch`), and prints per metric and attribution source: total, share of the
metric's total, mean per 15-minute bucket and per hour, buckets with data, and the lift of
each source over a baseline source with a confidence interval, plus rates over time.

Method. A metric's *active buckets* are the 15-minute buckets in which any source of that
metric has a value; a source without a row in an active bucket counts 0 there (nothing
attributed to it while traffic flowed), buckets where nothing at all was reported are left
out (no traffic or no data, e.g. between imports). Mean rates are totals over active
buckets. Lift of source S over baseline B is mean_S / mean_B over the same buckets
(= total_S / total_B). Its confidence interval is, by default, a paired percentile
bootstrap over the active buckets (resampling whole buckets keeps the correlation between
sources in the same quarter hour, e.g. time of day; fixed seed, so output is repeatable);
`--ci delta` uses the delta method on log(mean_S / mean_B) with the buckets' sample
variances and covariance instead (normal approximation, fast, poorer with few buckets).

Report CSV format (Amazon Personalize developer guide): files named like
`AggregatedAttributionMetrics - ImportMethod - Timestamp.csv`, header
`METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP`, one row
per metric, source and 15-minute bucket, TIMESTAMP in epoch seconds. The documented
example's timestamps are not multiples of 900 s, so rows are put in the 900 s bucket that
contains their timestamp, and rows for the same metric, source and bucket are added up
(the documented example has such repeats; reports of different import jobs cover
different events).

Usage:
    python -m tools.report --s3 s3://my-bucket/metric-attribution/ --png impact.png
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from tools._cli import (
    EXIT_OK,
    ArgumentParser,
    ClientFactory,
    CliError,
    add_aws_arguments,
    boto3_client_factory,
    format_number,
    format_table,
    parse_timestamp,
    run_main,
)

PROG = "report"
REPORT_COLUMNS = ("METRIC_NAME", "EVENT_TYPE", "VALUE", "MATH_FUNCTION", "EVENT_ATTRIBUTION_SOURCE", "TIMESTAMP")
BUCKET_SECONDS = 900  # metric attribution aggregates into 15-minute buckets
BUCKETS_PER_HOUR = 3600 // BUCKET_SECONDS
UNDEFINED_SOURCE = "SOURCE_NAME_UNDEFINED"
CLOUDWATCH_NAMESPACE = "AWS/Personalize"
CLOUDWATCH_MAX_QUERIES = 500  # GetMetricData limit per call
# Plausible epoch seconds (2000-01-01 .. 2100-01-01): catches milliseconds and cut-off digits.
MIN_TIMESTAMP, MAX_TIMESTAMP = 946_684_800, 4_102_444_800
WARNINGS_PER_FILE = 10
AUTO_DAILY_AFTER_HOURS = 72  # --per auto: hourly rates up to three days of data, daily beyond


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class MetricRow:
    metric: str
    event_type: str
    value: float
    math_function: str
    source: str
    timestamp: int
    origin: str = ""  # "file, line N" for messages


@dataclass
class LoadResult:
    rows: list[MetricRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files_read: int = 0
    files_skipped: int = 0
    rows_skipped: int = 0

    def add(self, other: LoadResult) -> None:
        self.rows.extend(other.rows)
        self.warnings.extend(other.warnings)
        self.files_read += other.files_read
        self.files_skipped += other.files_skipped
        self.rows_skipped += other.rows_skipped


class ReportFileError(CliError):
    """A report file that cannot be used at all (wrong header, not text)."""


def parse_report(data: bytes, name: str, *, lenient: bool = False, strict: bool = False) -> LoadResult:
    """Parse one attribution report CSV.

    A file with a wrong header or that is not UTF-8 text raises ReportFileError, or with
    `lenient` is skipped with a warning. A malformed row (field count, non-numeric VALUE or
    TIMESTAMP, empty name or source, a cut-off last line) is skipped and counted, or with
    `strict` raises ReportFileError. An empty file is skipped with a warning.
    """
    result = LoadResult(files_read=1)

    def reject_file(message: str) -> LoadResult:
        if not lenient:
            raise ReportFileError(f"{message} (use --lenient to skip such files)")
        result.files_read, result.files_skipped = 0, 1
        result.warnings.append(f"{message}; file skipped")
        return result

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return reject_file(f"{name}: not UTF-8 text (byte {exc.start})")
    if not text.strip():
        result.files_read, result.files_skipped = 0, 1
        result.warnings.append(f"{name}: empty file; skipped")
        return result

    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except csv.Error as exc:
        return reject_file(f"{name}, line 1: unreadable header: {exc}")
    columns = {cell.strip().upper(): index for index, cell in enumerate(header)}
    missing = [column for column in REPORT_COLUMNS if column not in columns]
    if missing:
        return reject_file(
            f"{name}, line 1: header {','.join(header)!r} lacks {', '.join(missing)}; "
            f"expected {','.join(REPORT_COLUMNS)}"
        )
    index = {column: columns[column] for column in REPORT_COLUMNS}
    ends_with_newline = text.endswith(("\n", "\r"))
    last_line = len(text.splitlines())  # csv's line_num of the file's last row
    file_warnings = 0

    def skip(line: int, problem: str) -> None:
        nonlocal file_warnings
        message = f"{name}, line {line}: {problem}"
        if strict:
            raise ReportFileError(f"{message} (without --strict such rows are skipped)")
        result.rows_skipped += 1
        file_warnings += 1
        if file_warnings <= WARNINGS_PER_FILE:
            result.warnings.append(f"{message}; row skipped")

    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            skip(reader.line_num, f"unreadable CSV: {exc}")
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        is_last = line == last_line
        truncated_hint = " (truncated last line?)" if is_last and not ends_with_newline else ""
        if len(row) != len(header):
            skip(line, f"expected {len(header)} fields, found {len(row)}{truncated_hint}")
            continue
        problem, parsed = _parse_row(row, index, f"{name}, line {line}")
        if problem:
            skip(line, problem + truncated_hint)
            continue
        result.rows.append(parsed)
    if file_warnings > WARNINGS_PER_FILE:
        result.warnings.append(f"{name}: {file_warnings - WARNINGS_PER_FILE} more rows skipped")
    return result


def _parse_row(row: list[str], index: dict[str, int], origin: str) -> tuple[str | None, MetricRow | None]:
    metric = row[index["METRIC_NAME"]].strip()
    source = row[index["EVENT_ATTRIBUTION_SOURCE"]].strip()
    value_text = row[index["VALUE"]].strip()
    timestamp_text = row[index["TIMESTAMP"]].strip()
    if not metric:
        return "empty METRIC_NAME", None
    if not source:
        return "empty EVENT_ATTRIBUTION_SOURCE", None
    try:
        value = float(value_text)
    except ValueError:
        return f"VALUE {value_text!r} is not a number", None
    if not math.isfinite(value):
        return f"VALUE {value_text!r} is not a finite number", None
    try:
        timestamp_float = float(timestamp_text)
    except ValueError:
        return f"TIMESTAMP {timestamp_text!r} is not a number of epoch seconds", None
    if not (math.isfinite(timestamp_float) and timestamp_float.is_integer()):
        return f"TIMESTAMP {timestamp_text!r} is not whole epoch seconds", None
    timestamp = int(timestamp_float)
    if not MIN_TIMESTAMP <= timestamp <= MAX_TIMESTAMP:
        return f"TIMESTAMP {timestamp_text!r} is not plausible epoch seconds (years 2000-2100)", None
    return None, MetricRow(
        metric=metric,
        event_type=row[index["EVENT_TYPE"]].strip(),
        value=value,
        math_function=row[index["MATH_FUNCTION"]].strip(),
        source=source,
        timestamp=timestamp,
        origin=origin,
    )


def iter_local_reports(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, content) of every *.csv under a folder (recursively), or of one file."""
    if path.is_file():
        yield str(path), path.read_bytes()
        return
    if not path.is_dir():
        raise CliError(f"--dir {path}: no such folder")
    for csv_path in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".csv"):
        try:
            yield str(csv_path), csv_path.read_bytes()
        except OSError as exc:
            raise CliError(f"{csv_path}: cannot read: {exc}") from None


def parse_s3_url(url: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([^/]+)/?(.*)", url.strip())
    if not match:
        raise CliError(f"--s3 {url!r}: expected s3://bucket/prefix/")
    return match.group(1), match.group(2)


def iter_s3_reports(s3_client: Any, url: str) -> Iterator[tuple[str, bytes]]:
    """(s3 url, content) of every *.csv object under an S3 prefix, in key order."""
    bucket, prefix = parse_s3_url(url)
    keys: list[str] = []
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(obj["Key"] for obj in page.get("Contents", []) if obj["Key"].lower().endswith(".csv"))
    for key in sorted(keys):
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            yield f"s3://{bucket}/{key}", body.read()
        finally:
            body.close()


def load_reports(
    files: Iterable[tuple[str, bytes]], *, lenient: bool = False, strict: bool = False, source_label: str = "input"
) -> LoadResult:
    result = LoadResult()
    seen_any = False
    for name, data in files:
        seen_any = True
        result.add(parse_report(data, name, lenient=lenient, strict=strict))
    if not seen_any:
        raise CliError(f"no CSV report files found in {source_label}")
    return result


def fetch_cloudwatch_rows(
    cloudwatch: Any,
    dataset_group_arn: str,
    metric_names: Sequence[str],
    start: datetime,
    end: datetime,
) -> LoadResult:
    """Read metric attribution metrics back from CloudWatch as report rows.

    Namespace AWS/Personalize, metric name = the metric's name upper-cased, dimensions
    DatasetGroupArn and EventAttributionSource (the source upper-cased). Sum per 900 s
    period: each published datapoint is one bucket's value (count or sum), so Sum over the
    period is the bucket value for SAMPLECOUNT and SUM metrics alike. With no metric names,
    every metric of the dataset group that has an EventAttributionSource dimension is read.
    """
    result = LoadResult()
    wanted = [name.upper() for name in metric_names] or [None]
    found: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
    for metric_name in wanted:
        params: dict[str, Any] = {
            "Namespace": CLOUDWATCH_NAMESPACE,
            "Dimensions": [{"Name": "DatasetGroupArn", "Value": dataset_group_arn}],
        }
        if metric_name:
            params["MetricName"] = metric_name
        count_before = len(found)
        for page in cloudwatch.get_paginator("list_metrics").paginate(**params):
            for metric in page.get("Metrics", []):
                dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                if "EventAttributionSource" not in dimensions:
                    continue
                # ListMetrics may list a metric more than once; a sorted dimension tuple dedupes.
                key = (metric["MetricName"], tuple(sorted(dimensions.items())))
                found.setdefault(key, metric)
        if metric_name and len(found) == count_before:
            result.warnings.append(
                f"CloudWatch has no {CLOUDWATCH_NAMESPACE} metric {metric_name} with an EventAttributionSource "
                f"for {dataset_group_arn} (metrics appear after events are recorded; "
                "only the last two weeks are listed)"
            )
    metrics = list(found.values())
    start = _floor_to_bucket(start)
    for first in range(0, len(metrics), CLOUDWATCH_MAX_QUERIES):
        chunk = metrics[first : first + CLOUDWATCH_MAX_QUERIES]
        queries = [
            {
                "Id": f"m{position}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": CLOUDWATCH_NAMESPACE,
                        "MetricName": metric["MetricName"],
                        "Dimensions": metric["Dimensions"],
                    },
                    "Period": BUCKET_SECONDS,
                    "Stat": "Sum",
                },
                "ReturnData": True,
            }
            for position, metric in enumerate(chunk)
        ]
        series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
        token = None
        while True:
            request: dict[str, Any] = {
                "MetricDataQueries": queries,
                "StartTime": start,
                "EndTime": end,
                "ScanBy": "TimestampAscending",
            }
            if token:
                request["NextToken"] = token
            response = cloudwatch.get_metric_data(**request)
            for data in response.get("MetricDataResults", []):
                series[data["Id"]].extend(zip(data.get("Timestamps", []), data.get("Values", [])))
            token = response.get("NextToken")
            if not token:
                break
        for position, metric in enumerate(chunk):
            dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            for stamp, value in series.get(f"m{position}", []):
                result.rows.append(
                    MetricRow(
                        metric=metric["MetricName"],
                        event_type="",
                        value=float(value),
                        math_function="Sum",
                        source=dimensions["EventAttributionSource"],
                        timestamp=int(stamp.timestamp()),
                        origin=f"CloudWatch {metric['MetricName']}",
                    )
                )
    result.files_read = len(metrics)
    return result


def _floor_to_bucket(moment: datetime) -> datetime:
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % BUCKET_SECONDS, tz=UTC)


# --------------------------------------------------------------------------- statistics


@dataclass
class Lift:
    ratio: float | None
    low: float | None
    high: float | None
    method: str
    note: str | None = None


@dataclass
class SourceSummary:
    source: str
    total: float
    share: float | None
    buckets_with_data: int
    mean_per_bucket: float
    mean_per_hour: float
    is_baseline: bool = False
    lift: Lift | None = None


@dataclass
class PeriodRates:
    start: datetime
    active_buckets: int
    totals: dict[str, float]
    per_hour: dict[str, float]


@dataclass
class MetricSummary:
    metric: str
    event_types: list[str]
    math_functions: list[str]
    total: float
    active_buckets: int
    first_bucket: datetime
    last_bucket: datetime
    sources: list[SourceSummary]
    baseline: str | None
    baseline_note: str | None
    period: str
    periods: list[PeriodRates]


def summarize(
    rows: Sequence[MetricRow],
    *,
    baseline: str | None = None,
    ci_method: str = "bootstrap",
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    period: str = "auto",
    metrics: Sequence[str] = (),
) -> list[MetricSummary]:
    """Per-metric, per-source totals, shares, rates, lift over `baseline` and rates per period."""
    wanted = {name.upper() for name in metrics}
    by_metric: dict[str, list[MetricRow]] = defaultdict(list)
    for row in rows:
        if not wanted or row.metric.upper() in wanted:
            by_metric[row.metric.upper()].append(row)
    return [
        _summarize_metric(metric_rows, baseline, ci_method, confidence, resamples, seed, period)
        for _, metric_rows in sorted(by_metric.items())
    ]


def _summarize_metric(
    rows: list[MetricRow],
    baseline: str | None,
    ci_method: str,
    confidence: float,
    resamples: int,
    seed: int,
    period: str,
) -> MetricSummary:
    cells: dict[tuple[str, int], float] = defaultdict(float)
    for row in rows:
        cells[(row.source, row.timestamp - row.timestamp % BUCKET_SECONDS)] += row.value
    buckets = sorted({bucket for _, bucket in cells})
    sources = sorted({source for source, _ in cells})
    bucket_position = {bucket: i for i, bucket in enumerate(buckets)}
    source_position = {source: i for i, source in enumerate(sources)}
    values = np.zeros((len(sources), len(buckets)))
    with_data = [0] * len(sources)
    for (source, bucket), value in cells.items():
        values[source_position[source], bucket_position[bucket]] = value
        with_data[source_position[source]] += 1
    totals = values.sum(axis=1)
    grand_total = float(totals.sum())
    n = len(buckets)

    baseline_index, baseline_note = _resolve_baseline(sources, baseline)
    lifts: list[Lift | None] = [None] * len(sources)
    if baseline_index is not None:
        lifts = _lifts(values, baseline_index, ci_method, confidence, resamples, seed)

    summaries = [
        SourceSummary(
            source=source,
            total=float(totals[i]),
            share=float(totals[i] / grand_total) if grand_total else None,
            buckets_with_data=with_data[i],
            mean_per_bucket=float(totals[i] / n),
            mean_per_hour=float(totals[i] / n * BUCKETS_PER_HOUR),
            is_baseline=i == baseline_index,
            lift=lifts[i],
        )
        for i, source in enumerate(sources)
    ]
    summaries.sort(key=lambda s: (-s.total, s.source))
    chosen_period = period
    if period == "auto":
        span_hours = (buckets[-1] - buckets[0]) / 3600
        chosen_period = "hour" if span_hours <= AUTO_DAILY_AFTER_HOURS else "day"
    return MetricSummary(
        metric=rows[0].metric,
        event_types=sorted({row.event_type for row in rows if row.event_type}),
        math_functions=sorted({row.math_function for row in rows if row.math_function}),
        total=grand_total,
        active_buckets=n,
        first_bucket=_utc(buckets[0]),
        last_bucket=_utc(buckets[-1]),
        sources=summaries,
        baseline=sources[baseline_index] if baseline_index is not None else None,
        baseline_note=baseline_note,
        period=chosen_period,
        periods=_period_rates(values, sources, buckets, chosen_period),
    )


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _resolve_baseline(sources: list[str], baseline: str | None) -> tuple[int | None, str | None]:
    # Sources are matched case-insensitively: CloudWatch upper-cases them, S3 reports may not.
    folded = [source.casefold() for source in sources]
    wanted = (baseline or UNDEFINED_SOURCE).casefold()
    if wanted in folded:
        return folded.index(wanted), None
    if baseline:
        return None, f"baseline {baseline} has no data for this metric"
    return None, f"no {UNDEFINED_SOURCE} rows; pass --baseline SOURCE for lift"


def _lifts(
    values: np.ndarray, baseline: int, ci_method: str, confidence: float, resamples: int, seed: int
) -> list[Lift | None]:
    n = values.shape[1]
    means = values.mean(axis=1)
    lifts: list[Lift | None] = []
    if ci_method == "bootstrap":
        intervals = _bootstrap_intervals(values, baseline, confidence, resamples, seed)
    for i in range(values.shape[0]):
        if i == baseline:
            lifts.append(None)
            continue
        if means[baseline] <= 0:
            lifts.append(Lift(None, None, None, ci_method, "baseline total is 0"))
            continue
        ratio = float(means[i] / means[baseline])
        if n < 2:
            lifts.append(Lift(ratio, None, None, ci_method, "a confidence interval needs at least 2 buckets"))
        elif ci_method == "bootstrap":
            low, high = intervals[i]
            lifts.append(Lift(ratio, low, high, ci_method))
        else:
            low, high = _delta_interval(values[i], values[baseline], confidence)
            lifts.append(Lift(ratio, low, high, ci_method))
    return lifts


def _bootstrap_intervals(
    values: np.ndarray, baseline: int, confidence: float, resamples: int, seed: int
) -> list[tuple[float | None, float | None]]:
    """Paired percentile bootstrap of total_S / total_B over buckets, all sources at once.

    A resample of n buckets with replacement is a multinomial count per bucket, so each
    resample's totals are one matrix product; resamples are drawn in chunks to bound memory.
    """
    source_count, n = values.shape
    if n < 2:
        return [(None, None)] * source_count
    rng = np.random.default_rng(seed)
    chunk = max(1, min(resamples, 2_000_000 // n))
    resampled: list[np.ndarray] = []
    done = 0
    while done < resamples:
        size = min(chunk, resamples - done)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=size)  # (size, n)
        resampled.append(weights @ values.T)  # (size, sources): totals per resample
        done += size
    totals = np.vstack(resampled)
    baseline_totals = totals[:, baseline]
    usable = baseline_totals > 0  # a resample without baseline events has no ratio
    tail = (1 - confidence) / 2 * 100
    intervals: list[tuple[float | None, float | None]] = []
    for i in range(source_count):
        if i == baseline or usable.sum() < resamples / 2:
            intervals.append((None, None))
            continue
        ratios = totals[usable, i] / baseline_totals[usable]
        low, high = np.percentile(ratios, [tail, 100 - tail])
        intervals.append((float(low), float(high)))
    return intervals


def _delta_interval(source: np.ndarray, baseline: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    """Delta-method interval for mean_S/mean_B: normal on the log scale, paired buckets."""
    n = len(source)
    mean_s, mean_b = float(source.mean()), float(baseline.mean())
    if mean_s <= 0 or mean_b <= 0:
        return None, None
    covariance = np.cov(source, baseline, ddof=1)
    variance = (
        covariance[0, 0] / mean_s**2 + covariance[1, 1] / mean_b**2 - 2 * covariance[0, 1] / (mean_s * mean_b)
    ) / n
    z = statistics.NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    ratio = mean_s / mean_b
    spread = z * math.sqrt(max(variance, 0.0))
    return ratio * math.exp(-spread), ratio * math.exp(spread)


def _period_rates(values: np.ndarray, sources: list[str], buckets: list[int], period: str) -> list[PeriodRates]:
    length = 86_400 if period == "day" else 3600
    groups: dict[int, list[int]] = defaultdict(list)
    for position, bucket in enumerate(buckets):
        groups[bucket - bucket % length].append(position)
    rates = []
    for start, positions in sorted(groups.items()):
        totals = values[:, positions].sum(axis=1)
        hours = len(positions) / BUCKETS_PER_HOUR
        rates.append(
            PeriodRates(
                start=_utc(start),
                active_buckets=len(positions),
                totals={source: float(totals[i]) for i, source in enumerate(sources)},
                per_hour={source: float(totals[i] / hours) for i, source in enumerate(sources)},
            )
        )
    return rates


# --------------------------------------------------------------------------- output


def format_text(summaries: Sequence[MetricSummary], confidence: float) -> str:
    blocks = []
    level = f"{confidence * 100:g}%"
    for summary in summaries:
        details = "; ".join(
            part
            for part in (
                f"event type {', '.join(summary.event_types)}" if summary.event_types else "",
                ", ".join(summary.math_functions),
            )
            if part
        )
        title = (
            f"{summary.metric}" + (f" ({details})" if details else "")
            + f": {summary.active_buckets} active 15-minute buckets, "
            f"{summary.first_bucket:%Y-%m-%d %H:%M} to {summary.last_bucket:%Y-%m-%d %H:%M} UTC"
        )
        lift_header = f"lift vs {summary.baseline}" if summary.baseline else "lift"
        rows = []
        for source in summary.sources:
            rows.append(
                [
                    source.source,
                    format_number(source.total),
                    f"{source.share * 100:.1f}%" if source.share is not None else "n/a",
                    f"{source.mean_per_bucket:,.2f}",
                    f"{source.mean_per_hour:,.2f}",
                    str(source.buckets_with_data),
                    *_format_lift(source),
                ]
            )
        headers = ["source", "total", "share", "per bucket", "per hour", "buckets", lift_header, f"{level} CI"]
        lines = [title, format_table(headers, rows, right_align={1, 2, 3, 4, 5, 6, 7})]
        if summary.baseline_note:
            lines.append(f"({summary.baseline_note})")
        lines.append(f"total {format_number(summary.total)}; lift CI: {_method_label(summary)}")
        sources = [s.source for s in summary.sources]
        period_rows = [
            [f"{p.start:%Y-%m-%d}" if summary.period == "day" else f"{p.start:%Y-%m-%d %H:00}", str(p.active_buckets)]
            + [f"{p.per_hour[s]:,.2f}" for s in sources]
            for p in summary.periods
        ]
        lines.append("")
        lines.append(f"mean per hour, by {summary.period} (UTC, over active buckets):")
        period_headers = [summary.period, "buckets", *sources]
        lines.append(format_table(period_headers, period_rows, right_align=set(range(1, len(period_headers)))))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _method_label(summary: MetricSummary) -> str:
    methods = {s.lift.method for s in summary.sources if s.lift}
    if not methods:
        return "none"
    return "paired bootstrap over 15-minute buckets" if "bootstrap" in methods else "delta method on log ratio"


def _format_lift(source: SourceSummary) -> list[str]:
    if source.is_baseline:
        return ["baseline", ""]
    lift = source.lift
    if lift is None:
        return ["", ""]
    if lift.ratio is None:
        return ["n/a", lift.note or ""]
    interval = (
        f"{lift.low:.2f} - {lift.high:.2f}" if lift.low is not None and lift.high is not None else (lift.note or "n/a")
    )
    return [f"{lift.ratio:.2f}x", interval]


def to_json(summaries: Sequence[MetricSummary], load: LoadResult, settings: dict[str, Any]) -> dict[str, Any]:
    def encode(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(value, dict):
            return {key: encode(item) for key, item in value.items()}
        if isinstance(value, list):
            return [encode(item) for item in value]
        return value

    return {
        "settings": settings,
        "files_read": load.files_read,
        "files_skipped": load.files_skipped,
        "rows": len(load.rows),
        "rows_skipped": load.rows_skipped,
        "warnings": load.warnings,
        "metrics": [encode(asdict(summary)) for summary in summaries],
    }


def write_chart(summaries: Sequence[MetricSummary], path: Path) -> None:
    """One panel per metric: mean per hour of each source per period, as lines over time."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; must precede the pyplot import
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        len(summaries), 1, figsize=(10, 3.2 * len(summaries) + 0.8), squeeze=False, sharex=False
    )
    try:
        for axis, summary in zip(axes[:, 0], summaries):
            starts = [p.start for p in summary.periods]
            for source in summary.sources:
                axis.plot(
                    starts,
                    [p.per_hour[source.source] for p in summary.periods],
                    marker="o",
                    markersize=3,
                    linestyle="--" if source.is_baseline else "-",
                    label=source.source,
                )
            axis.set_title(f"{summary.metric}: mean per hour, by {summary.period} (UTC)")
            axis.set_ylabel("per hour")
            axis.grid(True, alpha=0.3)
            axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(axis.xaxis.get_major_locator()))
            axis.legend(fontsize="small", loc="best")
        figure.tight_layout()
        try:
            figure.savefig(path, format="png", dpi=100)
        except OSError as exc:
            raise CliError(f"--png {path}: cannot write: {exc}") from None
    finally:
        plt.close(figure)


# --------------------------------------------------------------------------- CLI


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m tools.report",
        description=(
            "Compare Amazon Personalize metric attribution sources: totals, shares, rates per "
            "15-minute bucket and per hour, and lift over a baseline source with a confidence "
            "interval (default: paired percentile bootstrap over 15-minute buckets, fixed seed; "
            "--ci delta: delta method on the log ratio), from S3 reports, a folder or CloudWatch."
        ),
        epilog="Example: python -m tools.report --s3 s3://my-bucket/metric-attribution/ --png impact.png",
    )
    inputs = parser.add_argument_group("input (one of)")
    choice = inputs.add_mutually_exclusive_group(required=True)
    choice.add_argument("--s3", metavar="S3_URL", help="read every *.csv report under s3://bucket/prefix/")
    choice.add_argument(
        "--dir", type=Path, metavar="PATH", help="read every *.csv report under a local folder (or one file)"
    )
    choice.add_argument(
        "--cloudwatch",
        action="store_true",
        help="read the AWS/Personalize metrics the metric attribution publishes (needs --dataset-group-arn)",
    )
    inputs.add_argument(
        "--dataset-group-arn", metavar="ARN", help="dataset group of the metric attribution (CloudWatch)"
    )
    inputs.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="NAME",
        help="metric name as in the metric attribution (e.g. countViews), repeatable; default: all",
    )
    inputs.add_argument("--days", type=float, default=14.0, help="CloudWatch: days back from --end (default 14)")
    inputs.add_argument("--end", help="CloudWatch: end time, ISO 8601 or epoch seconds (default now)")
    add_aws_arguments(parser)

    analysis = parser.add_argument_group("analysis")
    analysis.add_argument(
        "--baseline",
        metavar="SOURCE",
        help=f"source to compute lift against (default: {UNDEFINED_SOURCE} when present)",
    )
    analysis.add_argument(
        "--ci",
        choices=("bootstrap", "delta"),
        default="bootstrap",
        help="lift interval: paired bootstrap over 15-minute buckets (default) or delta method",
    )
    analysis.add_argument("--confidence", type=float, default=0.95, help="confidence level (default 0.95)")
    analysis.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)")
    analysis.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    analysis.add_argument(
        "--per",
        choices=("auto", "hour", "day"),
        default="auto",
        help=f"period for rates over time (default auto: hour up to {AUTO_DAILY_AFTER_HOURS} h of data, else day)",
    )

    checks = parser.add_argument_group("bad report files")
    mode = checks.add_mutually_exclusive_group()
    mode.add_argument("--lenient", action="store_true", help="skip files with a wrong header instead of failing")
    mode.add_argument("--strict", action="store_true", help="fail on a malformed row instead of skipping it")

    output = parser.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="print JSON instead of text tables")
    output.add_argument(
        "--png", type=Path, metavar="PATH", help="also write a chart of each metric per source over time"
    )
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    client_factory: ClientFactory | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    now: datetime | None = None,
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    return run_main(
        PROG, lambda: _run(list(sys.argv[1:] if argv is None else argv), client_factory, stdout, stderr, now), stderr
    )


def _run(
    argv: list[str], client_factory: ClientFactory | None, stdout: TextIO, stderr: TextIO, now: datetime | None
) -> int:
    args = build_parser().parse_args(argv)
    if not 0 < args.confidence < 1:
        raise CliError("--confidence must be between 0 and 1, e.g. 0.95")
    if args.resamples < 100:
        raise CliError("--resamples must be at least 100")
    if args.cloudwatch and not args.dataset_group_arn:
        raise CliError("--cloudwatch needs --dataset-group-arn")
    if args.dataset_group_arn and not args.cloudwatch:
        raise CliError("--dataset-group-arn only applies with --cloudwatch")
    if not (math.isfinite(args.days) and args.days > 0):
        raise CliError("--days must be above 0")
    if args.png is not None and not args.png.parent.is_dir():
        raise CliError(f"--png {args.png}: folder {args.png.parent} does not exist")

    factory = client_factory or (lambda service, **kw: boto3_client_factory(args.profile, args.region)(service, **kw))
    if args.dir is not None:
        load = load_reports(
            iter_local_reports(args.dir), lenient=args.lenient, strict=args.strict, source_label=str(args.dir)
        )
    elif args.s3 is not None:
        parse_s3_url(args.s3)  # a bad URL is reported before any client is made
        load = load_reports(
            iter_s3_reports(factory("s3"), args.s3), lenient=args.lenient, strict=args.strict, source_label=args.s3
        )
    else:
        end = parse_timestamp(args.end, "--end") if args.end else (now or datetime.now(UTC))
        load = fetch_cloudwatch_rows(
            factory("cloudwatch"), args.dataset_group_arn, args.metric, end - timedelta(days=args.days), end
        )

    for warning in load.warnings:
        print(f"{PROG}: warning: {warning}", file=stderr)
    anything_skipped = bool(load.rows_skipped or load.files_skipped)
    if not load.rows:
        detail = f" ({load.rows_skipped} malformed rows, {load.files_skipped} files skipped)" if anything_skipped else ""
        raise CliError(f"no usable metric rows{detail}")
    summaries = summarize(
        load.rows,
        baseline=args.baseline,
        ci_method=args.ci,
        confidence=args.confidence,
        resamples=args.resamples,
        seed=args.seed,
        period=args.per,
        metrics=args.metric,
    )
    if not summaries:
        available = sorted({row.metric for row in load.rows})
        raise CliError(f"no rows for --metric {', '.join(args.metric)}; the input has {', '.join(available)}")
    if args.baseline and all(summary.baseline is None for summary in summaries):
        available = sorted({s.source for summary in summaries for s in summary.sources})
        raise CliError(f"--baseline {args.baseline} not found; sources are: {', '.join(available)}")

    if args.png is not None:
        write_chart(summaries, args.png)
    settings = {
        "baseline": args.baseline,
        "ci": args.ci,
        "confidence": args.confidence,
        "resamples": args.resamples,
        "seed": args.seed,
        "per": args.per,
    }
    if args.json:
        print(json.dumps(to_json(summaries, load, settings), indent=2), file=stdout)
    else:
        skipped = f"; skipped {load.rows_skipped} rows, {load.files_skipped} files" if anything_skipped else ""
        noun = "metric series" if args.cloudwatch else "files"
        print(f"read {load.files_read} {noun}, {len(load.rows)} rows{skipped}\n", file=stdout)
        print(format_text(summaries, args.confidence), file=stdout)
        if args.png is not None:
            print(f"\nchart written to {args.png}", file=stdout)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
