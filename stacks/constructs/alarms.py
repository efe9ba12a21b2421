"""Alarms of the dashboard stack and the encrypted topic they notify.

Two kinds, one topic:

* attribution alarms (``dashboard.alarms``): a source's metric at or below a threshold, missing
  data breaching, so a source that went silent alarms;
* ingestion alarms (``dashboard.ingestionAlarms``): PutEvents 4xx and 5xx errors per dataset group
  with an event tracker. Alarms cannot evaluate SEARCH expressions, and the dimension set of
  these metrics is unconfirmed, so they evaluate a CloudWatch Metrics Insights query over the
  whole namespace filtered by ``DatasetGroupArn``: it matches every dimension set that includes
  the dataset group. Should the metrics carry only ``EventTrackerArn``, the query finds no data
  and the alarm stays OK (missing data is not breaching: no events, no errors); the ingestion
  graphs on the dashboard show which guess holds.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from config import Alarm, AppConfig, DatasetGroup
from stacks.constructs.dashboard_metrics import NAMESPACE, PERIOD, GroupMetrics, dataset_group_arn
from stacks.constructs.operator_widgets import PUT_EVENTS_ERRORS
from stacks.deployment import alarm_email_subscription

INGESTION_PERIOD = Duration.minutes(5)


def ingestion_query(metric_name: str, group_arn: str) -> str:
    """Metrics Insights: the group's errors summed over every series that names the group.

    If a metric is published under several dimension sets that include the group, the sum counts
    an error more than once; with an alarm threshold of "at least N errors" that only alarms sooner.
    """
    return f"SELECT SUM({metric_name}) FROM \"{NAMESPACE}\" WHERE DatasetGroupArn = '{group_arn}'"


def ingestion_alarm_name(config: AppConfig, group: DatasetGroup, metric_name: str) -> str:
    kind = metric_name.removeprefix("PutEvents").removesuffix("Errors").lower()  # 4xx / 5xx
    return f"{config.name}-{group.name}-putevents-{kind}"


class DashboardAlarms(Construct):
    """The alarms of the config and the customer-managed-key encrypted topic they notify.

    The topic's key is a customer managed key: CloudWatch alarms cannot publish to a topic
    encrypted with the AWS managed key alias/aws/sns, whose key policy cannot grant CloudWatch
    kms:GenerateDataKey* and kms:Decrypt (AWS re:Post, "cloudwatch-configure-alarm-sns").
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, parameterized: bool = False) -> None:
        super().__init__(scope, construct_id)
        groups = {g.name: g for g in config.dataset_groups}
        alarm_prefix = f"{config.name}-"
        self.key = self._topic_key(config, alarm_prefix)
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"{config.name} Personalize dashboard alarms",
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

        self._action = cw_actions.SnsAction(self.topic)
        self.by_group: dict[str, list[cw.Alarm]] = {}
        for alarm in config.dashboard.alarms:
            group = groups[alarm.dataset_group]
            self._notify(group, self._attribution_alarm(config, group, alarm, alarm_prefix))
        if config.dashboard.ingestion_alarms.enabled:
            for group in config.dataset_groups:
                if group.event_tracker:
                    for metric_name in PUT_EVENTS_ERRORS:
                        self._notify(group, self._ingestion_alarm(config, group, metric_name))

    def _topic_key(self, config: AppConfig, alarm_prefix: str) -> kms.Key:
        key = kms.Key(
            self,
            "TopicKey",
            description=f"{config.name}: encrypts the Personalize dashboard alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,  # messages are transient; nothing at rest needs the key later
            pending_window=Duration.days(7),
        )
        # The statement AWS documents for alarms publishing to an encrypted topic, limited to this
        # account's alarms of this environment. Whether CloudWatch sends aws:SourceAccount /
        # aws:SourceArn on these KMS calls is unconfirmed, so the IfExists forms: a wrong account
        # or alarm is refused, a request without the keys still works.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublishToEncryptedTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={
                    "StringEqualsIfExists": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLikeIfExists": {"aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:{alarm_prefix}*"},
                },
            )
        )
        return key

    def _notify(self, group: DatasetGroup, alarm: cw.Alarm) -> None:
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.by_group.setdefault(group.name, []).append(alarm)

    def _attribution_alarm(self, config: AppConfig, group: DatasetGroup, alarm: Alarm, prefix: str) -> cw.Alarm:
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

    def _ingestion_alarm(self, config: AppConfig, group: DatasetGroup, metric_name: str) -> cw.Alarm:
        settings = config.dashboard.ingestion_alarms
        client = "4xx" in metric_name
        cause = (
            "the application sends events Personalize refuses (wrong tracking ID, invalid fields, throttling)"
            if client
            else "Personalize failed to take events (a service-side error; retry, check the AWS Health Dashboard)"
        )
        return cw.Alarm(
            self,
            f"Ingestion-{group.name}-{metric_name}",
            alarm_name=ingestion_alarm_name(config, group, metric_name),
            alarm_description=(
                f"{metric_name} >= {settings.threshold} in {settings.periods} consecutive 5-minute period(s) for dataset group "
                f"{config.physical_name(group.name)}: {cause}."
            ),
            metric=cw.MathExpression(
                expression=ingestion_query(metric_name, dataset_group_arn(self, config, group)),
                using_metrics={},
                label=metric_name,
                period=INGESTION_PERIOD,
            ),
            threshold=settings.threshold,
            evaluation_periods=settings.periods,
            datapoints_to_alarm=settings.periods,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
