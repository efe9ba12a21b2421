"""The one SQL definition of the report aggregates, valid on DuckDB and on Amazon Athena (Trino).

`report` runs these queries on an embedded DuckDB table it loads from the report CSVs;
`report --athena` runs the very same text on Athena over the Glue table the stack defines
(whose columns come from REPORT_COLUMNS), and the stack saves them as Athena named queries.
Only syntax both engines share is used: CTEs, window functions, `upper`/`trim`, `%` on
BIGINT, double-quoted lower-case identifiers (`timestamp` is reserved in Trino).

Every query deduplicates first: a row (metric, source, event type, math function, value,
timestamp) that appears in more than one file (a re-import, a re-downloaded copy) is counted
as often as the one file with the most copies of it has it, not once per file. Repeats
inside one file are kept (the documented example adds several rows into one bucket).
Source and metric names are upper-cased, as CloudWatch does, so `recommended_for_you` and
`RECOMMENDED_FOR_YOU` are one source.

Source aliases: an event with a `recommendationId` but no `eventAttributionSource` is attributed
to the recommender's or campaign's ARN. Given `source_aliases` (ARN -> configured source), an
`attributed` step after the deduplication renames those rows, so both forms count as one source.
Renaming after deduplication keeps the two forms from being mistaken for copies of each other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

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
ANALYSIS_QUERIES = ("hourly_by_source", "traffic_by_hour", "metric_details", "duplicate_rows")


KEY = "metric, source, event_type, math_function, value, ts"
# The step the analysis reads: `deduplicated`, or `attributed` when sources are aliased.
ROWS = "{rows}"


def sql_string(value: str) -> str:
    """A string literal for DuckDB and Trino alike."""
    return "'" + value.replace("'", "''") + "'"


def attributed_step(source_aliases: Mapping[str, str]) -> str:
    """`deduplicated` with each aliased source (compared upper-cased) renamed to its target.

    The SQL upper-cases the names, not Python: the dashboard stack saves these queries with ARNs
    that hold deploy-time tokens (account, region), which must reach the template unchanged.
    """
    cases = " ".join(
        f"WHEN upper({sql_string(alias)}) THEN upper({sql_string(target)})" for alias, target in sorted(source_aliases.items())
    )
    return f"""SELECT metric, CASE source {cases} ELSE source END AS source, source AS reported_source,
         event_type, math_function, value, ts, total, files
  FROM deduplicated"""


def dedup_steps(
    table: str,
    *,
    file_column: str = ATHENA_FILE_COLUMN,
    start: int | None = None,
    end: int | None = None,
    dataset_group: str | None = None,
    source_aliases: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The deduplication, as named steps in order (name -> SELECT over the steps before it), and
    the renaming of aliased sources (`attributed`) when there are any.

    Athena runs them as the CTEs of each query; DuckDB materializes each once as a table.
    """
    time_filter = ""
    if start is not None:
        time_filter += f' AND "timestamp" >= {int(start)}'
    if end is not None:
        time_filter += f' AND "timestamp" < {int(end)}'
    if dataset_group is not None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", dataset_group):
            raise ValueError(f"dataset group name {dataset_group!r} cannot be a partition value")
        time_filter += f" AND {PARTITION_COLUMN} = '{dataset_group}'"
    steps = {
        "report_rows": f"""SELECT upper(trim(metric_name)) AS metric,
         upper(trim(event_attribution_source)) AS source,
         coalesce(trim(event_type), '') AS event_type,
         coalesce(trim(math_function), '') AS math_function,
         CAST(value AS DOUBLE) AS value,
         CAST("timestamp" AS BIGINT) AS ts,
         {file_column} AS source_file
  FROM {table}
  WHERE value IS NOT NULL AND "timestamp" IS NOT NULL{time_filter}""",
        "copies_per_file": f"""SELECT {KEY}, source_file, count(*) AS copies
  FROM report_rows
  GROUP BY {KEY}, source_file""",
        # Each distinct row once, with the most copies any one file has of it.
        "deduplicated": f"""SELECT {KEY}, value * max(copies) AS total, count(*) AS files
  FROM copies_per_file
  GROUP BY {KEY}""",
    }
    if source_aliases:
        steps["attributed"] = attributed_step(source_aliases)
    return steps


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
FROM deduplicated
GROUP BY ts - ts % {HOUR_SECONDS}
ORDER BY hour_start""",
    "metric_details": """SELECT metric, event_type, math_function, count(*) AS row_count
FROM deduplicated
GROUP BY metric, event_type, math_function
ORDER BY metric, event_type, math_function""",
    # Files whose rows repeat rows of another file (all but the first file by name), and how
    # many of their rows were not counted.
    "duplicate_rows": """SELECT source_file, sum(copies) AS duplicate_rows
FROM (SELECT c.source_file, c.copies,
             row_number() OVER (PARTITION BY c.metric, c.source, c.event_type, c.math_function, c.value, c.ts
                                ORDER BY c.copies DESC, c.source_file) AS file_rank
      FROM copies_per_file c
      JOIN (SELECT * FROM deduplicated WHERE files > 1) d
        ON c.metric = d.metric AND c.source = d.source AND c.event_type = d.event_type
       AND c.math_function = d.math_function AND c.value = d.value AND c.ts = d.ts) AS repeated
WHERE file_rank > 1
GROUP BY source_file
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
) -> dict[str, str]:
    """Query name -> SQL reading the report rows in `table`, valid on Athena and DuckDB.

    `file_column` is the expression naming each row's file (Athena: "$path"); `start`/`end`
    (epoch seconds, end exclusive) restrict the rows by TIMESTAMP; `dataset_group` by the
    table's partition column; `source_aliases` (reported source -> configured source) renames
    sources, e.g. a campaign's ARN to the source the config names for it, and adds the query
    `aliased_sources`.
    """
    steps = dedup_steps(table, file_column=file_column, start=start, end=end, dataset_group=dataset_group, source_aliases=source_aliases)
    with_clause = "WITH " + ",\n".join(f"{name} AS (\n  {body}\n)" for name, body in steps.items()) + "\n"
    aliased = bool(source_aliases)
    return {name: with_clause + final_select(name, aliased=aliased) for name in FINAL_SELECTS if aliased or name != "aliased_sources"}


def final_select(name: str, *, aliased: bool) -> str:
    """The final SELECT of query `name`, over the renamed rows when sources are aliased."""
    return FINAL_SELECTS[name].replace(ROWS, "attributed" if aliased else "deduplicated")
