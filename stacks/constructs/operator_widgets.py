"""Dashboard segments an operator needs next to the impact figures.

Per dataset group, each segment a list of widget rows (the way cdk-monitoring-constructs lets
every monitored resource contribute a segment and a facade lay them out):

* event ingestion health: PutEvents requests, 4xx/5xx errors and latency of the event tracker;
* recommendation traffic: ``GetRecommendations`` calls and latency per recommender and campaign;
* exposure-normalised outcomes: each recommender's or campaign's source (both forms: the
  configured ``eventAttributionSource`` and the ARN Personalize records for events that carry
  only a ``recommendationId``) per 1,000 ``GetRecommendations`` calls of that recommender or
  campaign, so a source that is simply called more often does not look better.

Dimension sets (see /work/shared/personalize-facts.md, "CloudWatch metrics besides metric
attribution"): ``GetRecommendations*`` by ``RecommenderArn`` (recommenders) or ``CampaignArn`` (campaigns) is
what aws-samples/amazon-personalize-monitor reads, so those are plain metrics. Which dimension sets carry the
``PutEvents*`` metrics is *unconfirmed* (the current page lists DatasetGroupArn, DatasetArn,
EventTrackerArn; older pages EventTrackerArn alone), and the event tracker's ARN is assumed to end
in its name like every other Personalize ARN. Those graphs therefore use SEARCH expressions, one
keyed by the dataset group ARN and one by the tracker ARN: a wrong guess leaves a line empty
instead of breaking the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from config import AppConfig, DatasetGroup, Metric
from stacks.constructs.dashboard import DASHBOARD_WIDTH, HALF, NUMBER_HEIGHT, over_time_and_range, text_height, zero_based_graph
from stacks.constructs.dashboard_metrics import NAMESPACE, PERIOD, GroupMetrics, dataset_group_arn
from stacks.constructs.handler_functions import personalize_arn

# Service metrics are published per minute; 5 minutes smooths them without hiding an outage.
SERVICE_PERIOD = Duration.minutes(5)
THIRD = DASHBOARD_WIDTH // 3
PUT_EVENTS_REQUESTS = "PutEventsRequests"
PUT_EVENTS_ERRORS = ("PutEvents4xxErrors", "PutEvents5xxErrors")
PUT_EVENT_LATENCY = "PutEventLatency"  # "Event", singular, as published
GET_RECOMMENDATIONS = "GetRecommendations"
GET_RECOMMENDATIONS_LATENCY = "GetRecommendationsLatency"
EXPOSURE_SCALE = 1000


def event_tracker_arn(scope: Construct, config: AppConfig, group: DatasetGroup) -> str:
    """Assumed ``event-tracker/<name>`` like the other Personalize ARNs (unconfirmed, only SEARCHed)."""
    return personalize_arn(scope, "event-tracker", config.physical_name(group.name, "tracker"))


@dataclass(frozen=True)
class ServingEndpoint:
    """Something applications call GetRecommendations on: a recommender, or a campaign (whose
    metrics carry ``CampaignArn`` instead of ``RecommenderArn``)."""

    kind: str  # "recommender" or "campaign"
    name: str
    arn: str
    dimension: str
    source_name: str  # the eventAttributionSource its recommendations are attributed to
    solution: str | None = None  # the campaign's solution

    def metric(self, metric_name: str, statistic: str, period: Duration, label: str | None = None) -> cw.Metric:
        return cw.Metric(
            namespace=NAMESPACE,
            metric_name=metric_name,
            dimensions_map={self.dimension: self.arn},
            statistic=statistic,
            period=period,
            label=label or f"{self.kind} {self.name}",
        )


def serving_endpoints(scope: Construct, config: AppConfig, group: DatasetGroup) -> list[ServingEndpoint]:
    """The group's recommenders, then its campaigns (`enabled: false` ones do not exist)."""
    recommenders = [
        ServingEndpoint(
            kind="recommender",
            name=recommender.name,
            arn=personalize_arn(scope, "recommender", config.recommender_name(group, recommender)),
            dimension="RecommenderArn",
            source_name=recommender.source_name,
        )
        for recommender in group.recommenders
    ]
    campaigns = [
        ServingEndpoint(
            kind="campaign",
            name=campaign.name,
            arn=personalize_arn(scope, "campaign", config.campaign_name(group, campaign)),
            dimension="CampaignArn",
            source_name=campaign.source_name,
            solution=solution.name,
        )
        for solution, campaign in group.campaigns(enabled_only=True)
    ]
    return recommenders + campaigns


def put_events_search(metric_name: str, dimension: str, value: str, statistic: str, label: str) -> cw.SearchExpression:
    """Every series of ``metric_name`` that carries ``dimension=value``, whatever its other dimensions."""
    query = f'Namespace="{NAMESPACE}" MetricName="{metric_name}" {dimension}="{value}"'
    return cw.SearchExpression(
        expression=f"SEARCH('{query}', '{statistic}', {int(SERVICE_PERIOD.to_seconds())})",
        label=label,
        period=SERVICE_PERIOD,
    )


