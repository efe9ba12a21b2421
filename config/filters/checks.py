"""Check a parsed filter expression against the dataset group's schemas."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from config.filters.tree import NUMERIC_TYPES, FilterExpression


@dataclass(frozen=True)
class Column:
    """What a schema says about one field (Avro type name, textual flag)."""

    type: str
    textual: bool = False


def column_issues(parsed: FilterExpression, columns: Mapping[str, Mapping[str, Column]]) -> list[str]:
    """Messages for fields the schemas lack or cannot filter on.

    ``columns`` maps a dataset name (``Items``, ``Interactions``, ``Users``...) to its fields;
    a dataset missing from it is reported as absent from the dataset group.
    """
    issues: list[str] = []
    for ref in parsed.fields:
        dataset_columns = columns.get(ref.dataset)
        where = f"at character {ref.position}: {ref}"
        if dataset_columns is None:
            issues.append(f"{where}: the dataset group has no {ref.dataset} dataset; add it or drop this condition")
            continue
        column = dataset_columns.get(ref.name)
        if column is None:
            close = [name for name in dataset_columns if name.upper() == ref.name.upper()]
            hint = f"; did you mean {ref.dataset}.{close[0]} (field names are case-sensitive)?" if close else (
                f"; its fields are {', '.join(sorted(dataset_columns))}")
            issues.append(f"{where}: the {ref.dataset} schema has no field {ref.name}{hint}")
            continue
        if column.type == "boolean":
            issues.append(f"{where} is boolean, which filters cannot use; store it as a string (\"True\"/\"False\") or an int (0/1)")
        if column.textual:
            issues.append(f"{where} is textual (unstructured text), which filters cannot use; filter on a categorical field")
    for expression in parsed.expressions:
        for condition in (*expression.conditions, *expression.user_conditions):
            if condition.operator in ("IN", "NOT IN"):
                continue
            column = columns.get(condition.field.dataset, {}).get(condition.field.name)
            if column is not None and column.type not in NUMERIC_TYPES:
                issues.append(
                    f"at character {condition.field.position}: {condition.field} {condition.operator} compares"
                    f" numbers, but the field is {column.type}; use IN/NOT IN for strings or a numeric field")
    return issues
