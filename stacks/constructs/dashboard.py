"""CloudWatch widgets and alarms for Personalize metric attribution.

What Personalize publishes (see /work/shared/personalize-facts.md, "Metric attribution output"):
namespace ``AWS/Personalize``, metric name = the configured ``metricName`` upper-cased, dimensions
``DatasetGroupArn`` and ``EventAttributionSource`` (the source upper-cased), one value per
15-minute bucket. Every graph here therefore uses the ``Sum`` statistic and a period of 900 s;
a shorter period would only show gaps.

The namespace and dimension names come from an AWS sample notebook, not the developer guide. If
they were ever wrong, only the constants below change (and the dashboard shows "no data"
meanwhile; nothing else depends on them).

One section per dataset group whose metric attribution publishes to CloudWatch:

* a text widget: what the section shows, the exact source strings to send, where S3 reports land;
* per metric: a SEARCH graph (every source that ever reported, including ones added later), a
  graph of the configured sources as named lines, their totals over the dashboard's time range
  and each one's share of the configured total;
* per derived metric (``dashboard.derivedMetrics``) whose inputs the group has: metric math per
  source, over time and over the whole time range;
* the status of the group's alarms, if any.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.configuration import Alarm, AppConfig, DatasetGroup, DerivedMetric, Metric
from stacks.constructs.handlers import personalize_arn
from stacks.deployment import alarm_email_subscription

NAMESPACE = "AWS/Personalize"
GROUP_DIMENSION = "DatasetGroupArn"
SOURCE_DIMENSION = "EventAttributionSource"
# Personalize aggregates attribution metrics in 15-minute buckets.
PERIOD = Duration.minutes(15)
STATISTIC = "Sum"
DASHBOARD_WIDTH = 24
HALF = DASHBOARD_WIDTH // 2
GRAPH_HEIGHT = 6
NUMBER_HEIGHT = 4
IDENTIFIER = re.compile(r"(?<![\w.])[A-Za-z_][A-Za-z0-9_]*")  # = configuration.METRIC_NAME_IN_EXPRESSION (not the e3 of 1e3)


def dataset_group_arn(scope: Construct, config: AppConfig, group: DatasetGroup) -> str:
    """The group's ARN from its name (deterministic), so no export from the Personalize stack."""
    return personalize_arn(scope, "dataset-group", config.physical_name(group.name))


def dimension_value(source: str) -> str:
    """Personalize upper-cases the eventAttributionSource for the CloudWatch dimension."""
    return source.upper()


def charted_groups(config: AppConfig) -> list[DatasetGroup]:
    """Groups whose metric attribution publishes to CloudWatch: the only ones with data to chart."""
    return [g for g in config.dataset_groups if g.metric_attribution is not None and g.metric_attribution.cloudwatch]


def derived_metrics_for(group: DatasetGroup, derived: list[DerivedMetric]) -> list[DerivedMetric]:
    """Derived metrics whose every input is a metric of this group (config checks they exist somewhere)."""
    assert group.metric_attribution is not None
    names = {m.metric_name for m in group.metric_attribution.metrics}
    return [d for d in derived if set(IDENTIFIER.findall(d.expression)) <= names]


def per_source_expression(expression: str, metric_id: dict[str, str]) -> str:
    """``sumMargin / countViews`` → ``FILL(s0_sumMargin, 0) / FILL(s0_countViews, 0)``.

    A 15-minute bucket without events has no data point; for counts and sums that means 0, so
    every input is filled with 0 (a ratio over an empty bucket, 0/0, still yields no point).
    """
    return IDENTIFIER.sub(lambda match: f"FILL({metric_id[match.group(0)]}, 0)", expression)


