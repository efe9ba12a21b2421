"""CloudWatch widgets for Personalize metric attribution (the alarms live in alarms.py).

The metrics they chart (namespace, dimensions, the 15-minute ``Sum``) are made in
dashboard_metrics.py.

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

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from config import AppConfig, DatasetGroup, DerivedMetric, Metric
from stacks.constructs.dashboard_metrics import (
    GROUP_DIMENSION,
    IDENTIFIER,
    NAMESPACE,
    PERIOD,
    SOURCE_DIMENSION,
    STATISTIC,
    GroupMetrics,
    InferredSource,
    dataset_group_arn,
    derived_metrics_for,
    dimension_value,
    filled_sum,
    per_source_expression,
)

DASHBOARD_WIDTH = 24
HALF = DASHBOARD_WIDTH // 2
GRAPH_HEIGHT = 6
NUMBER_HEIGHT = 4


def charted_groups(config: AppConfig) -> list[DatasetGroup]:
    """Groups whose metric attribution publishes to CloudWatch: the only ones with data to chart."""
    return [g for g in config.dataset_groups if g.metric_attribution is not None and g.metric_attribution.cloudwatch]


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
    lines += source_rows(group)
    lines.append("")
    lines += inferred_text(inferred)
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


def source_rows(group: DatasetGroup) -> list[str]:
    """One table row per source to send: the string, its CloudWatch form, what it belongs to."""
    lines = []
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
    return lines


def inferred_text(inferred: tuple[InferredSource, ...]) -> list[str]:
    """Where events with a `recommendationId` but no source are counted."""
    if not inferred:
        return [
            "Events with a `recommendationId` but no source are attributed to the recommender's or campaign's ARN, events with "
            "neither to `SOURCE_NAME_UNDEFINED`: both appear only in the *every source (search)* graphs, as do sources added later."
        ]
    return [
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
