"""Reading attribution report CSVs (a local folder or an S3 prefix) into an embedded DuckDB table.

Each file (the format: report_csv) is loaded by DuckDB's CSV reader (fast, no Python per row)
and checked with SQL; only a file that fails that check is parsed again row by row in Python
(report_csv.parse_report), which names the file and line of every problem (and skips or, with
--strict, rejects those rows). The rows land in table `loaded_reports` with the columns of
sql.REPORT_COLUMNS plus `file_id` (the file's number in `files`; a small integer keeps memory
down), so the same queries run here and on Athena.
Which files count is decided per whole file (file_plan: FULL and INCREMENTAL imports, copies).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from tools._cli import CliError
from stacks.report_sql import REPORT_COLUMNS, file_steps, final_select
from tools.impact.report_csv import MAX_TIMESTAMP, MIN_TIMESTAMP, LoadResult, MetricRow, parse_report, valid_header

TABLE = "loaded_reports"
FILE_COLUMN = "file_id"
FILES_TABLE = "loaded_files"  # file_id -> name, joined in for the SQL's file rules
DUCKDB_THREADS = 2
DUCKDB_MEMORY_LIMIT = "200MB"  # beyond this DuckDB pages its tables out; keeps 1M rows under 400 MB RSS


@dataclass
class ReportFile:
    """One loaded input: a report file, or the CloudWatch rows (no digest)."""

    file_id: int
    name: str
    digest: str | None = None  # SHA-256 of the bytes


def content_copies(files: Sequence[ReportFile]) -> list[str]:
    """Names of the files whose bytes equal an earlier file's (by name): re-downloaded copies.
    Which of the other files count is the SQL's decision (sql.file_steps)."""
    seen: set[str] = set()
    copies = []
    for item in sorted(files, key=lambda f: f.name):
        if item.digest is not None and item.digest in seen:
            copies.append(item.name)
        elif item.digest is not None:
            seen.add(item.digest)
    return copies


