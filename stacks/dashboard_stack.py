"""The CloudWatch dashboard, alarms and report queries (Glue + Athena) of an environment.

Environment-agnostic and independent of the other stacks' outputs: dataset group and
recommender ARNs and the data bucket name are derived from the config's names and the pseudo
parameters, so there is no CloudFormation export and the stack can be deployed, updated or
removed on its own. Nothing here holds data: the report queries read the storage stack's bucket.

Composition: per dataset group, its sections one after the other
(stacks/constructs/dashboard_sections.py): attribution, a row per custom solution (offline metrics
next to its campaigns' online figures), operations, experiments and the status of its alarms.

The solution rows read the offline metrics from SSM parameters the personalize stack writes, at
deploy time: with solutions in the config this stack is deployed after the personalize stack
(app_builder adds the dependency; ``reads_personalize_outputs``).
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from lambdas.personalize_resources.address_book import REPORT_PREFIX
from config import AppConfig
from stacks.constructs.alarms import DashboardAlarms
from stacks.constructs.dashboard import DASHBOARD_WIDTH, charted_groups, intro_text, text_height
from stacks.constructs.dashboard_sections import group_rows
from stacks.constructs.solution_widgets import fix_dashboard_body
from stacks.constructs.report_queries import TABLE_NAME, ReportQueries, database_name, reporting_groups
from stacks.cost import estimate, markdown
from stacks.deployment import StackSettings
from stacks.storage_stack import data_bucket_name

DEFAULT_INTERVAL = Duration.days(7)


def cost_text(config: AppConfig) -> cw.TextWidget:
    """What the environment bills, estimated from its config at synth (stacks/cost.py)."""
    lines = markdown(estimate(config))
    return cw.TextWidget(markdown="\n".join(lines), width=DASHBOARD_WIDTH, height=text_height(lines))


def dashboard_name(config: AppConfig) -> str:
    return f"{config.name}-metric-attribution"


class DashboardStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, parameterized: bool = False, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        config = StackSettings.of(self, config, parameterized).config
        bucket = data_bucket_name(config)
        with_queries = config.dashboard.report_queries and bool(reporting_groups(config))
        athena_table = f"{database_name(config)}.{TABLE_NAME}" if with_queries else None

        self.alarms: DashboardAlarms | None = None
        if config.dashboard.any_alarms():
            self.alarms = DashboardAlarms(self, "Alarms", config=config, parameterized=parameterized)
        alarms_by_group = self.alarms.by_group if self.alarms else {}

        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name(config),
            default_interval=DEFAULT_INTERVAL,
        )
        self.dashboard.add_widgets(intro_text(config, charted_groups(config)))
        self.dashboard.add_widgets(cost_text(config))
        for group in config.dataset_groups:
            rows = group_rows(
                self, config, group, report_bucket=bucket, report_prefix=REPORT_PREFIX, athena_table=athena_table,
                read_metrics=not parameterized, alarms=alarms_by_group.get(group.name, []),
            )
            for row in rows:
                self.dashboard.add_widgets(*row)

        # The offline metrics' SSM parameters exist only once the personalize stack is deployed.
        self.reads_personalize_outputs = not parameterized and any(group.solutions for group in config.dataset_groups)
        if self.reads_personalize_outputs:
            fix_dashboard_body(self.dashboard)

        self.report_queries: ReportQueries | None = None
        if with_queries:
            self.report_queries = ReportQueries(self, "ReportQueries", config=config, bucket_name=bucket, report_prefix=REPORT_PREFIX)
