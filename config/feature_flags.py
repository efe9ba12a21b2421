"""AWS AppConfig multi-variant feature flags: the split rules that give each arm its weight, and the
one evaluation of a flag document this project uses (tests, send-events, the client snippet).

What AWS documents (user guide, "Understanding multi-variant feature flag rules" and "Defining
rules for multi-variant feature flags", read December 2026):

* variants are evaluated in order; the first whose rule is true wins; the last variant is the
  default and carries no rule;
* ``(split by::$key pct::P seed::"S")`` is true for P % of context values, by a consistent hash
  of the value; with the same seed, every split of a flag hashes a value to the same point, so
  ``pct::20`` then ``pct::20`` gives 20 % and 0 %, and ``pct::20`` then ``pct::45`` gives 20 % and
  25 %: a later split's percentage is cumulative;
* with a seed, a value splits the same way across flags, profiles and accounts.

AWS does not publish the hash function, so which *particular* user lands in which arm differs
between `evaluate` and the AppConfig agent; the proportions and the ordered, cumulative semantics
are the documented ones, and that is what the weights rely on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

FLAG_SCHEMA_VERSION = "1"
# AWS.AppConfig.FeatureFlags type reference: flag and attribute keys, variant names.
FLAG_KEY_PATTERN = r"^[a-z][a-zA-Z\d_-]{0,63}$"
VARIANT_NAME_MAX = 64
MAX_VARIANTS = 32
SPLIT = re.compile(r'^\(split by::\$(?P<key>[A-Za-z_][A-Za-z0-9_]*) pct::(?P<pct>\d+(?:\.\d+)?)(?: seed::"(?P<seed>[^"]*)")?\)$')


def cumulative_split_rules(weights: Sequence[int], *, key: str, seed: str) -> list[str | None]:
    """One rule per arm so that arm i gets weights[i] % of the values of ``$key``.

    Splits are cumulative under ordered evaluation (module docstring), so arm i's rule carries the
    running total of the weights up to and including it; the last arm is the default (no rule).
    """
    if sum(weights) != 100 or any(w <= 0 for w in weights):
        raise ValueError(f"weights must be positive and add up to 100, got {list(weights)}")
    rules: list[str | None] = []
    total = 0
    for weight in weights[:-1]:
        total += weight
        rules.append(split_rule(key, total, seed))
    return [*rules, None]


def split_rule(key: str, pct: float, seed: str) -> str:
    return f'(split by::${key} pct::{pct:g} seed::"{seed}")'


def hash_point(value: str, seed: str) -> float:
    """A value's place in [0, 100): consistent for a seed (SHA-256 here; AWS's hash is unpublished)."""
    digest = hashlib.sha256(f"{seed}\x00{value}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def rule_matches(rule: str, context: Mapping[str, str], *, flag_key: str) -> bool:
    match = SPLIT.match(rule)
    if match is None:
        raise ValueError(f"flag {flag_key!r}: rule {rule!r} is not a split rule; only `(split by::$key pct::P seed::\"S\")` is evaluated here")
    value = context.get(match["key"])
    if value is None:
        return False  # no context value: the split cannot select this variant
    # Without a seed AWS hashes "locally" per flag: the flag key stands in for it.
    return hash_point(str(value), match["seed"] if match["seed"] is not None else flag_key) < float(match["pct"])


def evaluate(document: Mapping[str, Any], flag_key: str, context: Mapping[str, str]) -> dict[str, Any]:
    """What the AppConfig agent answers for one flag and a context: ``{"_variant": name,
    "enabled": ..., **attributeValues}`` of the first variant whose rule matches (the default,
    last, when none does)."""
    variants = document["values"][flag_key]["_variants"]
    for variant in variants:
        rule = variant.get("rule")
        if rule is None or rule_matches(rule, context, flag_key=flag_key):
            return {"_variant": variant["name"], "enabled": variant["enabled"], **variant.get("attributeValues", {})}
    raise ValueError(f"flag {flag_key!r}: no default variant (the last variant must have no rule)")


def variant_order_problems(document: Mapping[str, Any]) -> list[str]:
    """AppConfig refuses (BadRequestException) a multi-variant flag whose default variant, the one
    without a rule, is not last (user guide, "Understanding multi-variant feature flag concepts")."""
    problems = []
    for flag_key, value in (document.get("values") or {}).items():
        variants = value.get("_variants") or []
        if not variants:
            continue
        if "rule" in variants[-1]:
            problems.append(f"flag {flag_key!r}: the last variant {variants[-1]['name']!r} has a rule; the default variant must be last, without one")
        problems += [f"flag {flag_key!r}: variant {v['name']!r} has no rule but is not last" for v in variants[:-1] if "rule" not in v]
    return problems
