"""CloudWatch widgets for Personalize metric attribution (the alarms live in alarms.py).

What Personalize publishes (see /work/shared/personalize-facts.md, "Metric attribution output"):
namespace ``AWS/Personalize``, metric name = the configured ``metricName`` upper-cased, dimensions
``DatasetGroupArn`` and ``EventAttributionSource`` (the source upper-cased), one value per
15-minute bucket. Every graph here therefore uses the ``Sum`` statistic and a period of 900 s;
a shorter period would only show gaps.

The namespace and dimension names come from an AWS sample notebook, not the developer guide. If
they were ever wrong, only the constants below change (and the dashboard shows "no data"
meanwhile; nothing else depends on them).

The attribution segment of each dataset group whose metric attribution publishes to CloudWatch
(groups without get only a text header here; their operator segment comes from operator_widgets.py):

* a text widget: what the section shows, the exact source strings to send, where S3 reports land;
* per metric: a SEARCH graph (every source that ever reported, including ones added later), a
  graph of the configured sources as named lines, their totals over the dashboard's time range
  and each one's share of the configured total. A recommender's or campaign's source has two
  forms: the configured string (upper-cased by CloudWatch) and, for events that carry only a
  ``recommendationId``, the recommender's or campaign's ARN, which Personalize records as the
  source. Both get a line; shares and derived metrics add the two;
* per derived metric (``dashboard.derivedMetrics``) whose inputs the group has: metric math per
  source, over time and over the whole time range;
* the status of the group's alarms, if any (``alarm_status_row``, placed by the stack after the
  operator segment).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from lambdas.personalize_resources.address_book import METRIC_NAME_IN_EXPRESSION, cloudwatch_name
from config import AppConfig, DatasetGroup, DerivedMetric, Metric
from stacks.constructs.handlers import personalize_arn

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
IDENTIFIER = METRIC_NAME_IN_EXPRESSION


def dataset_group_arn(scope: Construct, config: AppConfig, group: DatasetGroup) -> str:
    """The group's ARN from its name (deterministic), so no export from the Personalize stack."""
    return personalize_arn(scope, "dataset-group", config.physical_name(group.name))


dimension_value = cloudwatch_name  # the eventAttributionSource as the CloudWatch dimension holds it


def charted_groups(config: AppConfig) -> list[DatasetGroup]:
    """Groups whose metric attribution publishes to CloudWatch: the only ones with data to chart."""
    return [g for g in config.dataset_groups if g.metric_attribution is not None and g.metric_attribution.cloudwatch]


def derived_metrics_for(group: DatasetGroup, derived: list[DerivedMetric]) -> list[DerivedMetric]:
    """Derived metrics whose every input is a metric of this group (config checks they exist somewhere)."""
    assert group.metric_attribution is not None
    names = {m.metric_name for m in group.metric_attribution.metrics}
    return [d for d in derived if set(IDENTIFIER.findall(d.expression)) <= names]


def filled_sum(ids: list[str]) -> str:
    """``FILL(a, 0)``, or ``(FILL(a, 0) + FILL(b, 0))`` for a source in both forms."""
    terms = [f"FILL({metric_id}, 0)" for metric_id in ids]
    return terms[0] if len(terms) == 1 else "(" + " + ".join(terms) + ")"


def per_source_expression(expression: str, metric_ids: dict[str, list[str]]) -> str:
    """``sumMargin / countViews`` → ``FILL(s0_sumMargin, 0) / FILL(s0_countViews, 0)``.

    A 15-minute bucket without events has no data point; for counts and sums that means 0, so
    every input is filled with 0 (a ratio over an empty bucket, 0/0, still yields no point). A
    source with an ARN form adds it: ``(FILL(s0_x, 0) + FILL(i0_x, 0))``.
    """
    return IDENTIFIER.sub(lambda match: filled_sum(metric_ids[match.group(0)]), expression)


@dataclass(frozen=True)
class InferredSource:
    """The ARN form of a recommender's or campaign's source: Personalize attributes an event that
    carries a ``recommendationId`` but no ``eventAttributionSource`` to the ARN of whatever
    returned it. Whether CloudWatch upper-cases that dimension value like an explicit source is
    not documented; the line uses the ARN as Personalize writes it, and the SEARCH graph shows
    whatever form arrives."""

    source: str  # the configured source it belongs to
    arn: str
    label: str


