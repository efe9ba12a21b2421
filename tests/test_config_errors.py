"""config.errors: a location tuple is printed as the path the messages name."""

from __future__ import annotations

import pytest

from config.errors import ConfigIssue, format_path


@pytest.mark.parametrize(("location", "path"), [
    (("datasetGroups", 0, "metricAttribution", "metrics", 2, "expression"), "datasetGroups[0].metricAttribution.metrics[2].expression"),
    (("dashboard", "alarms"), "dashboard.alarms"),
    (("line 3, column 5",), "line 3, column 5"),
    ((), "(top level)"),
])
def test_locations_print_as_paths(location: tuple[str | int, ...], path: str) -> None:
    assert format_path(location) == path
    assert str(ConfigIssue(location, "the fix")) == f"{path}: the fix"


def test_a_dotted_string_is_not_a_location() -> None:
    with pytest.raises(TypeError, match="tuple of keys and indexes"):
        ConfigIssue("datasetGroups[0].name", "the fix")  # type: ignore[arg-type]