class ReportStore:
    """An in-memory DuckDB database with the report rows of every file loaded into it."""

    def __init__(self) -> None:
        # A database file in a temporary folder rather than in memory: DuckDB compresses stored
        # tables and can page them out, which keeps a million rows well inside a small machine.
        self._folder = tempfile.TemporaryDirectory(prefix="impact-duckdb-")
        self.connection = duckdb.connect(
            str(Path(self._folder.name) / "reports.duckdb"),
            config={"threads": DUCKDB_THREADS, "memory_limit": DUCKDB_MEMORY_LIMIT},
        )
        self.connection.execute("SET enable_progress_bar = false")  # it would print into our stdout
        columns = ", ".join(f'"{name}" {_duckdb_type(kind)}' for name, kind in REPORT_COLUMNS)
        self.connection.execute(f"CREATE TABLE {TABLE} ({columns}, {FILE_COLUMN} INTEGER)")
        self.load = LoadResult()
        self.files: list[ReportFile] = []
        self.keep_copies = False  # count same-content files and same-named reports each time

    def close(self) -> None:
        self.connection.close()
        self._folder.cleanup()

    def add_file(self, path: Path, name: str, *, lenient: bool = False, strict: bool = False) -> None:
        """Load one report file; `name` (a path or s3:// URL) is what messages call it."""
        try:
            with path.open("rb") as handle:
                first_line = handle.readline()
        except OSError as exc:
            raise CliError(f"{name}: cannot read: {exc}") from None
        header = valid_header(first_line)
        record = self._file(name)
        record.digest = _digest(path)
        if header is not None and self._load_with_duckdb(path, name, header):
            self.load.files_read += 1
            return
        # Anything DuckDB's reader or the SQL check did not accept: parse in Python for exact messages.
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CliError(f"{name}: cannot read: {exc}") from None
        parsed = parse_report(data, name, lenient=lenient, strict=strict)
        self.add_rows(parsed.rows, name)
        parsed.rows = []
        self.load.add(parsed)

    def add_rows(self, rows: Iterable[MetricRow], name: str) -> None:
        rows = list(rows)
        if not rows:
            return
        # Fixed-width numpy strings: DuckDB scans object arrays value by value (slowly).
        parsed_rows = {
            "metric_name": np.array([r.metric for r in rows], dtype=str),
            "event_type": np.array([r.event_type for r in rows], dtype=str),
            "value": np.array([r.value for r in rows], dtype=np.float64),
            "math_function": np.array([r.math_function for r in rows], dtype=str),
            "event_attribution_source": np.array([r.source for r in rows], dtype=str),
            "timestamp": np.array([r.timestamp for r in rows], dtype=np.int64),
            FILE_COLUMN: np.full(len(rows), self._file_id(name), dtype=np.int32),
        }
        self.connection.register("parsed_rows", parsed_rows)
        try:
            self.connection.execute(f"INSERT INTO {TABLE} SELECT * FROM parsed_rows")
        finally:
            self.connection.unregister("parsed_rows")

    def _file(self, name: str) -> ReportFile:
        for item in self.files:
            if item.name == name:
                return item
        self.files.append(ReportFile(len(self.files), name))
        return self.files[-1]

    def _file_id(self, name: str) -> int:
        return self._file(name).file_id


    def row_count(self) -> int:
        return int(self.connection.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0])

    def aggregates(
        self,
        names: Iterable[str],
        *,
        start: int | None = None,
        end: int | None = None,
        source_aliases: Mapping[str, str] | None = None,
    ) -> dict[str, dict[str, np.ndarray]]:
        """The named queries' results: the file steps (the small per-file ones materialized once),
        then the final SELECTs (over the renamed sources with `source_aliases`, see sql.py)."""
        file_table = {FILE_COLUMN: np.arange(len(self.files), dtype=np.int32), "file_name": np.array([f.name for f in self.files], dtype=str)}
        self.connection.register("file_names", file_table)  # one statement, not one INSERT per file
        try:
            self.connection.execute(f"CREATE OR REPLACE TABLE {FILES_TABLE} ({FILE_COLUMN} INTEGER, file_name VARCHAR)")
            self.connection.execute(f"INSERT INTO {FILES_TABLE} SELECT * FROM file_names")
        finally:
            self.connection.unregister("file_names")
        steps = file_steps(
            f"{TABLE} JOIN {FILES_TABLE} USING ({FILE_COLUMN})", file_column="file_name", start=start, end=end,
            source_aliases=source_aliases, skip_files=[] if self.keep_copies else content_copies(self.files),
            same_import=not self.keep_copies,
        )
        kinds = {step: "TABLE" if step in ("report_files", "file_status") else "VIEW" for step in steps}
        for step, body in steps.items():
            self.connection.execute(f"CREATE OR REPLACE TEMP {kinds[step]} {step} AS {body}")
        try:
            aliased = bool(source_aliases)
            results = {name: self.query(final_select(name, aliased=aliased)) for name in names if aliased or name != "aliased_sources"}
        finally:
            for step in reversed(list(steps)):
                self.connection.execute(f"DROP {kinds[step]} IF EXISTS {step}")
        return results

    def query(self, sql: str) -> dict[str, np.ndarray]:
        """Run a query; the result as one numpy array per column."""
        return {name: np.asarray(values) for name, values in self.connection.execute(sql).fetchnumpy().items()}

    def _load_with_duckdb(self, path: Path, name: str, header: list[str]) -> bool:
        """Typed CSV read, then one SQL check; False (nothing loaded) if any row would need a message."""
        position = {cell.strip().upper(): index for index, cell in enumerate(header)}
        types = {position["VALUE"]: "DOUBLE", position["TIMESTAMP"]: "BIGINT"}
        columns = "{" + ", ".join(f"'c{i}': '{types.get(i, 'VARCHAR')}'" for i in range(len(header))) + "}"

        def column(csv_name: str) -> str:
            return f"c{position[csv_name]}"

        file_id = self._file_id(name)
        try:
            self.connection.execute(
                f"""INSERT INTO {TABLE}
                SELECT trim({column('METRIC_NAME')}), coalesce(trim({column('EVENT_TYPE')}), ''), {column('VALUE')},
                       coalesce(trim({column('MATH_FUNCTION')}), ''), trim({column('EVENT_ATTRIBUTION_SOURCE')}),
                       {column('TIMESTAMP')}, {file_id}
                FROM read_csv(?, header = true, columns = {columns}, delim = ',', quote = '"', escape = '"',
                              auto_detect = false, strict_mode = true)""",
                [str(path)],
            )
        except duckdb.Error:
            return False
        # Rows are appended in file order, so DuckDB's min/max per row group skips other files here.
        [(bad,)] = self.connection.execute(
            f"""SELECT count(*) FROM {TABLE}
            WHERE {FILE_COLUMN} = {file_id} AND (
                  metric_name IS NULL OR metric_name = '' OR event_attribution_source IS NULL
               OR event_attribution_source = '' OR value IS NULL OR NOT isfinite(value)
               OR "timestamp" IS NULL OR "timestamp" NOT BETWEEN {MIN_TIMESTAMP} AND {MAX_TIMESTAMP})"""
        ).fetchall()
        if bad:
            self.connection.execute(f"DELETE FROM {TABLE} WHERE {FILE_COLUMN} = {file_id}")
            return False
        return True


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _duckdb_type(athena_type: str) -> str:
    return {"string": "VARCHAR", "double": "DOUBLE", "bigint": "BIGINT"}[athena_type]