@dataclass(frozen=True)
class GroupMetrics:
    """Metric objects of one dataset group, shared by every widget so metric ids never clash."""

    arn: str
    sources: tuple[str, ...]
    metrics: tuple[Metric, ...]

    def metric(self, metric: Metric, source: str) -> cw.Metric:
        return cw.Metric(
            namespace=NAMESPACE,
            metric_name=metric.cloudwatch_name,
            dimensions_map={GROUP_DIMENSION: self.arn, SOURCE_DIMENSION: dimension_value(source)},
            statistic=STATISTIC,
            period=PERIOD,
            label=source,
        )

    def search(self, metric: Metric) -> cw.SearchExpression:
        """Every source that reported this metric for this group, including ones no config names.

        Exact (quoted) metric name and dataset group ARN; the schema braces require both dimensions.
        """
        query = (
            f"{{{NAMESPACE},{GROUP_DIMENSION},{SOURCE_DIMENSION}}} "
            f'MetricName="{metric.cloudwatch_name}" {GROUP_DIMENSION}="{self.arn}"'
        )
        return cw.SearchExpression(
            expression=f"SEARCH('{query}', '{STATISTIC}', {int(PERIOD.to_seconds())})",
            label="${PROP('Dim." + SOURCE_DIMENSION + "')}",
            period=PERIOD,
        )

    def by_id(self, metric: Metric) -> dict[str, cw.Metric]:
        return {f"s{index}": self.metric(metric, source) for index, source in enumerate(self.sources)}


def group_section(
    scope: Construct,
    *,
    config: AppConfig,
    group: DatasetGroup,
    report_bucket: str,
    report_prefix: str,
    alarms: list[cw.Alarm],
) -> list[list[cw.IWidget]]:
    """Rows of widgets (each row left to right) for one dataset group."""
    attribution = group.metric_attribution
    assert attribution is not None and attribution.cloudwatch
    data = GroupMetrics(dataset_group_arn(scope, config, group), tuple(group.all_sources()), tuple(attribution.metrics))
    rows: list[list[cw.IWidget]] = [[group_text(config, group, report_bucket, report_prefix)]]
    for metric in attribution.metrics:
        rows += metric_rows(group, data, metric)
    if data.sources:
        for derived in derived_metrics_for(group, config.dashboard.derived_metrics):
            rows.append(derived_row(group, data, derived))
    if alarms:
        rows.append(
            [
                cw.AlarmStatusWidget(
                    title=f"{group.name}: alarms (a silent source alarms too)",
                    alarms=alarms,
                    width=DASHBOARD_WIDTH,
                    height=max(2, 1 + len(alarms)),
                )
            ]
        )
    return rows


def metric_rows(group: DatasetGroup, data: GroupMetrics, metric: Metric) -> list[list[cw.IWidget]]:
    name = f"{group.name} · {metric.metric_name} ({metric.cloudwatch_name})"
    axis = cw.YAxisProps(min=0, show_units=False)
    everything = cw.GraphWidget(
        title=f"{name}: every source (search)",
        left=[data.search(metric)],
        left_y_axis=axis,
        period=PERIOD,
        statistic=STATISTIC,
        width=HALF if data.sources else DASHBOARD_WIDTH,
        height=GRAPH_HEIGHT,
    )
    if not data.sources:
        return [[everything]]
    configured = cw.GraphWidget(
        title=f"{name}: configured sources",
        left=[data.metric(metric, source) for source in data.sources],
        left_y_axis=axis,
        period=PERIOD,
        statistic=STATISTIC,
        width=HALF,
        height=GRAPH_HEIGHT,
    )
    by_id = data.by_id(metric)
    totals = cw.SingleValueWidget(
        title=f"{name}: total per source over the time range",
        metrics=list(by_id.values()),
        set_period_to_time_range=True,
        width=HALF,
        height=NUMBER_HEIGHT,
    )
    all_filled = ", ".join(f"FILL({metric_id}, 0)" for metric_id in by_id)
    shares = [
        cw.MathExpression(
            expression=f"100 * FILL({metric_id}, 0) / SUM([{all_filled}])",
            using_metrics=by_id,
            label=f"{source} %",
            period=PERIOD,
        )
        for metric_id, source in zip(by_id, data.sources)
    ]
    share = cw.SingleValueWidget(
        title=f"{name}: share of the configured sources' total (%)",
        metrics=shares,
        set_period_to_time_range=True,
        width=HALF,
        height=NUMBER_HEIGHT,
    )
    return [[everything, configured], [totals, share]]