@dataclass(frozen=True)
class GroupMetrics:
    """Metric objects of one dataset group, shared by every widget so metric ids never clash."""

    arn: str
    sources: tuple[str, ...]
    metrics: tuple[Metric, ...]
    inferred: tuple[InferredSource, ...] = ()

    def metric(self, metric: Metric, source: str, *, label: str | None = None, raw: bool = False) -> cw.Metric:
        """``raw``: the dimension value as given (an ARN), not upper-cased like a sent source."""
        return cw.Metric(
            namespace=NAMESPACE,
            metric_name=metric.cloudwatch_name,
            dimensions_map={GROUP_DIMENSION: self.arn, SOURCE_DIMENSION: source if raw else dimension_value(source)},
            statistic=STATISTIC,
            period=PERIOD,
            label=label or source,
        )

    def inferred_metric(self, metric: Metric, inferred: InferredSource) -> cw.Metric:
        return self.metric(metric, inferred.arn, label=inferred.label, raw=True)

    def inferred_of(self, source: str) -> list[int]:
        """Positions in ``inferred`` of the ARN forms of ``source``."""
        return [index for index, item in enumerate(self.inferred) if cloudwatch_name(item.source) == cloudwatch_name(source)]

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
        """``s<i>``: configured source i as sent; ``i<j>``: ARN form j (see InferredSource)."""
        configured = {f"s{index}": self.metric(metric, source) for index, source in enumerate(self.sources)}
        return configured | {f"i{index}": self.inferred_metric(metric, item) for index, item in enumerate(self.inferred)}


def group_section(
    scope: Construct,
    *,
    config: AppConfig,
    group: DatasetGroup,
    report_bucket: str,
    report_prefix: str,
    athena_table: str | None = None,
    inferred: tuple[InferredSource, ...] = (),
) -> tuple[GroupMetrics | None, list[list[cw.IWidget]]]:
    """The group's attribution metrics (None when it charts none) and its rows of widgets (each
    row left to right): a text header, then per metric and per derived metric its widgets.
    ``inferred``: the ARN forms of the group's recommender and campaign sources."""
    attribution = group.metric_attribution
    rows: list[list[cw.IWidget]] = [[group_text(config, group, report_bucket, report_prefix, athena_table, inferred)]]
    if attribution is None or not attribution.cloudwatch:
        return None, rows
    data = GroupMetrics(dataset_group_arn(scope, config, group), tuple(group.all_sources()), tuple(attribution.metrics), inferred)
    for metric in attribution.metrics:
        rows += metric_rows(group, data, metric)
    if data.sources:
        for derived in derived_metrics_for(group, config.dashboard.derived_metrics):
            rows.append(derived_row(group, data, derived))
    return data, rows


def alarm_status_row(group: DatasetGroup, alarms: list[cw.Alarm]) -> list[list[cw.IWidget]]:
    if not alarms:
        return []
    return [
        [
            cw.AlarmStatusWidget(
                title=f"{group.name}: alarms (a silent source alarms too; ingestion alarms on PutEvents errors)",
                alarms=alarms,
                width=DASHBOARD_WIDTH,
                height=max(2, 1 + len(alarms)),
            )
        ]
    ]


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
        left=[data.metric(metric, source) for source in data.sources] + [data.inferred_metric(metric, item) for item in data.inferred],
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
            expression=f"100 * {filled_sum([f's{index}'] + [f'i{j}' for j in data.inferred_of(source)])} / SUM([{all_filled}])",
            using_metrics=by_id,
            label=f"{source} %",
            period=PERIOD,
        )
        for index, source in enumerate(data.sources)
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
        arn_forms = data.inferred_of(source)
        ids = {m.metric_name: [f"s{index}_{m.metric_name}"] + [f"i{j}_{m.metric_name}" for j in arn_forms] for m in inputs}
        using = {f"s{index}_{m.metric_name}": data.metric(m, source) for m in inputs}
        using |= {f"i{j}_{m.metric_name}": data.inferred_metric(m, data.inferred[j]) for m in inputs for j in arn_forms}
        lines.append(
            cw.MathExpression(
                expression=per_source_expression(derived.expression, ids),
                using_metrics=using,
                label=source,
                period=PERIOD,
            )
        )
    title = f"{group.name} · {derived.label or derived.name} = {derived.expression}"
    return over_time_and_range(title, lines)


def zero_based_graph(title: str, left: list[cw.IMetric], *, period: Duration, width: int) -> cw.GraphWidget:
    """A graph of counts, rates or times: the y axis from 0, no unit label, the standard height."""
    return cw.GraphWidget(
        title=title,
        left=left,
        left_y_axis=cw.YAxisProps(min=0, show_units=False),
        period=period,
        width=width,
        height=GRAPH_HEIGHT,
    )


