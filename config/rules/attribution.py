"""Metric attribution rules: metric expressions against the schemas, and sources that collide in CloudWatch."""

from __future__ import annotations

from config.errors import ConfigIssue, Location, format_path
from config.models import AvroType, DatasetGroup
from config.models.attribution import METRIC_EXPRESSION
from config.models.base import duplicates
from config.schema_rules import NUMERIC_TYPES, SCHEMA_RULES
from lambdas.personalize_resources.address_book import MAX_METRICS, cloudwatch_name


def metric_issues(group: DatasetGroup, path: Location) -> list[ConfigIssue]:
    attribution = group.metric_attribution
    assert attribution is not None
    issues: list[ConfigIssue] = []
    if len(attribution.metrics) > MAX_METRICS:
        issues.append(ConfigIssue((*path, "metrics"), f"has {len(attribution.metrics)} metrics; a metric attribution allows at most {MAX_METRICS}"))
    for name in duplicates([m.cloudwatch_name for m in attribution.metrics]):
        issues.append(ConfigIssue((*path, "metrics"), f"metric name {name!r} appears twice (CloudWatch upper-cases names); make them unique"))
    interactions = group.datasets.interactions.schema_
    event_type = interactions.field("EVENT_TYPE")
    if "EVENT_TYPE" in SCHEMA_RULES[(group.domain, "interactions")].required:
        pass  # domain groups require it anyway; `schema_issues` reports it
    elif event_type is None:
        issues.append(ConfigIssue((*path[:-1], "datasets", "interactions", "schema", "fields"), "a metric attribution needs an `EVENT_TYPE` string field in the Interactions schema; add `- {name: EVENT_TYPE, type: string}`"))
    elif event_type.type is not AvroType.STRING:
        index = interactions.fields.index(event_type)
        issues.append(ConfigIssue((*path[:-1], "datasets", "interactions", "schema", "fields", index, "type"), f"`EVENT_TYPE` must be a string (metrics match it against eventType), not {event_type.type.value}; set `type: string`"))
    schemas = {"INTERACTIONS": group.datasets.interactions, "ITEMS": group.datasets.items}
    for index, metric in enumerate(attribution.metrics):
        mpath = (*path, "metrics", index, "expression")
        match = METRIC_EXPRESSION.match(metric.expression)
        if not match:
            issues.append(ConfigIssue(mpath, f"{metric.expression!r} is not SAMPLECOUNT() or SUM(INTERACTIONS.COLUMN) / SUM(ITEMS.COLUMN)"))
            continue
        if match["count"]:
            continue
        dataset_name, column = match["dataset"].upper(), match["column"]  # the model normalised it already
        if dataset_name not in schemas:
            issues.append(ConfigIssue(mpath, f"{dataset_name!r} is not a dataset a metric can read; use INTERACTIONS or ITEMS"))
            continue
        dataset = schemas[dataset_name]
        if dataset is None:
            issues.append(ConfigIssue(mpath, f"SUM({dataset_name}.{column}) needs an Items dataset; add datasets.items with a numeric `{column}` field"))
            continue
        field = dataset.schema_.field(column)
        if field is None:
            known = [f.name for f in dataset.schema_.fields if f.type.value in NUMERIC_TYPES]
            issues.append(ConfigIssue(mpath, f"the {dataset_name.title()} schema has no column {column!r}; numeric columns there: {', '.join(known) or 'none'}"))
        elif field.type.value not in NUMERIC_TYPES:
            issues.append(ConfigIssue(mpath, f"SUM needs a numeric column, but {column} is {field.type.value}; use int, long, float or double, or SAMPLECOUNT()"))
    return issues


def _source_owners(group: DatasetGroup, base: Location) -> list[tuple[str, str, Location]]:
    """(source, who sends it, config path) for every attribution source of the group, in
    `all_sources` order; a source taken from a name points at that name."""
    owners: list[tuple[str, str, Location]] = []
    for r_index, recommender in enumerate(group.recommenders):
        field = "attributionSource" if recommender.attribution_source else "name"
        owners.append((recommender.source_name, f"recommender {recommender.name}", (*base, "recommenders", r_index, field)))
    for s_index, solution in enumerate(group.solutions):
        for c_index, campaign in enumerate(solution.campaigns):
            field = "attributionSource" if campaign.attribution_source else "name"
            owners.append((campaign.source_name, f"campaign {campaign.name}", (*base, "solutions", s_index, "campaigns", c_index, field)))
    for index, source in enumerate(group.attribution_sources):
        owners.append((source, "a third-party source", (*base, "attributionSources", index)))
    return owners


def source_collisions(group: DatasetGroup, base: Location) -> list[ConfigIssue]:
    """Sources equal once upper-cased (as CloudWatch records them), reported where the second
    one is set and naming every sender that shares it."""
    issues: list[ConfigIssue] = []
    owners = _source_owners(group, base)
    for source in dict.fromkeys(duplicates([cloudwatch_name(s) for s, _, _ in owners])):
        sharing = [(who, path) for s, who, path in owners if cloudwatch_name(s) == source]
        senders = " and ".join(f"{who} ({format_path(path)})" for who, path in sharing)
        issues.append(ConfigIssue(sharing[1][1], f"attribution source {source!r} is shared by {senders}; CloudWatch upper-cases sources, so their figures would mix: give each sender its own source"))
    return issues
