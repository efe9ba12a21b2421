"""The rules that span fields, one module per concern; pydantic checks each field alone.

Each rule takes the validated config (or one dataset group of it and its path, `base`) and
returns `ConfigIssue`s naming the path, what is wrong and the fix; `semantic_issues` runs them all
in file order.
"""

from __future__ import annotations

from config.errors import ConfigIssue
from config.models import AppConfig
from config.rules.app import app_issues
from config.rules.attribution import metric_issues, source_collisions
from config.rules.dashboard import dashboard_issues
from config.rules.datasets import dataset_issues
from config.rules.experiments import experiment_issues
from config.rules.filters import filter_issues
from config.rules.recommenders import recommender_issues
from config.rules.solutions import solution_issues


def semantic_issues(config: AppConfig) -> list[ConfigIssue]:
    issues = app_issues(config)
    for g_index, group in enumerate(config.dataset_groups):
        base = ("datasetGroups", g_index)
        issues += dataset_issues(config, group, base)
        if group.metric_attribution is not None:
            issues += metric_issues(group, (*base, "metricAttribution"))
        issues += recommender_issues(config, group, base)
        issues += solution_issues(config, group, base)
        issues += filter_issues(config, group, base)
        issues += experiment_issues(config, group, base)
        issues += source_collisions(group, base)
    issues += dashboard_issues(config)
    return issues


__all__ = ["semantic_issues"]
