"""Solution rules: recipe against the group and its data (config.recipes), event types, auto-training,
name lengths, campaigns."""

from __future__ import annotations

from config import recipes
from config.errors import ConfigIssue, Location
from config.models import AppConfig, AutoTraining, DatasetGroup
from config.models.base import duplicates
from config.personalize_api import auto_training_days
from lambdas.personalize_resources.address_book import NAME_MAX as PERSONALIZE_NAME_MAX
from lambdas.personalize_resources.address_book import SAMPLE_EVENT_TYPES, SAMPLE_RATING, SOLUTION_BASE_NAME_MAX


def known_event_types(group: DatasetGroup) -> frozenset[str] | None:
    """Event types the group's data holds: the metric attribution's and, with the sample data,
    the generator's. None when the interactions are the user's own (not known at synth)."""
    data_import = group.datasets.interactions.data_import
    if data_import is None or data_import.location != "sample":
        return None
    metrics = {m.event_type for m in group.metric_attribution.metrics} if group.metric_attribution else set()
    # Rating events exist only in the ratings variant, imported when the schema has EVENT_VALUE.
    ratings = group.datasets.interactions.schema_.field("EVENT_VALUE") is not None
    sample = {t for t in SAMPLE_EVENT_TYPES if ratings or t != SAMPLE_RATING}
    return frozenset(metrics | sample)


def solution_issues(config: AppConfig, group: DatasetGroup, base: Location) -> list[ConfigIssue]:
    """Recipe vs. group and data (config/recipes.py), names, campaigns."""
    issues: list[ConfigIssue] = []
    datasets = group.datasets.present()
    columns = {f.name: f.type.value for f in group.datasets.interactions.schema_.fields}
    event_types = known_event_types(group)
    for name in duplicates([s.name for s in group.solutions]):
        issues.append(ConfigIssue((*base, "solutions"), f"solution name {name!r} is used twice; names must be unique in a dataset group"))
    for name in duplicates([c.name for _, c in group.campaigns()]):
        issues.append(ConfigIssue((*base, "solutions"), f"campaign name {name!r} is used twice; campaign names must be unique in a dataset group"))
    for s_index, solution in enumerate(group.solutions):
        path = (*base, "solutions", s_index)
        settings = recipes.SolutionSettings(
            recipe=solution.recipe,
            event_type=solution.event_type,
            event_value_threshold=solution.event_value_threshold,
            events=tuple(e.to_api() for e in solution.events),
            perform_hpo=solution.perform_hpo,
            training_mode=solution.training.mode,
            known_event_types=event_types,
            interactions_columns=columns,
        )
        field_locations: dict[str, Location] = {"trainingMode": ("training", "mode")}
        for field_name, message in recipes.solution_issues(settings, datasets=datasets):
            issues.append(ConfigIssue((*path, *field_locations.get(field_name, (field_name,))), message))
        if event_types is not None:
            for e_index, event in enumerate(solution.events):
                if event.event_type not in event_types:
                    issues.append(ConfigIssue((*path, "events", e_index, "eventType"), f"{event.event_type!r} is not an event type of this dataset group's data (known: {', '.join(sorted(event_types))}); training on it would find no interactions"))
        issues += auto_training_issues(solution.auto_training, (*path, "autoTraining"))
        for name in duplicates([e.event_type for e in solution.events]):
            issues.append(ConfigIssue((*path, "events"), f"event type {name!r} is listed twice; give each event type one entry"))
        base_name = config.solution_base_name(group, solution)
        if len(base_name) > SOLUTION_BASE_NAME_MAX:
            issues.append(ConfigIssue((*path, "name"), f"the solution's name {base_name!r} has {len(base_name)} characters; with the 9-character settings digest the handler appends it would exceed {PERSONALIZE_NAME_MAX}: keep it within {SOLUTION_BASE_NAME_MAX} by shortening the solution `name` (or `name` or the dataset group name)"))
        version_name = config.solution_version_name(group, solution)
        if len(version_name) > PERSONALIZE_NAME_MAX:
            issues.append(ConfigIssue((*path, "name"), f"the solution version's name {version_name!r} exceeds {PERSONALIZE_NAME_MAX} characters; shorten the solution `name`"))
        for c_index, campaign in enumerate(solution.campaigns):
            physical = config.campaign_name(group, campaign)
            if len(physical) > PERSONALIZE_NAME_MAX:
                issues.append(ConfigIssue((*path, "campaigns", c_index, "name"), f"the campaign's name {physical!r} has {len(physical)} characters, more than {PERSONALIZE_NAME_MAX}; shorten the campaign `name`"))
            if campaign.item_exploration is not None and (entry := recipes.recipe(solution.recipe)) is not None and entry.name != "aws-user-personalization":
                issues.append(ConfigIssue((*path, "campaigns", c_index, "itemExploration"), f"item exploration applies to aws-user-personalization campaigns only, not {entry.name}; drop itemExploration"))
    return issues


def auto_training_issues(auto_training: AutoTraining, path: Location) -> list[ConfigIssue]:
    if auto_training.schedule is None:
        return []
    days = auto_training.interval_days
    low, high = auto_training_days()
    if low <= days <= high:
        return []
    return [ConfigIssue((*path, "schedule"), f"{auto_training.schedule} trains every {days} days, but Personalize accepts {low} to {high} days (botocore AutoTrainingConfig.schedulingExpression); write e.g. rate({min(max(days, low), high)} days)")]
