"""IAM as the simulated stack has it at each moment: role name → inline policies, evaluated for
every call a handler makes (Allow statements, Action/Resource wildcards, the condition operators
the templates use; anything else denies and is reported)."""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KNOWN_OPERATORS = {"StringEquals", "StringLike"}


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _matches(pattern: str, value: str) -> bool:
    # IAM wildcards: * any run, ? one character; action names are case-insensitive.
    return fnmatch.fnmatchcase(value, pattern)


@dataclass
class Decision:
    allowed: bool
    reason: str


@dataclass
class Iam:
    # role name → policy logical id → statements (the resolved PolicyDocument in force now)
    policies: dict[str, dict[str, list[dict]]] = field(default_factory=lambda: defaultdict(dict))
    denied: list[str] = field(default_factory=list)
    unknown_conditions: set[str] = field(default_factory=set)

    def put_policy(self, role: str, policy_id: str, document: Mapping) -> None:
        self.policies[role][policy_id] = _as_list(document.get("Statement", []))

    def delete_policy(self, role: str, policy_id: str) -> None:
        self.policies.get(role, {}).pop(policy_id, None)

    def evaluate(self, role: str, action: str, resources: Iterable[str], context: Mapping[str, str]) -> Decision:
        statements = [s for policy in self.policies.get(role, {}).values() for s in policy]
        for resource in resources:
            allowed, denied = False, False
            for statement in statements:
                if not any(_matches(a.lower(), action.lower()) for a in _as_list(statement.get("Action", []))):
                    continue
                if not any(_matches(r, resource) for r in _as_list(statement.get("Resource", []))):
                    continue
                if not self._conditions_hold(statement.get("Condition") or {}, context):
                    continue
                if statement.get("Effect") == "Deny":
                    denied = True
                elif statement.get("Effect") == "Allow":
                    allowed = True
            if denied or not allowed:
                return Decision(False, f"{role} may not {action} on {resource}")
        return Decision(True, "")

    def _conditions_hold(self, conditions: Mapping, context: Mapping[str, str]) -> bool:
        for operator, tests in conditions.items():
            if operator not in KNOWN_OPERATORS:
                self.unknown_conditions.add(operator)
                return False
            for key, expected in tests.items():
                actual = context.get(key)
                if actual is None:
                    if key not in ("iam:PassedToService",):
                        self.unknown_conditions.add(key)
                    return False
                if operator == "StringEquals" and actual not in _as_list(expected):
                    return False
                if operator == "StringLike" and not any(_matches(e, actual) for e in _as_list(expected)):
                    return False
        return True

    def check(self, role: str, action: str, resources: Iterable[str], context: Mapping[str, str] | None = None) -> str | None:
        """None if allowed, else the denial (also recorded)."""
        decision = self.evaluate(role, action, list(resources), context or {})
        if decision.allowed:
            return None
        self.denied.append(decision.reason)
        return decision.reason
