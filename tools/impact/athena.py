"""Run the report's SQL (sql.named_queries) on Amazon Athena instead of the embedded DuckDB.

StartQueryExecution for every query first (Athena runs them side by side), then
GetQueryExecution with exponential backoff until each finishes, then GetQueryResults page by
page. The results come back as the same {column: numpy array} shape as the DuckDB path, so
the statistics cannot tell the two apart.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tools._cli import CliError

POLL_FIRST_SECONDS = 0.5
POLL_MAX_SECONDS = 8.0
DEFAULT_TIMEOUT_SECONDS = 900.0
RESULTS_PAGE = 1000  # GetQueryResults maximum
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NUMERIC_TYPES = {"bigint": np.int64, "integer": np.int64, "smallint": np.int64, "tinyint": np.int64, "double": np.float64, "real": np.float64, "float": np.float64, "decimal": np.float64}


def check_identifier(value: str, option: str) -> str:
    """Database and table names go into SQL text: accept plain identifiers only."""
    if not IDENTIFIER.fullmatch(value or ""):
        raise CliError(f"{option} {value!r}: expected a Glue name (letters, digits, underscore)")
    return value


def run_queries(
    athena: Any,
    queries: Mapping[str, str],
    *,
    database: str,
    workgroup: str,
    output: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> dict[str, dict[str, np.ndarray]]:
    started: dict[str, str] = {}
    for name, sql in queries.items():
        request: dict[str, Any] = {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": database},
            "WorkGroup": workgroup,
        }
        if output:
            request["ResultConfiguration"] = {"OutputLocation": output}
        started[name] = athena.start_query_execution(**request)["QueryExecutionId"]
    deadline = clock() + timeout
    results = {}
    for name, execution_id in started.items():
        _wait(athena, name, execution_id, sleep, clock, deadline)
        results[name] = _fetch(athena, execution_id)
    return results


def _wait(athena: Any, name: str, execution_id: str, sleep: Callable, clock: Callable, deadline: float) -> None:
    delay = POLL_FIRST_SECONDS
    while True:
        status = athena.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]
        state = status["State"]
        if state == "SUCCEEDED":
            return
        if state in {"FAILED", "CANCELLED"}:
            reason = status.get("StateChangeReason") or status.get("AthenaError", {}).get("ErrorMessage", "")
            raise CliError(f"Athena query {name} ({execution_id}) {state.lower()}: {reason}".rstrip(": "))
        if clock() + delay > deadline:
            raise CliError(f"Athena query {name} ({execution_id}) still {state.lower()}; gave up waiting")
        sleep(delay)
        delay = min(delay * 2, POLL_MAX_SECONDS)


def _fetch(athena: Any, execution_id: str) -> dict[str, np.ndarray]:
    names: list[str] = []
    types: list[str] = []
    cells: list[list[str | None]] = []
    token = None
    first_page = True
    while True:
        request: dict[str, Any] = {"QueryExecutionId": execution_id, "MaxResults": RESULTS_PAGE}
        if token:
            request["NextToken"] = token
        page = athena.get_query_results(**request)
        result_set = page["ResultSet"]
        rows = result_set.get("Rows", [])
        if first_page:
            columns = result_set["ResultSetMetadata"]["ColumnInfo"]
            names = [column["Name"] for column in columns]
            types = [column["Type"].lower() for column in columns]
            rows = rows[1:]  # a SELECT's first row repeats the column names
            first_page = False
        cells.extend([datum.get("VarCharValue") for datum in row["Data"]] for row in rows)
        token = page.get("NextToken")
        if not token:
            break
    table = {}
    for position, (name, kind) in enumerate(zip(names, types)):
        column = [row[position] for row in cells]
        dtype = NUMERIC_TYPES.get(kind)
        if dtype is np.int64 and all(cell is not None for cell in column):
            table[name] = np.array([int(cell) for cell in column], dtype=np.int64)
        elif dtype is not None:
            table[name] = np.array([float(cell) if cell is not None else np.nan for cell in column], dtype=np.float64)
        else:
            table[name] = np.array(column, dtype=object)
    return table
