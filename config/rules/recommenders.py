"""Recommender rules: recipes of the group's domain, name lengths, recommenderConfig."""

from __future__ import annotations

from typing import Any

from config import recipes
from config.errors import ConfigIssue, Location
from config.models import AppConfig, DatasetConfig, DatasetGroup
from config.models.base import duplicates
from config.rules.api_shapes import shape_issues
from config.schema_rules import DATASET_TYPE_NAMES
from lambdas.personalize_resources.address_book import NAME_MAX as PERSONALIZE_NAME_MAX
from lambdas.personalize_resources.address_book import RECIPE_ARN_PREFIX


def recommender_issues(config: AppConfig, group: DatasetGroup, base: Location) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []

    def add(path: Location, message: str) -> None:
        issues.append(ConfigIssue(path, message))

    if group.recommenders and group.domain is None:
        add((*base, "recommenders"), "recommenders need a domain dataset group; set `domain: ECOMMERCE` or `domain: VIDEO_ON_DEMAND`")
    for name in duplicates([r.name for r in group.recommenders]):
        add((*base, "recommenders"), f"recommender name {name!r} is used twice; names must be unique in a dataset group")
    for r_index, recommender in enumerate(group.recommenders):
        path = (*base, "recommenders", r_index)
        allowed = recipes.domain_recipe_names(group.domain or "")
        recipe_name = recommender.recipe_arn.removeprefix(RECIPE_ARN_PREFIX)
        if group.domain and recipe_name not in allowed:
            add((*path, "recipe"), f"{recommender.recipe!r} is not {recipes.with_article(group.domain)} recipe; use one of {', '.join(allowed)}")
        physical = config.recommender_name(group, recommender)
        if len(physical) > PERSONALIZE_NAME_MAX:
            add((*path, "name"), f"the recommender's name {physical!r} has {len(physical)} characters, more than {PERSONALIZE_NAME_MAX}; shorten the recommender `name` (or `name` or the dataset group name)")
        if recommender.recommender_config:
            issues += shape_issues(recommender.recommender_config, "RecommenderConfig", (*path, "recommenderConfig"))
            issues += training_column_issues(recommender.recommender_config, group.datasets.present(), (*path, "recommenderConfig", "trainingDataConfig"))
    return issues


def training_column_issues(recommender_config: dict[str, Any], datasets: dict[str, DatasetConfig], path: Location) -> list[ConfigIssue]:
    """Columns named in trainingDataConfig must exist, or CreateRecommender fails at deploy time."""
    issues: list[ConfigIssue] = []
    training = recommender_config.get("trainingDataConfig")
    for key in ("excludedDatasetColumns", "includedDatasetColumns"):
        columns = training.get(key) if isinstance(training, dict) else None
        if not isinstance(columns, dict):
            continue  # the botocore check reports wrong types
        for dataset_name, names in columns.items():
            dataset = datasets.get(str(dataset_name).lower())
            if dataset is None:
                issues.append(ConfigIssue((*path, key, str(dataset_name)), f"not a dataset of this group; use one of {', '.join(n.upper() for n in datasets)}"))
                continue
            known = [f.name for f in dataset.schema_.fields]
            for index, name in enumerate(names if isinstance(names, list) else []):
                if name not in known:
                    issues.append(ConfigIssue((*path, key, str(dataset_name), index), f"{name!r} is not a column of the {DATASET_TYPE_NAMES[str(dataset_name).lower()]} schema; use one of {', '.join(known)}"))
    return issues
