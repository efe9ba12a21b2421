"""Read a config file and validate it: YAML, then the models (pydantic), then the rules that span
fields (config.rules). Every problem becomes a `ConfigIssue`; one `ConfigError` holds them all."""

from __future__ import annotations

import datetime
import difflib
import warnings
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from config.errors import ConfigError, ConfigIssue, Location
from config.models import AppConfig
from config.models.base import ATTRIBUTION_SOURCE_PATTERN, SHORT_NAME_PATTERN
from config.rules import semantic_issues


def load_config(path: str | Path, *, choose_with: str | None = None) -> AppConfig:
    """Read and validate a config file; raise ConfigError naming every problem.

    `choose_with` tells how the caller's user names the file (`-c config=PATH`, `make synth
    CONFIG=PATH`, `--config PATH`), for the message when it cannot be read."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        how = f" with {choose_with}" if choose_with else ""
        raise ConfigError(source, [ConfigIssue(("(file)",), f"cannot read it ({err.strerror}); pass an existing file{how}")]) from None
    try:
        raw = _read_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise ConfigError(source, [ConfigIssue((where,), f"not valid YAML ({getattr(err, 'problem', err)}); fix the syntax there")]) from None
    return parse_config(raw, source)


def _read_yaml(text: str) -> Any:
    """libyaml's parser when PyYAML has it (most of a load's time is parsing); a file it refuses is
    parsed again by the pure-Python one, whose error messages are the ones reported."""
    if getattr(yaml, "__with_libyaml__", False):
        try:
            return yaml.load(text, Loader=yaml.CSafeLoader)
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def _as_spelled(issue: ConfigIssue, renamed: dict[str, str]) -> ConfigIssue:
    """The issue located at the top-level key as the file spells it (its old name, when renamed)."""
    top = issue.location[0] if issue.location else None
    if isinstance(top, str) and top in renamed:
        return ConfigIssue((renamed[top], *issue.location[1:]), issue.message)
    return issue


class ConfigDeprecationWarning(UserWarning):
    """A config key that still works under an old name; app.py prints it at synth."""


# Old top-level key -> its new name. The old one is still read, with a warning.
RENAMED_KEYS = {"recommenderReadyTimeoutHours": "longWaitTimeoutHours"}


def _renamed(raw: dict[str, Any], source: str) -> tuple[dict[str, Any], dict[str, str]]:
    """``raw`` with each old key under its new name, and new -> old for the keys renamed."""
    renamed = {}
    for old, new in RENAMED_KEYS.items():
        if old not in raw:
            continue
        if new in raw:
            raise ConfigError(source, [ConfigIssue((old,), f"is the old name of `{new}`, which is set too; remove `{old}`")])
        warnings.warn(f"{source}: `{old}` is deprecated; rename it `{new}` (it bounds every long wait, not only recommenders')", ConfigDeprecationWarning, stacklevel=3)
        raw = {(new if key == old else key): value for key, value in raw.items()}
        renamed[new] = old
    return raw, renamed


def parse_config(raw: Any, source: str = "config") -> AppConfig:
    if not isinstance(raw, dict):
        raise ConfigError(source, [ConfigIssue((), "must be a mapping with at least `name` and `datasetGroups`")])
    raw, renamed = _renamed(raw, source)
    try:
        config = AppConfig.model_validate(raw)
    except ValidationError as err:
        issues = [_issue_from_pydantic(e, raw) for e in err.errors()]
        raise ConfigError(source, [_as_spelled(issue, renamed) for issue in issues]) from None
    issues = semantic_issues(config)
    if issues:
        raise ConfigError(source, issues)
    return config


# --- formatting pydantic errors -----------------------------------------------------------------


# How to fix a value that does not match a field's pattern, per pattern.
PATTERN_HINTS = {
    SHORT_NAME_PATTERN: "use lower-case letters, digits and '-', starting with a letter or digit",
    ATTRIBUTION_SOURCE_PATTERN: "use letters, digits, '_' and '-', starting with a letter or digit",
    r"^[A-Za-z][A-Za-z0-9_]*$": "start with a letter, then use letters, digits and '_'",
    r"^[a-z][A-Za-z0-9_]*$": "start with a lower-case letter, then use letters, digits and '_'",
    r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$": "use a KMS key ARN such as arn:aws:kms:REGION:ACCOUNT:key/KEY-ID",
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$": "use an email address such as team@example.com",
    r"^[A-Za-z0-9._-]{1,20}$": "use up to 20 letters, digits, '.', '_' or '-', e.g. \"2\"",
    r"^rate\(\d+ days?\)$": "write rate(N days), e.g. rate(7 days)",
}


def _known_fields(raw: Any, loc: Location) -> list[str]:
    """Aliases the model accepts at the parent of `loc`, for "did you mean" hints."""
    model: Any = AppConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return []
        model = _inner_model(field.annotation)
        if model is None:
            return []
    return [f.alias or n for n, f in model.model_fields.items()]


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    metadata_origin = getattr(annotation, "__origin__", None)
    if metadata_origin is not None and metadata_origin is not annotation:
        return _inner_model(metadata_origin)
    return None


def _issue_from_pydantic(error: ErrorDetails, raw: Any) -> ConfigIssue:
    loc: Location = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _known_fields(raw, loc)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        fix = f"did you mean `{close[0]}`?" if close else f"allowed here: {', '.join(known)}" if known else "remove it"
        return ConfigIssue(loc, f"unknown field; {fix}")
    if kind == "missing":
        return ConfigIssue(loc, "is required; add it (see config/default.yaml for an example)")
    if kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        hint = PATTERN_HINTS.get(pattern, "change it to match")
        return ConfigIssue(loc, f"{error['input']!r} does not match {pattern}; {hint}")
    if kind == "string_type" and isinstance(error.get("input"), (int, float, bool, datetime.date)):
        return ConfigIssue(loc, f"must be a string, but YAML read {error['input']!r} as {type(error['input']).__name__}; put it in quotes, e.g. \"{error['input']}\"")
    if kind in {"enum", "literal_error"}:
        expected = error.get("ctx", {}).get("expected", "")
        return ConfigIssue(loc, f"{error['input']!r} is not allowed; use one of {expected}")
    if kind == "value_error":
        return ConfigIssue(loc, str(error.get("ctx", {}).get("error", error["msg"])))
    return ConfigIssue(loc, f"{error['msg'].rstrip('.')} (got {error.get('input')!r}); fix the value")