def derived_row(group: DatasetGroup, data: GroupMetrics, derived: DerivedMetric) -> list[cw.IWidget]:
    inputs = [m for m in data.metrics if m.metric_name in set(IDENTIFIER.findall(derived.expression))]
    lines = []
    for index, source in enumerate(data.sources):
        ids = {m.metric_name: f"s{index}_{m.metric_name}" for m in inputs}
        lines.append(
            cw.MathExpression(
                expression=per_source_expression(derived.expression, ids),
                using_metrics={ids[m.metric_name]: data.metric(m, source) for m in inputs},
                label=source,
                period=PERIOD,
            )
        )
    title = f"{group.name} · {derived.label or derived.name} = {derived.expression}"
    over_time = cw.GraphWidget(
        title=f"{title}, per 15 minutes",
        left=lines,
        left_y_axis=cw.YAxisProps(min=0, show_units=False),
        period=PERIOD,
        width=HALF,
        height=GRAPH_HEIGHT,
    )
    over_range = cw.SingleValueWidget(
        title=f"{title}, over the time range",
        metrics=lines,
        set_period_to_time_range=True,
        full_precision=True,
        width=HALF,
        height=GRAPH_HEIGHT,
    )
    return [over_time, over_range]


def group_text(config: AppConfig, group: DatasetGroup, report_bucket: str, report_prefix: str) -> cw.TextWidget:
    attribution = group.metric_attribution
    assert attribution is not None
    lines = [
        f"## Dataset group `{group.name}` (`{config.physical_name(group.name)}`)",
        f"Metrics in CloudWatch namespace `{NAMESPACE}`, dimensions `{GROUP_DIMENSION}` and `{SOURCE_DIMENSION}`, "
        "summed per 15 minutes: "
        + ", ".join(f"`{m.metric_name}` → `{m.cloudwatch_name}` ({m.event_type} events, `{m.expression}`)" for m in attribution.metrics)
        + ".",
        "",
        (
            "**Event attribution sources to send**: put the exact string in `metricAttribution.eventAttributionSource` "
            "of each PutEvents event that follows a recommendation from that source."
        ),
        "",
        "| Send this source | Shows in CloudWatch as | Source of the recommendations |",
        "|---|---|---|",
    ]
    for recommender in group.recommenders:
        stopped = " (stopped: state INACTIVE)" if recommender.state == "INACTIVE" else ""
        lines.append(f"| `{recommender.source_name}` | `{dimension_value(recommender.source_name)}` | recommender `{recommender.name}`{stopped} |")
    for source in group.attribution_sources:
        lines.append(f"| `{source}` | `{dimension_value(source)}` | other source (`attributionSources`) |")
    if not group.all_sources():
        lines.append("| (none configured) | | only the search graphs show data |")
    lines += [
        "",
        (
            "Events with a `recommendationId` but no source are attributed to the recommender's ARN, events with neither "
            "to `SOURCE_NAME_UNDEFINED`: both appear only in the *every source (search)* graphs, as do sources added later."
        ),
        "",
    ]
    if attribution.s3_output:
        lines.append(
            f"**S3 reports**: `s3://{report_bucket}/{report_prefix}{group.name}/` (one CSV per bulk import job that "
            "publishes attribution metrics)."
        )
    else:
        lines.append("**S3 reports**: off for this group (`metricAttribution.s3Output: false`).")
    return cw.TextWidget(markdown="\n".join(lines), width=DASHBOARD_WIDTH, height=text_height(lines))


