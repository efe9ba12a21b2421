"""The CloudWatch dashboard (and optional alarms) for Personalize metric attribution.

Environment-agnostic and independent of the other stacks' outputs: dataset group ARNs and the
data bucket name are derived from the config's names and the pseudo parameters, so there is no
CloudFormation export and the stack can be deployed, updated or removed on its own.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from stacks.configuration import AppConfig
from stacks.constructs.dashboard import (
    AttributionAlarms,
    charted_groups,
    group_section,
    intro_text,
)
from stacks.deployment import StackSettings
from stacks.storage_stack import REPORT_PREFIX, data_bucket_name

DEFAULT_INTERVAL = Duration.days(7)


def dashboard_name(config: AppConfig) -> str:
    return f"{config.name}-metric-attribution"


class DashboardStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, parameterized: bool = False, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        config = StackSettings.of(self, config, parameterized).config
        groups = charted_groups(config)

        self.alarms: AttributionAlarms | None = None
        if config.dashboard.alarms:
            self.alarms = AttributionAlarms(self, "Alarms", config=config, parameterized=parameterized)
        alarms_by_group = self.alarms.by_group if self.alarms else {}

        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name(config),
            default_interval=DEFAULT_INTERVAL,
        )
        self.dashboard.add_widgets(intro_text(config, groups))
        bucket = data_bucket_name(config)
        for group in groups:
            for row in group_section(
                self,
                config=config,
                group=group,
                report_bucket=bucket,
                report_prefix=REPORT_PREFIX,
                alarms=alarms_by_group.get(group.name, []),
            ):
                self.dashboard.add_widgets(*row)
