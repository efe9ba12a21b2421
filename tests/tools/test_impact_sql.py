"""stacks.report_sql on DuckDB: the Athena text itself, the local materialized path, and a Python reference."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import duckdb
import numpy as np
import pytest

from tools.impact.reports import ReportStore, load_local, parse_report
from stacks.report_sql import ANALYSIS_QUERIES, REPORT_COLUMNS, named_queries

HEADER = "METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP\n"
DUCKDB_TYPES = {"string": "VARCHAR", "double": "DOUBLE", "bigint": "BIGINT"}


def python_reference(files: dict[str, bytes]) -> dict[tuple[str, str, int], tuple[float, int]]:
    """(metric, source, hour) -> (total, buckets with data), computed row by row in Python.

    Rules: names upper-cased; a row repeated across files counts as often as the one file with
    the most copies of it has it.
    """
    copies: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for name, data in files.items():
        for row in parse_report(data, name).rows:
            key = (row.metric.upper(), row.source.upper(), row.event_type, row.math_function, row.value, row.timestamp)
            copies[key][name] += 1
    totals: dict[tuple, float] = defaultdict(float)
    buckets: dict[tuple, set] = defaultdict(set)
    for (metric, source, _, _, value, timestamp), per_file in copies.items():
        hour = (metric, source, timestamp - timestamp % 3600)
        totals[hour] += value * max(per_file.values())
        buckets[hour].add(timestamp - timestamp % 900)
    return {key: (totals[key], len(buckets[key])) for key in totals}


def as_dict(result: dict[str, np.ndarray]) -> dict[tuple[str, str, int], tuple[float, int]]:
    return {
        (str(m), str(s), int(h)): (float(t), int(b))
        for m, s, h, t, b in zip(result["metric"], result["source"], result["hour_start"], result["total"], result["buckets"])
    }


@pytest.fixture
def report_files(fixtures_dir) -> dict[str, bytes]:
    files = {path.name: path.read_bytes() for path in sorted((fixtures_dir / "reports").glob("*.csv"))}
    # A re-downloaded copy of one file, and a file whose source is spelled in lower case.
    files["copy of BULK.csv"] = files["AggregatedAttributionMetrics - BULK - 1704071100.csv"]
    files["lower.csv"] = (HEADER + "countviews,VIEW,7,samplecount,source_name_undefined,1704074424\n").encode()
    return files


def test_report_columns_are_the_csv_columns_in_file_order():
    assert [name.upper() for name, _ in REPORT_COLUMNS] == HEADER.strip().split(",")
    assert dict(REPORT_COLUMNS) == {
        "metric_name": "string", "event_type": "string", "value": "double",
        "math_function": "string", "event_attribution_source": "string", "timestamp": "bigint",
    }  # fmt: skip


def test_athena_text_runs_on_duckdb_and_matches_the_python_reference(report_files):
    """The exact SQL Athena gets (with its "$path" pseudo-column) over a table typed like the Glue table."""
    connection = duckdb.connect()
    columns = ", ".join(f'"{name}" {DUCKDB_TYPES[kind]}' for name, kind in REPORT_COLUMNS)
    connection.execute(f'CREATE TABLE metric_reports ({columns}, "$path" VARCHAR)')
    for name, data in report_files.items():
        for row in parse_report(data, name).rows:
            connection.execute(
                "INSERT INTO metric_reports VALUES (?, ?, ?, ?, ?, ?, ?)",
                [row.metric, row.event_type, row.value, row.math_function, row.source, row.timestamp, f"s3://b/{name}"],
            )
    queries = named_queries("metric_reports")
    assert set(ANALYSIS_QUERIES) <= set(queries) and "totals_by_source" in queries
    results = {name: connection.execute(sql).fetchnumpy() for name, sql in queries.items()}
    reference = python_reference(report_files)
    assert as_dict(results["hourly_by_source"]) == reference
    # The copy's 4 rows are not counted twice; lower.csv's source joins SOURCE_NAME_UNDEFINED.
    assert reference[("SUMMARGIN", "RECOMMENDED_FOR_YOU", 1704067200)] == (20.0, 2)
    assert reference[("COUNTVIEWS", "SOURCE_NAME_UNDEFINED", 1704074400)] == (7.0, 1)
    assert list(results["duplicate_rows"]["source_file"]) == ["s3://b/copy of BULK.csv"]
    assert list(results["duplicate_rows"]["duplicate_rows"]) == [4]
    assert list(results["traffic_by_hour"]["hour_start"]) == [1704067200, 1704074400]
    assert list(results["traffic_by_hour"]["buckets"]) == [4, 1]
    shares = {
        (m, s): share for m, s, share in zip(results["totals_by_source"]["metric"], results["totals_by_source"]["source"], results["totals_by_source"]["volume_share"])
    }
    assert shares[("COUNTVIEWS", "RECOMMENDED_FOR_YOU")] == pytest.approx(100 / 177)
    # A time window on TIMESTAMP: only the first bucket.
    first_bucket = connection.execute(named_queries("metric_reports", start=1704067200, end=1704068100)["hourly_by_source"]).fetchnumpy()
    assert sum(first_bucket["total"]) == 10 + 5 + 5 + 12.5  # views of three sources + one margin row


def test_local_store_gives_the_same_aggregates(tmp_path, report_files):
    for name, data in report_files.items():
        (tmp_path / name).write_bytes(data)
    store = ReportStore()
    try:
        load_local(store, tmp_path)
        results = store.aggregates(ANALYSIS_QUERIES)
        assert store.load.files_read == 4 and store.row_count() == 16 + 4 + 1
    finally:
        store.close()
    assert as_dict(results["hourly_by_source"]) == python_reference(report_files)
    assert list(results["duplicate_rows"]["source_file"]) == [str(tmp_path / "copy of BULK.csv")]


def test_a_file_duckdb_rejects_is_parsed_in_python_with_messages(tmp_path):
    # Quoted fields, a bad row and a blank line: the Python parser takes over for this file only.
    (tmp_path / "good.csv").write_text(HEADER + "M,V,1,sum,a,1704067224\n")
    (tmp_path / "bad.csv").write_text(HEADER + '"M",V,2,sum,a,1704067224\nM,V,x,sum,a,1704067224\n\nM,V,3,sum,b,1704067224\n')
    store = ReportStore()
    try:
        load_local(store, tmp_path)
        results = store.aggregates(["hourly_by_source", "duplicate_rows"])
    finally:
        store.close()
    assert store.load.rows_skipped == 1 and store.load.warnings == [f"{tmp_path / 'bad.csv'}, line 3: VALUE 'x' is not a number; row skipped"]
    assert as_dict(results["hourly_by_source"]) == {("M", "A", 1704067200): (3.0, 1), ("M", "B", 1704067200): (3.0, 1)}
    # good.csv and bad.csv both have "M,V,1|2,sum,a" rows but with different values: not duplicates.
    assert len(results["duplicate_rows"]["source_file"]) == 0


def test_header_in_another_column_order_is_read_by_name(tmp_path):
    (tmp_path / "r.csv").write_text("TIMESTAMP,EVENT_ATTRIBUTION_SOURCE,VALUE,METRIC_NAME,MATH_FUNCTION,EVENT_TYPE\n1704067224,a,4,M,sum,V\n")
    store = ReportStore()
    try:
        load_local(store, Path(tmp_path))
        results = store.aggregates(["hourly_by_source"])
    finally:
        store.close()
    assert as_dict(results["hourly_by_source"]) == {("M", "A", 1704067200): (4.0, 1)}


def test_files_from_successive_imports_skip_the_deduplication_with_the_same_result(tmp_path):
    files = {
        "first.csv": (HEADER + "M,V,1,sum,a,1704067224\nM,V,1,sum,a,1704067224\nM,V,2,sum,b,1704068124\n").encode(),
        "second.csv": (HEADER + "M,V,1,sum,a,1704069024\nm,V,4,sum,B,1704072624\n").encode(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    store = ReportStore()
    try:
        load_local(store, tmp_path)
        assert not store._files_overlap()  # the shortcut: no GROUP BY over every row
        results = store.aggregates(ANALYSIS_QUERIES)
        (tmp_path / "copy.csv").write_bytes(files["second.csv"])
        store.add_file(tmp_path / "copy.csv", "copy.csv")
        assert store._files_overlap()
    finally:
        store.close()
    assert as_dict(results["hourly_by_source"]) == python_reference(files)
    assert len(results["duplicate_rows"]["source_file"]) == 0
