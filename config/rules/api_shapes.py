"""Request fragments written in the config (recommenderConfig) checked against botocore's model."""

from __future__ import annotations

import re
from typing import Any

from botocore.validate import ParamValidator

from config.errors import ConfigIssue, Location
from config.personalize_api import personalize_model


def shape_issues(value: Any, shape_name: str, path: Location) -> list[ConfigIssue]:
    """Validate a request fragment with botocore's own model, so the API is not re-typed here."""
    shape = personalize_model().shape_for(shape_name)
    report = ParamValidator().validate(value, shape)
    issues = []
    if report.has_errors():
        for line in report.generate_report().splitlines():
            issues.append(ConfigIssue(path, line.strip() + " (per the Personalize API model)"))
    issues += _length_issues(value, shape, path)
    return issues


def _length_issues(value: Any, shape: Any, path: Location) -> list[ConfigIssue]:
    """botocore checks types and minimums; maximum sizes, key patterns and booleans given for
    numbers (botocore takes `true` as an integer, as Python does) are checked here."""
    issues: list[ConfigIssue] = []
    if isinstance(value, bool) and shape.type_name in {"integer", "long", "float", "double"}:
        issues.append(ConfigIssue(path, f"must be a number, but YAML read {str(value).lower()} as a boolean; write a number (per the Personalize API model, a {shape.type_name})"))
    maximum = shape.metadata.get("max")
    if maximum is not None and isinstance(value, (str, list, dict)) and len(value) > maximum:
        issues.append(ConfigIssue(path, f"has {len(value)} entries/characters; the API allows at most {maximum}"))
    if shape.type_name == "structure" and isinstance(value, dict):
        for key, member in shape.members.items():
            if key in value:
                issues += _length_issues(value[key], member, (*path, key))
    elif shape.type_name == "map" and isinstance(value, dict):
        pattern = shape.key.metadata.get("pattern")
        for key, item in value.items():
            if pattern and not re.match(pattern, str(key)):
                issues.append(ConfigIssue((*path, str(key)), f"key does not match {pattern}"))
            issues += _length_issues(item, shape.value, (*path, str(key)))
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            issues += _length_issues(item, shape.member, (*path, index))
    return issues
