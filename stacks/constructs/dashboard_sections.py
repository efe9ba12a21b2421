"""The dashboard's sections per dataset group, one after the other: attribution (dashboard.py),
custom solutions (solution_widgets.py), operations (operator_widgets.py), experiments
(experiment_widgets.py) and the status of the group's alarms (alarms.py).

Each section is a ``DashboardSection``: it gives its rows of widgets, each row left to right.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from config import AppConfig, DatasetGroup
from stacks.constructs.dashboard import alarm_status_row, group_section
from stacks.constructs.dashboard_metrics import GroupMetrics, InferredSource
from stacks.constructs.experiment_widgets import experiment_rows
from stacks.constructs.operator_widgets import ServingEndpoint, operator_section, serving_endpoints
from stacks.constructs.solution_widgets import solution_rows


class DashboardSection(Protocol):
    def rows(self) -> list[list[cw.IWidget]]:
        """The section's rows of widgets, top to bottom."""
        ...


@dataclass(frozen=True)
class GroupPage:
    """What every section of one dataset group reads."""

    scope: Construct
    config: AppConfig
    group: DatasetGroup
    endpoints: list[ServingEndpoint]
    # The group's attribution metrics; None when its attribution does not publish to CloudWatch.
    data: GroupMetrics | None


@dataclass(frozen=True)
class BuiltSection:
    """A section whose rows were made when it was (the attribution section: its metrics feed the others)."""

    built: list[list[cw.IWidget]]

    def rows(self) -> list[list[cw.IWidget]]:
        return self.built


@dataclass(frozen=True)
class SolutionSection:
    page: GroupPage
    read_metrics: bool

    def rows(self) -> list[list[cw.IWidget]]:
        page = self.page
        return solution_rows(page.scope, page.config, page.group, page.data, page.endpoints, read_metrics=self.read_metrics)


@dataclass(frozen=True)
class OperatorSection:
    page: GroupPage

    def rows(self) -> list[list[cw.IWidget]]:
        return operator_section(self.page.scope, self.page.config, self.page.group, self.page.data)


@dataclass(frozen=True)
class ExperimentSection:
    page: GroupPage

    def rows(self) -> list[list[cw.IWidget]]:
        return experiment_rows(self.page.scope, self.page.config, self.page.group, self.page.data)


@dataclass(frozen=True)
class AlarmStatusSection:
    group: DatasetGroup
    alarms: list[cw.Alarm]

    def rows(self) -> list[list[cw.IWidget]]:
        return alarm_status_row(self.group, self.alarms)


def group_rows(
    scope: Construct,
    config: AppConfig,
    group: DatasetGroup,
    *,
    report_bucket: str,
    report_prefix: str,
    athena_table: str | None,
    read_metrics: bool,
    alarms: list[cw.Alarm],
) -> list[list[cw.IWidget]]:
    """Every section's rows for one group; none when it charts nothing and operates nothing."""
    endpoints = serving_endpoints(scope, config, group)
    inferred = tuple(InferredSource(e.source_name, e.arn, f"{e.source_name} (as {e.kind} ARN)") for e in endpoints)
    data, attribution = group_section(
        scope, config=config, group=group, report_bucket=report_bucket, report_prefix=report_prefix, athena_table=athena_table, inferred=inferred
    )
    page = GroupPage(scope, config, group, endpoints, data)
    sections: list[DashboardSection] = [BuiltSection(attribution), SolutionSection(page, read_metrics), OperatorSection(page), ExperimentSection(page)]
    rows = [row for section in sections for row in section.rows()]
    if data is None and len(rows) == 1:
        return []  # only the header: no section
    return rows + AlarmStatusSection(group, alarms).rows()
