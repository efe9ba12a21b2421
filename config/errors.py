"""How a configuration problem is reported: its location in the file, what is wrong and the fix."""

from __future__ import annotations

from dataclasses import dataclass

# Keys and list indexes from the top of the file, as pydantic's `loc`: ("datasetGroups", 0, "name").
# A place the file's structure cannot name (the file itself, a YAML syntax error's line) is one
# part that names it: ("(file)",), ("line 3, column 5",).
Location = tuple[str | int, ...]


def format_path(location: Location) -> str:
    """``datasetGroups[0].metricAttribution.metrics[2]``: keys joined with dots, indexes in brackets."""
    out = ""
    for part in location:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


@dataclass(frozen=True)
class ConfigIssue:
    location: Location
    message: str  # what is wrong and how to fix it

    def __post_init__(self) -> None:
        # A dotted string here would be formatted character by character; refuse it outright.
        if not isinstance(self.location, tuple):
            raise TypeError(f"ConfigIssue location must be a tuple of keys and indexes, not {self.location!r}")

    @property
    def path(self) -> str:
        return format_path(self.location)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(Exception):
    def __init__(self, source: str, issues: list[ConfigIssue]):
        self.source = source
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        count = f"{len(issues)} configuration problem{'' if len(issues) == 1 else 's'}"
        super().__init__(f"{source}: {count}:\n{lines}")
