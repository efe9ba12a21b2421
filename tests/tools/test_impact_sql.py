"""stacks.report_sql on DuckDB: the Athena text itself, the local materialized path, and a Python reference."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import duckdb
import numpy as np
import pytest

from tools.impact.report_csv import parse_report
from tools.impact.reports import ReportStore, load_local
from stacks.report_sql import ANALYSIS_QUERIES, REPORT_COLUMNS, named_queries

HEADER = "METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP\n"
DUCKDB_TYPES = {"string": "VARCHAR", "double": "DOUBLE", "bigint": "BIGINT"}


def python_reference(files: dict[str, bytes]) -> dict[tuple[str, str, int], tuple[float, int]]:
    """(metric, source, hour) -> (total, buckets with data), computed row by row in Python.

    Rules (no FULL import among these files): names upper-cased; a file with the bytes or the
    report name of an earlier one (by path) does not count; every other row adds up.
    """
    seen: set = set()
    totals: dict[tuple, float] = defaultdict(float)
    buckets: dict[tuple, set] = defaultdict(set)
    for name, data in sorted(files.items()):
        if data in seen or Path(name).name in seen:
            continue
        seen |= {data, Path(name).name}
        for row in parse_report(data, name).rows:
            hour = (row.metric.upper(), row.source.upper(), row.timestamp - row.timestamp % 3600)
            totals[hour] += row.value
            buckets[hour].add(row.timestamp - row.timestamp % 900)
    return {key: (totals[key], len(buckets[key])) for key in totals}


def as_dict(result: dict[str, np.ndarray]) -> dict[tuple[str, str, int], tuple[float, int]]:
    return {
        (str(m), str(s), int(h)): (float(t), int(b))
        for m, s, h, t, b in zip(result["metric"], result["source"], result["hour_start"], result["total"], result["buckets"])
    }


@pytest.fixture
def report_files(fixtures_dir) -> dict[str, bytes]:
    files = {path.name: path.read_bytes() for path in sorted((fixtures_dir / "reports").glob("*.csv"))}
    # One report saved again in another folder, and a file whose source is spelled in lower case.
    files["copies/AggregatedAttributionMetrics - BULK - 1704071100.csv"] = files["AggregatedAttributionMetrics - BULK - 1704071100.csv"]
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
    # The copy's 4 rows are not counted twice (the same report name); lower.csv's source joins SOURCE_NAME_UNDEFINED.
    assert reference[("SUMMARGIN", "RECOMMENDED_FOR_YOU", 1704067200)] == (20.0, 2)
    assert reference[("COUNTVIEWS", "SOURCE_NAME_UNDEFINED", 1704074400)] == (7.0, 1)
    skipped = results["files_not_counted"]
    assert list(zip(skipped["source_file"], skipped["row_count"])) == [("s3://b/copies/AggregatedAttributionMetrics - BULK - 1704071100.csv", 4)]
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
    report_files["copy of BULK.csv"] = report_files["AggregatedAttributionMetrics - BULK - 1704071100.csv"]  # renamed: only bytes tell
    for name, data in report_files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    store = ReportStore()
    try:
        load_local(store, tmp_path)
        results = store.aggregates(ANALYSIS_QUERIES)
        assert store.load.files_read == 5 and store.row_count() == 16 + 4 + 4 + 1
    finally:
        store.close()
    assert as_dict(results["hourly_by_source"]) == python_reference(report_files)
    # Whole files are judged: the copy is skipped for its bytes (report hashes each file), not compared row by row.
    skipped = results["files_not_counted"]
    assert list(zip(skipped["source_file"], skipped["row_count"], skipped["reason"])) == [
        (str(tmp_path / "copies/AggregatedAttributionMetrics - BULK - 1704071100.csv"), 4, "the same content as another file: counted once"),
        (str(tmp_path / "copy of BULK.csv"), 4, "the same content as another file: counted once"),
    ]


def test_a_file_duckdb_rejects_is_parsed_in_python_with_messages(tmp_path):
    # Quoted fields, a bad row and a blank line: the Python parser takes over for this file only.
    (tmp_path / "good.csv").write_text(HEADER + "M,V,1,sum,a,1704067224\n")
    (tmp_path / "bad.csv").write_text(HEADER + '"M",V,2,sum,a,1704067224\nM,V,x,sum,a,1704067224\n\nM,V,3,sum,b,1704067224\n')
    store = ReportStore()
    try:
        load_local(store, tmp_path)
        results = store.aggregates(["hourly_by_source", "files_not_counted"])
    finally:
        store.close()
    assert store.load.rows_skipped == 1 and store.load.warnings == [f"{tmp_path / 'bad.csv'}, line 3: VALUE 'x' is not a number; row skipped"]
    assert as_dict(results["hourly_by_source"]) == {("M", "A", 1704067200): (3.0, 1), ("M", "B", 1704067200): (3.0, 1)}
    assert len(results["files_not_counted"]["source_file"]) == 0


def test_header_in_another_column_order_is_read_by_name(tmp_path):
    (tmp_path / "r.csv").write_text("TIMESTAMP,EVENT_ATTRIBUTION_SOURCE,VALUE,METRIC_NAME,MATH_FUNCTION,EVENT_TYPE\n1704067224,a,4,M,sum,V\n")
    store = ReportStore()
    try:
        load_local(store, Path(tmp_path))
        results = store.aggregates(["hourly_by_source"])
    finally:
        store.close()
    assert as_dict(results["hourly_by_source"]) == {("M", "A", 1704067200): (4.0, 1)}


def report_csv(rows: list[tuple[str, float, int]]) -> bytes:
    return (HEADER + "".join(f"COUNTVIEWS,View,{v},samplecount,{src},{ts}\n" for src, v, ts in rows)).encode()


def load_and_sum(tmp_path, files: dict[str, bytes], *, keep_copies: bool = False) -> tuple[dict, list]:
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    store = ReportStore()
    store.keep_copies = keep_copies
    try:
        load_local(store, tmp_path)
        results = store.aggregates(["hourly_by_source", "files_not_counted"])
    finally:
        store.close()
    skipped = results["files_not_counted"]
    return as_dict(results["hourly_by_source"]), [(Path(name).name, reason) for name, reason in zip(skipped["source_file"], skipped["reason"])]


def test_late_rows_with_equal_values_in_two_incremental_imports_add_up(tmp_path):
    """Late events put the same bucket into the next import: 1.0 + 1.0 is 2 events, not a copy."""
    files = {
        "AggregatedAttributionMetrics - INCREMENTAL - 1704070000.csv": report_csv([("a", 1.0, 1704067200)]),
        "AggregatedAttributionMetrics - INCREMENTAL - 1704080000.csv": report_csv([("a", 1.0, 1704067200), ("a", 3.0, 1704070800)]),
    }
    totals, skipped = load_and_sum(tmp_path, files)
    assert totals == {("COUNTVIEWS", "A", 1704067200): (2.0, 1), ("COUNTVIEWS", "A", 1704070800): (3.0, 1)}
    assert skipped == []


def test_a_full_import_replaces_the_reports_before_it_and_later_incrementals_add(tmp_path):
    files = {
        "AggregatedAttributionMetrics - FULL - 1704000000.csv": report_csv([("a", 5.0, 1704067200)]),
        "AggregatedAttributionMetrics - INCREMENTAL - 1704070000.csv": report_csv([("a", 2.0, 1704067200), ("a", 9.0, 1704060000)]),
        # Re-imports everything with one late event in the first bucket: 5 + 2 + 1.
        "AggregatedAttributionMetrics - FULL - 1704090000.csv": report_csv([("a", 8.0, 1704067200), ("a", 9.0, 1704060000)]),
        "AggregatedAttributionMetrics - INCREMENTAL - 1704100000.csv": report_csv([("a", 4.0, 1704067200)]),
    }
    totals, skipped = load_and_sum(tmp_path, files)
    assert totals == {("COUNTVIEWS", "A", 1704067200): (12.0, 1), ("COUNTVIEWS", "A", 1704060000): (9.0, 1)}
    assert skipped == [(name, "replaced by a later FULL import (a FULL import overwrites all bulk data)") for name in list(files)[:2]]


def test_the_athena_text_has_the_file_rules_and_keep_copies_drops_the_same_name_one():
    queries = named_queries('"metric_reports"')
    assert "'replaced by a later FULL import" in queries["hourly_by_source"] and "same report name" in queries["hourly_by_source"]
    assert "same report name" not in named_queries('"metric_reports"', same_import=False)["hourly_by_source"]


def test_iso_timestamps_in_file_names_order_the_imports(tmp_path):
    files = {
        "AggregatedAttributionMetrics - INCREMENTAL - 2024-01-02T00:00:00Z.csv": report_csv([("a", 2.0, 1704067200)]),
        "AggregatedAttributionMetrics - FULL - 2024-01-01T00:00:00Z.csv": report_csv([("a", 5.0, 1704067200)]),
    }
    totals, _ = load_and_sum(tmp_path, files)
    assert totals == {("COUNTVIEWS", "A", 1704067200): (7.0, 1)}  # the FULL one came first


def test_copies_count_once_with_the_reason_and_keep_copies_counts_them(tmp_path):
    name = "AggregatedAttributionMetrics - INCREMENTAL - 1704070000.csv"
    files = {
        name: report_csv([("a", 1.0, 1704067200)]),
        "AggregatedAttributionMetrics - INCREMENTAL - 1704070000 (1).csv": report_csv([("a", 1.0, 1704067200)]),
        f"elsewhere/{name}": report_csv([("a", 1.0, 1704067200), ("b", 1.0, 1704067200)]),
    }
    totals, skipped = load_and_sum(tmp_path, files)
    assert totals == {("COUNTVIEWS", "A", 1704067200): (1.0, 1)}
    # Of the two with equal bytes the later path is skipped (" (1)" sorts first); elsewhere/ has the same report name.
    assert sorted(skipped) == [
        (name, "the same content as another file: counted once"),
        (name, "the same import as another file (same report name): counted once"),
    ]
    totals, _ = load_and_sum(tmp_path, {}, keep_copies=True)
    assert totals == {("COUNTVIEWS", "A", 1704067200): (3.0, 1), ("COUNTVIEWS", "B", 1704067200): (1.0, 1)}


def test_files_from_successive_imports_give_the_row_by_row_result(tmp_path):
    files = {
        "first.csv": (HEADER + "M,V,1,sum,a,1704067224\nM,V,1,sum,a,1704067224\nM,V,2,sum,b,1704068124\n").encode(),
        "second.csv": (HEADER + "M,V,1,sum,a,1704069024\nm,V,4,sum,B,1704072624\n").encode(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    store = ReportStore()
    try:
        load_local(store, tmp_path)
        results = store.aggregates(ANALYSIS_QUERIES)
    finally:
        store.close()
    assert as_dict(results["hourly_by_source"]) == python_reference(files)
    assert len(results["files_not_counted"]["source_file"]) == 0
