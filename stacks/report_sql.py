"""The one SQL definition of the report aggregates, valid on DuckDB and on Amazon Athena (Trino).

`report` runs these queries on an embedded DuckDB table it loads from the report CSVs;
`report --athena` runs the very same text on Athena over the Glue table the stack defines
(whose columns come from REPORT_COLUMNS), and the stack saves them as Athena named queries.
Only syntax both engines share is used: CTEs, window functions, `upper`/`trim`, `%` on
BIGINT, double-quoted lower-case identifiers (`timestamp` is reserved in Trino).

Every query first decides which report files count, per whole file, from what the Personalize
Developer Guide says of imports (no row is ever compared with another):
* Personalize publishes one file per import job, named `AggregatedAttributionMetrics -
  <ImportMethod> - <Timestamp>.csv` ("Publishing metric attribution reports to Amazon S3").
* A FULL import "overwrites all existing bulk data" of the dataset (CreateDatasetImportJob,
  importMode), so the report of the latest FULL import replaces every report before it. The
  guide does not say whether that report covers only its own time range; the stricter reading
  is taken: nothing before it counts, whatever its rows' timestamps, and the output names the
  files and rows left out. Order is the Timestamp of the name, compared as text.
* An INCREMENTAL import appends, so its report adds: rows for a bucket already reported (late
  events) add up, equal values included. Rows repeated inside one file add up too (the
  documented example has several rows for one bucket).
* A report name found in two places (the same import copied to another folder) counts once
  (the first path); `same_import=False` counts each. A file not named as Personalize names
  them counts like an INCREMENTAL one and is never replaced.
`report` also skips files with the same bytes as another (`skip_files`, from its hashes).
Source and metric names are upper-cased, as CloudWatch does, so `recommended_for_you` and
`RECOMMENDED_FOR_YOU` are one source.

Source aliases: an event with a `recommendationId` but no `eventAttributionSource` is attributed
to the recommender's or campaign's ARN. Given `source_aliases` (ARN -> configured source), an
`attributed` step after the file selection renames those rows, so both forms count as one source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

# (column, Athena/Hive type) of the report CSV in file order; Glue stores names lower-case.
REPORT_COLUMNS: list[tuple[str, str]] = [
    ("metric_name", "string"),
    ("event_type", "string"),
    ("value", "double"),
    ("math_function", "string"),
    ("event_attribution_source", "string"),
    ("timestamp", "bigint"),
]
ATHENA_FILE_COLUMN = '"$path"'  # Athena's pseudo-column naming the S3 object of each row
# The Glue table spans every dataset group's folder, partitioned by this column (the stack's
# report table); `report --athena` filters on it, the saved queries read all groups.
PARTITION_COLUMN = "dataset_group"
BUCKET_SECONDS = 900  # metric attribution aggregates into 15-minute buckets
HOUR_SECONDS = 3600

# The queries the report itself needs (the rest are for people browsing in the Athena console).
ANALYSIS_QUERIES = ("hourly_by_source", "traffic_by_hour", "metric_details", "files_not_counted")
# Personalize's report file name, as a regular expression both engines read alike (case-insensitive).
REPORT_NAME_PATTERN = r"(?i)AggregatedAttributionMetrics - ([A-Za-z]+) - ([^/\\]*)\.csv$"

# The step the analysis reads: `counted`, or `attributed` when sources are aliased.
ROWS = "{rows}"


def sql_string(value: str) -> str:
    """A string literal for DuckDB and Trino alike."""
    return "'" + value.replace("'", "''") + "'"


def attributed_step(source_aliases: Mapping[str, str]) -> str:
    """`counted` with each aliased source (compared upper-cased) renamed to its target.

    The SQL upper-cases the names, not Python: the dashboard stack saves these queries with ARNs
    that hold deploy-time tokens (account, region), which must reach the template unchanged.
    """
    cases = " ".join(
        f"WHEN upper({sql_string(alias)}) THEN upper({sql_string(target)})" for alias, target in sorted(source_aliases.items())
    )
    return f"""SELECT metric, CASE source {cases} ELSE source END AS source, source AS reported_source,
         event_type, math_function, value, ts, total
  FROM counted"""


def file_steps(
    table: str,
    *,
    file_column: str = ATHENA_FILE_COLUMN,
    start: int | None = None,
    end: int | None = None,
    dataset_group: str | None = None,
    source_aliases: Mapping[str, str] | None = None,
    skip_files: Sequence[str] = (),
    same_import: bool = True,
) -> dict[str, str]:
    """The file selection, as named steps in order (name -> SELECT over the steps before it), and
    the renaming of aliased sources (`attributed`) when there are any. Athena runs them as the
    CTEs of each query; DuckDB as views.

    The files are judged over all their rows, not only those in start..end: a FULL import
    replaces earlier reports whatever the window asked for.
    """
    group_filter = _group_filter(dataset_group)
    time_filter = group_filter
    if start is not None:
        time_filter += f' AND "timestamp" >= {int(start)}'
    if end is not None:
        time_filter += f' AND "timestamp" < {int(end)}'
    copy_rule, same_import_rule = _copy_rules(skip_files, same_import)
    steps = {
        "report_files": f"""SELECT source_file, row_count,
         upper(coalesce(regexp_extract(source_file, '{REPORT_NAME_PATTERN}', 1), '')) AS import_method,
         coalesce(regexp_extract(source_file, '{REPORT_NAME_PATTERN}', 2), '') AS stamp,
         regexp_extract(source_file, '[^/\\\\]*$') AS base_name
  FROM (SELECT {file_column} AS source_file, count(*) AS row_count FROM {table} WHERE TRUE{group_filter} GROUP BY {file_column}) AS files""",
        "file_status": f"""SELECT source_file, row_count, CASE
         {copy_rule}WHEN stamp <> '' AND stamp < (SELECT max(stamp) FROM report_files WHERE import_method = 'FULL')
           THEN 'replaced by a later FULL import (a FULL import overwrites all bulk data)'
         {same_import_rule}ELSE '' END AS not_counted
  FROM report_files f""",
        "report_rows": f"""SELECT upper(trim(metric_name)) AS metric,
         upper(trim(event_attribution_source)) AS source,
         coalesce(trim(event_type), '') AS event_type,
         coalesce(trim(math_function), '') AS math_function,
         CAST(value AS DOUBLE) AS value,
         CAST("timestamp" AS BIGINT) AS ts,
         {file_column} AS source_file
  FROM {table}
  WHERE value IS NOT NULL AND "timestamp" IS NOT NULL{time_filter}""",
        "counted": """SELECT metric, source, event_type, math_function, value, ts, value AS total
  FROM report_rows
  WHERE source_file IN (SELECT source_file FROM file_status WHERE not_counted = '')""",
    }
    if source_aliases:
        steps["attributed"] = attributed_step(source_aliases)
    return steps


def _group_filter(dataset_group: str | None) -> str:
    """The condition on the table's partition that keeps one dataset group's reports (none: all)."""
    if dataset_group is None:
        return ""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", dataset_group):
        raise ValueError(f"dataset group name {dataset_group!r} cannot be a partition value")
    return f" AND {PARTITION_COLUMN} = '{dataset_group}'"


def _copy_rules(skip_files: Sequence[str], same_import: bool) -> tuple[str, str]:
    """The CASE branches of `file_status` that count a copy once: same content, same import."""
    skipped = ", ".join(sql_string(name) for name in skip_files)
    copy_rule = f"WHEN source_file IN ({skipped}) THEN 'the same content as another file: counted once'\n         " if skip_files else ""
    same_import_rule = (
        "WHEN import_method <> '' AND source_file > (SELECT min(g.source_file) FROM report_files g WHERE g.base_name = f.base_name)\n"
        "           THEN 'the same import as another file (same report name): counted once'\n         "
        if same_import
        else ""
    )
    return copy_rule, same_import_rule


FINAL_SELECTS = {
    # Per metric, source and UTC hour: the total and the 15-minute buckets with data.
    "hourly_by_source": f"""SELECT metric, source, bucket - bucket % {HOUR_SECONDS} AS hour_start, sum(total) AS total,
       count(*) AS buckets