def over_time_and_range(title: str, lines: list[cw.IMetric], *, number_height: int = GRAPH_HEIGHT) -> list[cw.IWidget]:
    """The same lines per 15 minutes (left half) and as one number each over the time range (right half)."""
    over_time = zero_based_graph(f"{title}, per 15 minutes", lines, period=PERIOD, width=HALF)
    over_range = cw.SingleValueWidget(
        title=f"{title}, over the time range",
        metrics=lines,
        set_period_to_time_range=True,
        full_precision=True,
        width=HALF,
        height=number_height,
    )
    return [over_time, over_range]


def group_text(
    config: AppConfig,
    group: DatasetGroup,
    report_bucket: str,
    report_prefix: str,
    athena_table: str | None = None,
    inferred: tuple[InferredSource, ...] = (),
) -> cw.TextWidget:
    """``athena_table``: ``database.table`` of the report queries, when the stack defines them."""
    attribution = group.metric_attribution
    header = f"## Dataset group `{group.name}` (`{config.physical_name(group.name)}`)"
    if attribution is None or not attribution.cloudwatch:
        lines = [header, "No metric attribution publishes to CloudWatch for this group (`metricAttribution.cloudwatch`); only its operations are shown."]
        return cw.TextWidget(markdown="\n".join(lines), width=DASHBOARD_WIDTH, height=text_height(lines))
    lines = [
        header,
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
    for solution, campaign in group.campaigns():
        off = " (off: `enabled: false`)" if not campaign.enabled else ""
        lines.append(f"| `{campaign.source_name}` | `{dimension_value(campaign.source_name)}` | campaign `{campaign.name}` of solution `{solution.name}`{off} |")
    for source in group.attribution_sources:
        lines.append(f"| `{source}` | `{dimension_value(source)}` | other source (`attributionSources`) |")
    if not group.all_sources():
        lines.append("| (none configured) | | only the search graphs show data |")
    lines.append("")
    if inferred:
        lines += [
            (
                "Events with a `recommendationId` but no source are attributed to the ARN of the recommender or campaign "
                "that returned it; the *configured sources* graphs show that form as its own line, and shares, derived "
                "metrics and outcomes per 1,000 calls add it to the configured source:"
            ),
            "",
            "| Recorded as | Counted with |",
            "|---|---|",
            *[f"| `{item.arn}` | `{item.source}` |" for item in inferred],
            "",
            "Events with neither go to `SOURCE_NAME_UNDEFINED`, which only the *every source (search)* graphs show, as they show sources added later.",
        ]
    else:
        lines.append(
            "Events with a `recommendationId` but no source are attributed to the recommender's or campaign's ARN, events with "
            "neither to `SOURCE_NAME_UNDEFINED`: both appear only in the *every source (search)* graphs, as do sources added later."
        )
    lines.append("")
    if attribution.s3_output:
        lines.append(
            f"**S3 reports**: `s3://{report_bucket}/{report_prefix}{group.name}/` (one CSV per bulk import job that "
            "publishes attribution metrics)."
            + (f" On Athena: `{athena_table}` `WHERE dataset_group = '{group.name}'`." if athena_table else "")
        )
    else:
        lines.append("**S3 reports**: off for this group (`metricAttribution.s3Output: false`).")
    return cw.TextWidget(markdown="\n".join(lines), width=DASHBOARD_WIDTH, height=text_height(lines))


def intro_text(config: AppConfig, groups: list[DatasetGroup]) -> cw.TextWidget:
    lines = [
        f"# Amazon Personalize metric attribution: `{config.name}`",
        (
            "Compares the business metrics of each event attribution source (recommenders, campaigns and other sources) side by "
            f"side. Personalize publishes them to CloudWatch namespace `{NAMESPACE}` in 15-minute buckets, from PutEvents "
            "and incremental imports only, and only for events at most 14 days old. The *total* and *share* numbers "
            "cover the dashboard's whole time range; the share is each configured source's part of the configured "
            "sources' total."
        ),
        (
            "\nUnder each group, its *operations* rows: event ingestion health (PutEvents), recommendation traffic and latency "
            "per recommender and campaign, and each recommender's or campaign's source's outcomes per 1,000 "
            "`GetRecommendations` calls."
        ),
    ]
    if any(group.solutions for group in config.dataset_groups):
        lines.append(
            "\nPer custom solution, the offline metrics of the version the last deployment trained (`GetSolutionMetrics`) "
            "next to the online figures of its campaigns."
        )
    if not groups:
        lines.append(
            "\nNo dataset group has a metric attribution with `cloudwatch: true`, so there is nothing to chart yet."
        )
    return cw.TextWidget(markdown="\n".join(lines), width=DASHBOARD_WIDTH, height=text_height(lines))


def text_height(lines: list[str]) -> int:
    """Rough height in grid rows: a row holds about one line of about 150 characters."""
    rows = sum(max(1, math.ceil(len(line) / 150)) for line in lines)
    return max(2, math.ceil(rows * 0.8) + 1)
