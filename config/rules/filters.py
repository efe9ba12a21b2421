"""Filter rules: each expression parses (config.filters) and names real, filterable columns."""

from __future__ import annotations

from config import filters, recipes
from config.errors import ConfigIssue, Location
from config.models import AppConfig, DatasetGroup
from config.models.base import duplicates
from config.schema_rules import DATASET_TYPE_NAMES
from lambdas.personalize_resources.address_book import NAME_MAX as PERSONALIZE_NAME_MAX


def filter_issues(config: AppConfig, group: DatasetGroup, base: Location) -> list[ConfigIssue]:
    """Each expression parses (documented grammar) and names real, filterable columns."""
    issues: list[ConfigIssue] = []
    columns = {
        DATASET_TYPE_NAMES[t]: {f.name: filters.Column(f.type.value, f.textual) for f in d.schema_.fields}
        for t, d in group.datasets.present().items()
    }
    related = any((r := recipes.recipe(x)) is not None and r.related_items for x in [s.recipe for s in group.solutions] + [r.recipe_arn for r in group.recommenders])
    for name in duplicates([f.name for f in group.filters]):
        issues.append(ConfigIssue((*base, "filters"), f"filter name {name!r} is used twice; names must be unique in a dataset group"))
    for f_index, filter_ in enumerate(group.filters):
        path = (*base, "filters", f_index)
        try:
            parsed = filters.parse_filter(filter_.expression)
        except filters.FilterExpressionError as err:
            issues.append(ConfigIssue((*path, "expression"), str(err)))  # "at character N: ..., fix"
            continue
        for message in filters.column_issues(parsed, columns):
            issues.append(ConfigIssue((*path, "expression"), message))
        if parsed.uses_current_item and not related:
            issues.append(ConfigIssue((*path, "expression"), "CurrentItem works only with related-items recipes (e.g. aws-similar-items); add such a solution or recommender, or drop the CurrentItem condition"))
        physical = config.filter_name(group, filter_)
        if len(physical) > PERSONALIZE_NAME_MAX:
            issues.append(ConfigIssue((*path, "name"), f"the filter's name {physical!r} has {len(physical)} characters, more than {PERSONALIZE_NAME_MAX}; shorten the filter `name`"))
    return issues
