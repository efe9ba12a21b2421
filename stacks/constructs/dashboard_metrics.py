"""CloudWatch metric objects of Personalize metric attribution: what the dashboard's widgets and
the alarms chart (the widgets are in dashboard.py and the *_widgets.py modules).

What Personalize publishes (see /work/shared/personalize-facts.md, "Metric attribution output"):
namespace ``AWS/Personalize``, metric name = the configured ``metricName`` upper-cased, dimensions
``DatasetGroupArn`` and ``EventAttributionSource`` (the source upper-cased), one value per
15-minute bucket. Every metric here therefore uses the ``Sum`` statistic and a period of 900 s;
a shorter period would only show gaps.

The namespace and dimension names come from an AWS sample notebook, not the developer guide. If
they were ever wrong, only the constants below change (and the dashboard shows "no data"
meanwhile; nothing else depends on them).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from constructs import Construct

from lambdas.personalize_resources.address_book import METRIC_NAME_IN_EXPRESSION, cloudwatch_name
from config import AppConfig, DatasetGroup, DerivedMetric, Metric
from stacks.constructs.handler_functions import personalize_arn

NAMESPACE = "AWS/Personalize"
GROUP_DIMENSION = "DatasetGroupArn"
SOURCE_DIMENSION = "EventAttributionSource"
# Personalize aggregates attribution metrics in 15-minute buckets.
PERIOD = Duration.minutes(15)
STATISTIC = "Sum"
IDENTIFIER = METRIC_NAME_IN_EXPRESSION


def dataset_group_arn(scope: Construct, config: AppConfig, group: DatasetGroup) -> str:
    """The group's ARN from its name (deterministic), so no export from the Personalize stack."""
    return personalize_arn(scope, "dataset-group", config.physical_name(group.name))


dimension_value = cloudwatch_name  # the eventAttributionSource as the CloudWatch dimension holds it


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