FROM (SELECT metric, source, ts - ts % {BUCKET_SECONDS} AS bucket, sum(total) AS total
      FROM {ROWS}
      GROUP BY metric, source, ts - ts % {BUCKET_SECONDS}) AS per_bucket
GROUP BY metric, source, bucket - bucket % {HOUR_SECONDS}
ORDER BY metric, source, hour_start""",
    # Per UTC hour: the 15-minute buckets in which any metric of any source has a row, i.e.
    # when traffic flowed. Rates divide by this time, not by one metric's buckets.
    "traffic_by_hour": f"""SELECT ts - ts % {HOUR_SECONDS} AS hour_start, count(DISTINCT ts - ts % {BUCKET_SECONDS}) AS buckets
FROM counted
GROUP BY ts - ts % {HOUR_SECONDS}
ORDER BY hour_start""",
    "metric_details": """SELECT metric, event_type, math_function, count(*) AS row_count
FROM counted
GROUP BY metric, event_type, math_function
ORDER BY metric, event_type, math_function""",
    # The report files that do not count, why, and their rows.
    "files_not_counted": """SELECT source_file, row_count, not_counted AS reason
FROM file_status
WHERE not_counted <> ''
ORDER BY source_file""",
    # Which reported sources were renamed by an alias, and how many rows each had.
    "aliased_sources": """SELECT reported_source, source, count(*) AS row_count
FROM attributed
WHERE reported_source <> source
GROUP BY reported_source, source
ORDER BY reported_source""",
    # For the Athena console: totals and volume share per metric and source.
    "totals_by_source": """SELECT metric, source, sum(total) AS total,
       sum(total) / sum(sum(total)) OVER (PARTITION BY metric) AS volume_share,
       min(ts) AS first_timestamp, max(ts) AS last_timestamp
FROM {rows}
GROUP BY metric, source
ORDER BY metric, total DESC""",
}


def named_queries(
    table: str,
    *,
    file_column: str = ATHENA_FILE_COLUMN,
    start: int | None = None,
    end: int | None = None,
    dataset_group: str | None = None,
    source_aliases: Mapping[str, str] | None = None,
    same_import: bool = True,
) -> dict[str, str]:
    """Query name -> SQL reading the report rows in `table`, valid on Athena and DuckDB.

    `file_column` is the expression naming each row's file (Athena: "$path"); `start`/`end`
    (epoch seconds, end exclusive) restrict the rows by TIMESTAMP; `dataset_group` by the
    table's partition column; `source_aliases` (reported source -> configured source) renames
    sources, e.g. a campaign's ARN to the source the config names for it, and adds the query
    `aliased_sources`.
    """
    steps = file_steps(
        table, file_column=file_column, start=start, end=end, dataset_group=dataset_group,
        source_aliases=source_aliases, same_import=same_import,
    )
    with_clause = "WITH " + ",\n".join(f"{name} AS (\n  {body}\n)" for name, body in steps.items()) + "\n"
    aliased = bool(source_aliases)
    return {name: with_clause + final_select(name, aliased=aliased) for name in FINAL_SELECTS if aliased or name != "aliased_sources"}


def final_select(name: str, *, aliased: bool) -> str:
    """The final SELECT of query `name`, over the renamed rows when sources are aliased."""
    return FINAL_SELECTS[name].replace(ROWS, "attributed" if aliased else "counted")
