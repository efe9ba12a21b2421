"""The one SQL definition of the report aggregates, valid on DuckDB and on Amazon Athena (Trino).

`report` runs these queries on an embedded DuckDB table it loads from the report CSVs;
`report --athena` runs the very same text on Athena over the Glue table the stack defines
(whose columns come from REPORT_COLUMNS), and the stack saves them as Athena named queries.
Only syntax both engines share is used: CTEs, window functions, `upper`/`trim`, `%` on
BIGINT, double-quoted lower-case identifiers (`timestamp` is reserved in Trino).

Every query deduplicates first: a row (metric, source, event type, math function, value,
timestamp) that appears in more than one file (a re-import, a re-downloaded copy) is counted
from one file only: the file with the most copies of it, then the first by name. Repeats
inside one file are kept (the documented example adds several rows into one bucket).
Source and metric names are upper-cased, as CloudWatch does, so `recommended_for_you` and
`RECOMMENDED_FOR_YOU` are one source.
"""

from __future__ import annotations

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
BUCKET_SECONDS = 900  # metric attribution aggregates into 15-minute buckets
HOUR_SECONDS = 3600

# The queries the report itself needs (the rest are for people browsing in the Athena console).
ANALYSIS_QUERIES = ("hourly_by_source", "traffic_by_hour", "metric_details", "duplicate_rows")


def _deduplicated_rows(table: str, file_column: str, start: int | None, end: int | None) -> str:
    time_filter = ""
    if start is not None:
        time_filter += f' AND "timestamp" >= {int(start)}'
    if end is not None:
        time_filter += f' AND "timestamp" < {int(end)}'
    return f"""WITH report_rows AS (
  SELECT upper(trim(metric_name)) AS metric,
         upper(trim(event_attribution_source)) AS source,
         coalesce(trim(event_type), '') AS event_type,
         coalesce(trim(math_function), '') AS math_function,
         CAST(value AS DOUBLE) AS value,
         CAST("timestamp" AS BIGINT) AS ts,
         {file_column} AS source_file
  FROM {table}
  WHERE value IS NOT NULL AND "timestamp" IS NOT NULL{time_filter}
),
copies_per_file AS (
  SELECT metric, source, event_type, math_function, value, ts, source_file, count(*) AS copies
  FROM report_rows
  GROUP BY metric, source, event_type, math_function, value, ts, source_file
),
ranked AS (
  SELECT *, row_number() OVER (
           PARTITION BY metric, source, event_type, math_function, value, ts
           ORDER BY copies DESC, source_file) AS file_rank
  FROM copies_per_file
),
deduplicated AS (
  SELECT metric, source, event_type, math_function, value * copies AS value, ts
  FROM ranked
  WHERE file_rank = 1
)
"""


def named_queries(
    table: str, *, file_column: str = ATHENA_FILE_COLUMN, start: int | None = None, end: int | None = None
) -> dict[str, str]:
    """Query name -> SQL reading the report rows in `table`, valid on Athena and DuckDB.

    `file_column` is the expression naming each row's file (Athena: "$path"); `start`/`end`
    (epoch seconds, end exclusive) restrict the rows by TIMESTAMP.
    """
    rows = _deduplicated_rows(table, file_column, start, end)
    hour = f"ts - ts % {HOUR_SECONDS}"
    bucket = f"ts - ts % {BUCKET_SECONDS}"
    return {
        # Per metric, source and UTC hour: the total and the 15-minute buckets with data.
        "hourly_by_source": rows
        + f"""SELECT metric, source, {hour} AS hour_start, sum(value) AS total,
       count(DISTINCT {bucket}) AS buckets
FROM deduplicated
GROUP BY metric, source, {hour}
ORDER BY metric, source, hour_start""",
        # Per UTC hour: the 15-minute buckets in which any metric of any source has a row,
        # i.e. when traffic flowed. Rates divide by this time, not by one metric's buckets.
        "traffic_by_hour": rows
        + f"""SELECT {hour} AS hour_start, count(DISTINCT {bucket}) AS buckets
FROM deduplicated
GROUP BY {hour}
ORDER BY hour_start""",
        "metric_details": rows
        + """SELECT metric, event_type, math_function, count(*) AS row_count
FROM deduplicated
GROUP BY metric, event_type, math_function
ORDER BY metric, event_type, math_function""",
        # Files whose rows repeat rows of another file, and how many rows were not counted.
        "duplicate_rows": rows
        + """SELECT source_file, sum(copies) AS duplicate_rows
FROM ranked
WHERE file_rank > 1
GROUP BY source_file
ORDER BY source_file""",
        # For the Athena console: totals and volume share per metric and source.
        "totals_by_source": rows
        + """SELECT metric, source, sum(value) AS total,
       sum(value) / sum(sum(value)) OVER (PARTITION BY metric) AS volume_share,
       min(ts) AS first_timestamp, max(ts) AS last_timestamp
FROM deduplicated
GROUP BY metric, source
ORDER BY metric, total DESC""",
    }