def intro_text(config: AppConfig, groups: list[DatasetGroup]) -> cw.TextWidget:
    lines = [
        f"# Amazon Personalize metric attribution: `{config.name}`",
        (
            "Compares the business metrics of each event attribution source (recommenders and other sources) side by "
            f"side. Personalize publishes them to CloudWatch namespace `{NAMESPACE}` in 15-minute buckets, from PutEvents "
            "and incremental imports only, and only for events at most 14 days old. The *total* and *share* numbers "
            "cover the dashboard's whole time range; the share is each configured source's part of the configured "
            "sources' total."
        ),
    ]
    if not groups:
        lines.append(
            "\nNo dataset group has a metric attribution with `cloudwatch: true`, so there is nothing to chart yet."
        )
    return cw.TextWidget(markdown="\n".join(lines), width=DASHBOARD_WIDTH, height=text_height(lines))


def text_height(lines: list[str]) -> int:
    """Rough height in grid rows: a row holds about one line of about 150 characters."""
    rows = sum(max(1, math.ceil(len(line) / 150)) for line in lines)
    return max(2, math.ceil(rows * 0.8) + 1)


class AttributionAlarms(Construct):
    """Alarms on a source's metric (missing data breaches) and the encrypted topic they notify.

    The topic's key is a customer managed key: CloudWatch alarms cannot publish to a topic
    encrypted with the AWS managed key alias/aws/sns, whose key policy cannot grant CloudWatch
    kms:GenerateDataKey* and kms:Decrypt (AWS re:Post, "cloudwatch-configure-alarm-sns").
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, parameterized: bool = False) -> None:
        super().__init__(scope, construct_id)
        groups = {g.name: g for g in config.dataset_groups}
        alarm_prefix = f"{config.name}-"
        self.key = kms.Key(
            self,
            "TopicKey",
            description=f"{config.name}: encrypts the Personalize attribution alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,  # messages are transient; nothing at rest needs the key later
            pending_window=Duration.days(7),
        )
        # The statement AWS documents for alarms publishing to an encrypted topic.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublishToEncryptedTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"{config.name} Personalize attribution alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        # enforce_ssl writes a topic policy, which replaces the default one: allow this
        # environment's alarms (and only them) to publish.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AttributionAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:{alarm_prefix}*"},
                },
            )
        )
        if parameterized:
            alarm_email_subscription(self, self.topic, default=config.dashboard.alarm_email or "")
        elif config.dashboard.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.dashboard.alarm_email))

        action = cw_actions.SnsAction(self.topic)
        self.by_group: dict[str, list[cw.Alarm]] = {}
        for alarm in config.dashboard.alarms:
            group = groups[alarm.dataset_group]
            created = self._alarm(config, group, alarm, alarm_prefix)
            created.add_alarm_action(action)
            created.add_ok_action(action)
            self.by_group.setdefault(group.name, []).append(created)

    def _alarm(self, config: AppConfig, group: DatasetGroup, alarm: Alarm, prefix: str) -> cw.Alarm:
        attribution = group.metric_attribution
        if attribution is None or not attribution.cloudwatch:
            raise ValueError(
                f"dashboard alarm {alarm.name!r}: dataset group {group.name!r} does not publish metric attribution to "
                "CloudWatch (metricAttribution.cloudwatch), so the alarm would never see data; enable it or drop the alarm"
            )
        metric = next(m for m in attribution.metrics if m.metric_name == alarm.metric)
        data = GroupMetrics(dataset_group_arn(self, config, group), tuple(group.all_sources()), tuple(attribution.metrics))
        minutes = alarm.periods * int(PERIOD.to_minutes())
        return cw.Alarm(
            self,
            f"Alarm-{alarm.name}",
            alarm_name=f"{prefix}{alarm.name}",
            alarm_description=(
                f"{alarm.source} sent {alarm.metric} <= {alarm.threshold:g} in every 15-minute period for {minutes} minutes "
                f"in dataset group {config.physical_name(group.name)} (no data counts as breaching: a silent source alarms). "
                f"Check that the application still sends eventAttributionSource '{alarm.source}' with its PutEvents calls."
            ),
            metric=data.metric(metric, alarm.source),
            threshold=alarm.threshold,
            evaluation_periods=alarm.periods,
            datapoints_to_alarm=alarm.periods,
            comparison_operator=cw.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.BREACHING,
        )