def local_report_files(path: Path) -> list[Path]:
    """Every *.csv under a folder (recursively), or the one file given."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise CliError(f"--dir {path}: no such folder")
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == ".csv")


def parse_s3_url(url: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([^/]+)/?(.*)", url.strip())
    if not match:
        raise CliError(f"--s3 {url!r}: expected s3://bucket/prefix/")
    return match.group(1), match.group(2)


def s3_report_keys(s3_client: Any, url: str) -> tuple[str, list[str]]:
    """The bucket and the *.csv keys under an S3 prefix, in key order.

    The prefix is a folder: `…/retail` reads `…/retail/…` (or the object `…/retail` itself),
    never `…/retail2/…`.
    """
    bucket, prefix = parse_s3_url(url)
    folder = prefix if not prefix or prefix.endswith("/") else prefix + "/"
    keys: list[str] = []
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if (key == prefix or key.startswith(folder)) and key.lower().endswith(".csv"):
                keys.append(key)
    return bucket, sorted(keys)


def load_local(store: ReportStore, path: Path, *, lenient: bool = False, strict: bool = False) -> None:
    files = local_report_files(path)
    if not files:
        raise CliError(f"no CSV report files found in {path}")
    for csv_path in files:
        store.add_file(csv_path, str(csv_path), lenient=lenient, strict=strict)


def load_s3(store: ReportStore, s3_client: Any, url: str, *, lenient: bool = False, strict: bool = False) -> None:
    """Stream each object to a temporary file (never all in memory) and load it."""
    bucket, keys = s3_report_keys(s3_client, url)
    if not keys:
        raise CliError(f"no CSV report files found in {url}")
    with tempfile.TemporaryDirectory(prefix="impact-report-") as folder:
        local = Path(folder) / "report.csv"
        for key in keys:
            body = s3_client.get_object(Bucket=bucket, Key=key)["Body"]
            try:
                with local.open("wb") as handle:
                    shutil.copyfileobj(body, handle)
            finally:
                body.close()
            store.add_file(local, f"s3://{bucket}/{key}", lenient=lenient, strict=strict)