def ingestion_rows(scope: Construct, config: AppConfig, group: DatasetGroup) -> list[list[cw.IWidget]]:
    """PutEvents health of the group's event tracker (none without a tracker)."""
    if not group.event_tracker:
        return []
    keys = (("DatasetGroupArn", dataset_group_arn(scope, config, group), "by dataset group"), ("EventTrackerArn", event_tracker_arn(scope, config, group), "by event tracker"))

    def searches(metric_name: str, statistic: str, short: str) -> list[cw.IMetric]:
        return [put_events_search(metric_name, dimension, value, statistic, f"{short} {how}") for dimension, value, how in keys]

    title = f"{group.name} · event ingestion"
    requests = zero_based_graph(
        f"{title}: {PUT_EVENTS_REQUESTS} (sum per 5 minutes)",
        searches(PUT_EVENTS_REQUESTS, "Sum", "requests"),
        period=SERVICE_PERIOD,
        width=THIRD,
    )
    errors = zero_based_graph(
        f"{title}: {' and '.join(PUT_EVENTS_ERRORS)} (sum per 5 minutes)",
        [line for name in PUT_EVENTS_ERRORS for line in searches(name, "Sum", name.removeprefix("PutEvents").removesuffix("Errors"))],
        period=SERVICE_PERIOD,
        width=THIRD,
    )
    latency = zero_based_graph(
        f"{title}: {PUT_EVENT_LATENCY} (ms, average)",
        searches(PUT_EVENT_LATENCY, "Average", "latency"),
        period=SERVICE_PERIOD,
        width=DASHBOARD_WIDTH - 2 * THIRD,
    )
    return [[requests, errors, latency]]


def traffic_rows(endpoints: list[ServingEndpoint], group: DatasetGroup) -> list[list[cw.IWidget]]:
    """GetRecommendations calls and latency, one line per recommender (or campaign)."""
    if not endpoints:
        return []
    title = f"{group.name} · recommendation traffic"
    calls = zero_based_graph(
        f"{title}: {GET_RECOMMENDATIONS} calls (sum per 5 minutes)",
        [e.metric(GET_RECOMMENDATIONS, "Sum", SERVICE_PERIOD) for e in endpoints],
        period=SERVICE_PERIOD,
        width=HALF,
    )
    latency = zero_based_graph(
        f"{title}: {GET_RECOMMENDATIONS_LATENCY} (ms, average)",
        [e.metric(GET_RECOMMENDATIONS_LATENCY, "Average", SERVICE_PERIOD) for e in endpoints],
        period=SERVICE_PERIOD,
        width=HALF,
    )
    return [[calls, latency]]


def exposure_line(data: GroupMetrics, metric: Metric, endpoint: ServingEndpoint, index: int) -> cw.MathExpression:
    """``1000 * (FILL(o, 0) + FILL(i, 0)) / r``: o the endpoint's source as configured, i its ARN
    form (events with only a recommendationId), r its GetRecommendations calls.

    Outcomes are attribution metrics (15-minute buckets), so the calls are summed per 15 minutes
    too. A bucket without calls has no denominator and yields no point rather than infinity.
    """
    outcome, inferred, calls = f"o{index}", f"i{index}", f"r{index}"
    return cw.MathExpression(
        expression=f"{EXPOSURE_SCALE} * (FILL({outcome}, 0) + FILL({inferred}, 0)) / {calls}",
        using_metrics={
            outcome: data.metric(metric, endpoint.source_name),
            inferred: data.metric(metric, endpoint.arn, label=f"{endpoint.source_name} (as {endpoint.kind} ARN)", raw=True),
            calls: endpoint.metric(GET_RECOMMENDATIONS, "Sum", PERIOD),
        },
        label=f"{endpoint.source_name} per {EXPOSURE_SCALE:,} calls",
        period=PERIOD,
    )


def exposure_lines(data: GroupMetrics, metric: Metric, endpoints: list[ServingEndpoint]) -> list[cw.MathExpression]:
    return [exposure_line(data, metric, endpoint, index) for index, endpoint in enumerate(endpoints)]


def exposure_rows(data: GroupMetrics, endpoints: list[ServingEndpoint], group: DatasetGroup) -> list[list[cw.IWidget]]:
    """Per attribution metric: outcomes per 1,000 GetRecommendations calls, over time and over the range."""
    rows: list[list[cw.IWidget]] = []
    if not endpoints:
        return rows
    for metric in data.metrics:
        lines = exposure_lines(data, metric, endpoints)
        title = f"{group.name} · {metric.metric_name} per {EXPOSURE_SCALE:,} {GET_RECOMMENDATIONS} calls"
        rows.append(over_time_and_range(title, lines, number_height=NUMBER_HEIGHT))
    return rows


def operator_text(group: DatasetGroup, endpoints: list[ServingEndpoint]) -> cw.TextWidget:
    lines = [f"### `{group.name}`: operations"]
    if group.event_tracker:
        lines.append(
            "**Event ingestion**: PutEvents requests, client (4xx) and service (5xx) errors and latency of the event tracker. "
            "Which dimensions Personalize puts on these metrics is not documented consistently, so each graph searches by "
            "dataset group ARN *and* by event tracker ARN; a line that stays empty is the guess that did not match."
        )
    if endpoints:
        lines.append(
            f"**Recommendation traffic**: `{GET_RECOMMENDATIONS}` calls and latency per {', '.join(f'{e.kind} `{e.name}`' for e in endpoints)}. "
            f"**Outcomes per {EXPOSURE_SCALE:,} calls** divide a recommender's or campaign's source (sent as configured, or "
            "recorded as its ARN when an event carries only a `recommendationId`) by that recommender's or campaign's calls: "
            "a fair comparison of sources that are shown unequally often (other sources have no call count)."
        )
    return cw.TextWidget(markdown="\n\n".join(lines), width=DASHBOARD_WIDTH, height=text_height([*lines, *[""] * (len(lines) - 1)]))


def operator_section(scope: Construct, config: AppConfig, group: DatasetGroup, data: GroupMetrics | None) -> list[list[cw.IWidget]]:
    """Rows of one group's operator segment; ``data`` when the group charts attribution metrics."""
    endpoints = serving_endpoints(scope, config, group)
    rows = ingestion_rows(scope, config, group) + traffic_rows(endpoints, group)
    if data is not None:
        rows += exposure_rows(data, endpoints, group)
    return [[operator_text(group, endpoints)], *rows] if rows else []
