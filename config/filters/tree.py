"""What a parsed filter expression is made of, the limits and names of the grammar, and the error
every stage raises (config.filters has the grammar)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

MAX_EXPRESSION_LENGTH = 2500  # botocore personalize FilterExpression max
MAX_PLACEHOLDERS = 25  # botocore personalize-runtime FilterValues map max
MAX_PLACEHOLDER_NAME = 50  # botocore personalize-runtime FilterAttributeName max
MAX_DISTINCT_FIELDS = 10  # documented as 5 or 10 per filter: the lenient figure

PLACEHOLDER_NAME = re.compile(r"[A-Za-z0-9_]+")
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

ACTIONS = ("INCLUDE", "EXCLUDE")
TARGETS = {"itemid": "ItemID", "userid": "UserID", "actionid": "ActionID"}
# Which datasets a WHERE condition may name, per target.
TARGET_DATASETS = {
    "ItemID": ("Items", "Interactions"),
    "UserID": ("Users", "Interactions"),
    "ActionID": ("Actions", "Action_Interactions"),
}
DATASETS = {name.lower(): name for name in ("Items", "Interactions", "Users", "Actions", "Action_Interactions")}
INTERACTION_DATASETS = ("Interactions", "Action_Interactions")
# CurrentItem / CurrentUser name fields of these datasets.
CONTEXT_DATASETS = {"currentitem": ("CurrentItem", "Items"), "currentuser": ("CurrentUser", "Users")}
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
NUMERIC_TYPES = frozenset({"int", "long", "float", "double"})


class FilterExpressionError(ValueError):
    """A filter expression that Personalize would refuse; ``position`` is 1-based."""

    def __init__(self, message: str, position: int | None = None) -> None:
        self.problem = message
        self.position = position
        super().__init__(f"at character {position}: {message}" if position else message)


# --- result types -------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldRef:
    """``Items.GENRE``; ``CurrentItem.GENRE`` has ``context="CurrentItem"`` and dataset Items."""

    dataset: str
    name: str
    position: int = field(compare=False)
    context: str | None = None

    def __str__(self) -> str:
        return f"{self.context or self.dataset}.{self.name}"


@dataclass(frozen=True)
class Placeholder:
    name: str
    position: int = field(compare=False)


@dataclass(frozen=True)
class Literal:
    value: str | int | float | None  # None stands for "*" (all event types)
    position: int = field(compare=False)

    @property
    def is_wildcard(self) -> bool:
        return self.value is None


Value = Literal | Placeholder | FieldRef


@dataclass(frozen=True)
class Condition:
    field: FieldRef
    operator: str  # IN, NOT IN, =, !=, <, <=, >, >=
    values: tuple[Value, ...]
    connector: str | None = None  # AND / OR joining it to the previous condition


@dataclass(frozen=True)
class Expression:
    action: str  # INCLUDE / EXCLUDE
    target: str  # ItemID / UserID / ActionID
    conditions: tuple[Condition, ...]
    user_conditions: tuple[Condition, ...] = ()

    @property
    def dataset(self) -> str:
        return self.conditions[0].field.dataset


@dataclass(frozen=True)
class FilterExpression:
    text: str
    expressions: tuple[Expression, ...]

    def _all_conditions(self) -> Iterator[Condition]:
        for expression in self.expressions:
            yield from expression.conditions
            yield from expression.user_conditions

    @property
    def fields(self) -> tuple[FieldRef, ...]:
        """Every dataset field referenced (conditions and CurrentItem/CurrentUser), first use first."""
        seen: dict[tuple[str, str], FieldRef] = {}
        for condition in self._all_conditions():
            for ref in (condition.field, *[v for v in condition.values if isinstance(v, FieldRef)]):
                seen.setdefault((ref.dataset, ref.name), ref)
        return tuple(seen.values())

    @property
    def placeholders(self) -> tuple[str, ...]:
        names: dict[str, None] = {}
        for condition in self._all_conditions():
            for value in condition.values:
                if isinstance(value, Placeholder):
                    names.setdefault(value.name)
        return tuple(names)

    @property
    def uses_current_item(self) -> bool:
        """Only related-items recipes and use cases accept such a filter."""
        return any(
            isinstance(value, FieldRef) and value.context == "CurrentItem"
            for condition in self._all_conditions()
            for value in condition.values
        )

    @property
    def datasets(self) -> frozenset[str]:
        return frozenset(ref.dataset for ref in self.fields)
