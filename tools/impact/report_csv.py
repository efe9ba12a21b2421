"""One attribution report CSV parsed row by row in Python: the rows, and a message naming the file
and line of every problem (the reader of files DuckDB's CSV reader or the SQL check did not accept).

Report CSV format (Amazon Personalize developer guide): files named like
`AggregatedAttributionMetrics - ImportMethod - Timestamp.csv`, header
`METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP`, one row per
metric, source and 15-minute bucket, TIMESTAMP in epoch seconds.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any

from tools._cli import CliError

CSV_COLUMNS = ("METRIC_NAME", "EVENT_TYPE", "VALUE", "MATH_FUNCTION", "EVENT_ATTRIBUTION_SOURCE", "TIMESTAMP")
# Plausible epoch seconds (2000-01-01 .. 2100-01-01): catches milliseconds and cut-off digits.
MIN_TIMESTAMP, MAX_TIMESTAMP = 946_684_800, 4_102_444_800
WARNINGS_PER_FILE = 10


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
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _reject_file(result, f"{name}: not UTF-8 text (byte {exc.start})", lenient)
    if not text.strip():
        result.files_read, result.files_skipped = 0, 1
        result.warnings.append(f"{name}: empty file; skipped")
        return result

    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except csv.Error as exc:
        return _reject_file(result, f"{name}, line 1: unreadable header: {exc}", lenient)
    columns = {cell.strip().upper(): index for index, cell in enumerate(header)}
    missing = [column for column in CSV_COLUMNS if column not in columns]
    if missing:
        return _reject_file(
            result,
            f"{name}, line 1: header {','.join(header)!r} lacks {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}",
            lenient,
        )
    skipped = _SkippedRows(name, strict, result)
    _read_rows(reader, len(header), {column: columns[column] for column in CSV_COLUMNS}, text, skipped)
    skipped.finish()
    return result


def _reject_file(result: LoadResult, message: str, lenient: bool) -> LoadResult:
    if not lenient:
        raise ReportFileError(f"{message} (use --lenient to skip such files)")
    result.files_read, result.files_skipped = 0, 1
    result.warnings.append(f"{message}; file skipped")
    return result


@dataclass
class _SkippedRows:
    """Malformed rows of one file: counted, the first WARNINGS_PER_FILE named (an error with `strict`)."""

    name: str
    strict: bool
    result: LoadResult
    count: int = 0

    def skip(self, line: int, problem: str) -> None:
        message = f"{self.name}, line {line}: {problem}"
        if self.strict:
            raise ReportFileError(f"{message} (without --strict such rows are skipped)")
        self.result.rows_skipped += 1
        self.count += 1
        if self.count <= WARNINGS_PER_FILE:
            self.result.warnings.append(f"{message}; row skipped")

    def finish(self) -> None:
        if self.count > WARNINGS_PER_FILE:
            self.result.warnings.append(f"{self.name}: {self.count - WARNINGS_PER_FILE} more rows skipped")


def _read_rows(reader: Any, fields: int, index: dict[str, int], text: str, skipped: _SkippedRows) -> None:
    """The rows after the header into `skipped.result`; each malformed one to `skipped`."""
    ends_with_newline = text.endswith(("\n", "\r"))
    last_line = len(text.splitlines())  # csv's line_num of the file's last row
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            skipped.skip(reader.line_num, f"unreadable CSV: {exc}")
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        truncated_hint = " (truncated last line?)" if line == last_line and not ends_with_newline else ""
        if len(row) != fields:
            skipped.skip(line, f"expected {fields} fields, found {len(row)}{truncated_hint}")
            continue
        problem, parsed = _parse_row(row, index, f"{skipped.name}, line {line}")
        if parsed is None:  # then `problem` says why
            skipped.skip(line, f"{problem}{truncated_hint}")
            continue
        skipped.result.rows.append(parsed)


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


def valid_header(data: bytes) -> list[str] | None:
    """The header cells when the first line is UTF-8 and names every report column, else None."""
    first_line = data.split(b"\n", 1)[0]
    try:
        text = first_line.decode("utf-8-sig")
        header = next(csv.reader([text.rstrip("\r")]))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        return None
    names = [cell.strip().upper() for cell in header]
    if any(column not in names for column in CSV_COLUMNS) or len(set(names)) != len(names):
        return None
    return header
