"""Experiment rules: arms are servable sources of the group, weights add up to 100, metrics exist."""

from __future__ import annotations

import re

from config.errors import ConfigIssue, Location
from config.feature_flags import FLAG_KEY_PATTERN, VARIANT_NAME_MAX
from config.models import AppConfig, DatasetGroup
from config.models.base import duplicates


def experiment_issues(config: AppConfig, group: DatasetGroup, base: Location) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []

    def add(path: Location, message: str) -> None:
        issues.append(ConfigIssue(path, message))

    for name in duplicates([e.name for e in group.experiments]):
        add((*base, "experiments"), f"experiment name {name!r} is used twice; names must be unique in a dataset group (each is a flag key)")
    servable = _servable_sources(group)
    known = group.all_sources()
    metrics = [m.metric_name for m in group.metric_attribution.metrics] if group.metric_attribution else []
    for index, experiment in enumerate(group.experiments):
        path = (*base, "experiments", index)
        if not re.match(FLAG_KEY_PATTERN, experiment.name):
            add((*path, "name"), f"{experiment.name!r} must start with a letter (it is an AppConfig flag key, {FLAG_KEY_PATTERN}); e.g. 'exp-{experiment.name}'")
        for source in duplicates([arm.source for arm in experiment.arms]):
            add((*path, "arms"), f"source {source!r} is in two arms; give each arm its own source")
        total = sum(arm.weight for arm in experiment.arms)
        if total != 100:
            add((*path, "arms"), f"weights add up to {total}, not 100; change them so they do (e.g. {_even_weights(len(experiment.arms))})")
        for a_index, arm in enumerate(experiment.arms):
            arm_path = (*path, "arms", a_index, "source")
            if arm.source not in known:
                add(arm_path, f"{arm.source!r} is not a source of dataset group {group.name!r}; use one of {known} (recommenders', campaigns' or attributionSources)")
            elif servable.get(arm.source):
                add(arm_path, f"{arm.source!r} cannot serve: {servable[arm.source]}")
            if len(arm.source) > VARIANT_NAME_MAX:
                add(arm_path, f"{arm.source!r} has {len(arm.source)} characters; an AppConfig variant name allows {VARIANT_NAME_MAX}: give the source a shorter attributionSource")
        if experiment.end is not None and experiment.end <= experiment.start:
            add((*path, "end"), f"{experiment.end} is not after start {experiment.start}; set end later than start, or drop it")
        if experiment.winner is not None:
            if experiment.winner not in experiment.weights:
                add((*path, "winner"), f"{experiment.winner!r} is not an arm; use one of {list(experiment.weights)}")
            if experiment.end is None:
                add((*path, "winner"), "a winner ends the experiment: set `end` (the last day analysed) too")
        if not metrics:
            add((*path, "primaryMetric"), "the dataset group has no metricAttribution: add one, the experiment's outcomes are its metrics")
            continue
        for m_path, metric in [((*path, "primaryMetric"), experiment.primary_metric)] + [
            ((*path, "guardrailMetrics", i), name) for i, name in enumerate(experiment.guardrail_metrics)
        ]:
            if metric not in metrics:
                add(m_path, f"{metric!r} is not a metric of the group's metricAttribution; use one of {metrics}")
        if experiment.primary_metric in experiment.guardrail_metrics:
            add((*path, "guardrailMetrics"), f"{experiment.primary_metric!r} is the primary metric; list only other metrics as guardrails")
    return issues


def _even_weights(arms: int) -> str:
    share, rest = divmod(100, arms)
    return "/".join(str(share + (1 if i < rest else 0)) for i in range(arms))


def _servable_sources(group: DatasetGroup) -> dict[str, str]:
    """Recommender and campaign sources, with why one cannot serve an arm ('' when it can)."""
    out = {r.source_name: ("the recommender is INACTIVE; set `state: ACTIVE`" if r.state != "ACTIVE" else "") for r in group.recommenders}
    for _, campaign in group.campaigns():
        out[campaign.source_name] = "" if campaign.enabled else "the campaign is `enabled: false` (deleted); enable it"
    return out
