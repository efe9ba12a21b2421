"""Dashboard rules: derived metrics and alarms name real metrics, sources and groups."""

from __future__ import annotations

import re

from config.errors import ConfigIssue
from config.models import AppConfig
from config.models.base import duplicates
from lambdas.personalize_resources.address_book import METRIC_NAME_IN_EXPRESSION, cloudwatch_name


def dashboard_issues(config: AppConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    metric_names = {m.metric_name for g in config.dataset_groups if g.metric_attribution for m in g.metric_attribution.metrics}
    for index, derived in enumerate(config.dashboard.derived_metrics):
        unknown = sorted(set(METRIC_NAME_IN_EXPRESSION.findall(derived.expression)) - metric_names)
        if unknown:
            issues.append(ConfigIssue(("dashboard", "derivedMetrics", index, "expression"), f"refers to {', '.join(unknown)}, which no metric attribution defines; use metric names from {sorted(metric_names)}"))
        if not re.fullmatch(r"[A-Za-z0-9_+\-*/(). ]+", derived.expression):
            issues.append(ConfigIssue(("dashboard", "derivedMetrics", index, "expression"), "use metric names, numbers, + - * / and parentheses only"))
    for name in duplicates([d.name for d in config.dashboard.derived_metrics]):
        issues.append(ConfigIssue(("dashboard", "derivedMetrics"), f"derived metric {name!r} is defined twice"))
    groups = {g.name: g for g in config.dataset_groups}
    for index, alarm in enumerate(config.dashboard.alarms):
        path = ("dashboard", "alarms", index)
        group = groups.get(alarm.dataset_group)
        if group is None:
            issues.append(ConfigIssue((*path, "datasetGroup"), f"no dataset group {alarm.dataset_group!r}; use one of {sorted(groups)}"))
            continue
        metrics = [m.metric_name for m in group.metric_attribution.metrics] if group.metric_attribution else []
        if group.metric_attribution is not None and not group.metric_attribution.cloudwatch:
            issues.append(ConfigIssue((*path, "datasetGroup"), f"{group.name} does not publish metrics to CloudWatch (metricAttribution.cloudwatch is false), so the alarm would never see data; set `cloudwatch: true` or drop the alarm"))
        if alarm.metric not in metrics:
            issues.append(ConfigIssue((*path, "metric"), f"{alarm.metric!r} is not a metric of {group.name}; use one of {metrics}"))
        if cloudwatch_name(alarm.source) not in {cloudwatch_name(s) for s in group.all_sources()}:
            issues.append(ConfigIssue((*path, "source"), f"{alarm.source!r} is not a known source of {group.name}; add it to attributionSources or use one of {group.all_sources()}"))
    for name in duplicates([a.name for a in config.dashboard.alarms]):
        issues.append(ConfigIssue(("dashboard", "alarms"), f"alarm {name!r} is defined twice"))
    if config.dashboard.alarms and not config.dashboard.enabled:
        issues.append(ConfigIssue(("dashboard", "alarms"), "alarms are declared but dashboard.enabled is false; enable the dashboard or drop the alarms"))
    if config.dashboard.ingestion_alarms.enabled and not config.dashboard.enabled:
        issues.append(ConfigIssue(("dashboard", "ingestionAlarms", "enabled"), "ingestion alarms are on but dashboard.enabled is false; enable the dashboard or set ingestionAlarms.enabled: false"))
    if config.dashboard.ingestion_alarms.enabled and not any(g.event_tracker for g in config.dataset_groups):
        issues.append(ConfigIssue(("dashboard", "ingestionAlarms", "enabled"), "no dataset group has an event tracker, so there are no PutEvents calls to watch; set `eventTracker: true` on a group or turn the alarms off"))
    return issues
