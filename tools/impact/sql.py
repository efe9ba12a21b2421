"""The SQL over metric attribution report rows, shared by DuckDB (`report`) and Athena.

Interface placeholder for the dashboard stack until the report branch (issue11-report) lands its
version of this module, which replaces this file: REPORT_COLUMNS and named_queries(table).
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


def named_queries(table: str) -> dict[str, str]:
    """Query name -> SQL over `table` (valid on Athena and DuckDB; `timestamp` is reserved in Trino)."""
    return {
        "totals_by_source": f"""SELECT upper(metric_name) AS metric, upper(event_attribution_source) AS source, sum(value) AS total
FROM {table}
GROUP BY upper(metric_name), upper(event_attribution_source)
ORDER BY metric, total DESC""",
    }
