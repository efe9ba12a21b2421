"""CloudWatch input: metric attribution metrics as report rows, and GetRecommendations exposure.

Metric attribution publishes to namespace AWS/Personalize, metric name = the metric's name
upper-cased, dimensions DatasetGroupArn and EventAttributionSource (upper-cased), in 15-minute
buckets. Recommendations served are `GetRecommendations` (Sum) with dimension RecommenderArn
(recommenders) or CampaignArn (campaigns).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from lambdas.personalize_resources.address_book import cloudwatch_name
from tools.impact.figures import Exposure
from tools.impact.report_csv import LoadResult, MetricRow

CLOUDWATCH_NAMESPACE = "AWS/Personalize"
CLOUDWATCH_MAX_QUERIES = 500  # GetMetricData limit per call
BUCKET_SECONDS = 900
EXPOSURE_PERIOD = 3600  # hourly, the resolution of the analysis


def sum_query(query_id: str, metric_name: str, dimensions: list[dict], period: int) -> dict:
    """One GetMetricData query: the Sum of an AWS/Personalize metric per ``period`` seconds."""
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": CLOUDWATCH_NAMESPACE, "MetricName": metric_name, "Dimensions": dimensions},
            "Period": period,
            "Stat": "Sum",
        },
        "ReturnData": True,
    }


def metric_data_results(cloudwatch: Any, queries: list[dict], start: datetime, end: datetime) -> Iterator[dict]:
    """Every ``MetricDataResults`` entry of GetMetricData over all its pages (oldest points first)."""
    token = None
    while True:
        request: dict[str, Any] = {
            "MetricDataQueries": queries,
            "StartTime": start,
            "EndTime": end,
            "ScanBy": "TimestampAscending",
        }
        if token:
            request["NextToken"] = token
        response = cloudwatch.get_metric_data(**request)
        yield from response.get("MetricDataResults", [])
        token = response.get("NextToken")
        if not token:
            return


def fetch_cloudwatch_rows(
    cloudwatch: Any,
    dataset_group_arn: str,
    metric_names: Sequence[str],
    start: datetime,
    end: datetime,
) -> LoadResult:
    """Read metric attribution metrics back from CloudWatch as report rows.

    Namespace AWS/Personalize, metric name = the metric's name upper-cased, dimensions
    DatasetGroupArn and EventAttributionSource (the source upper-cased). Sum per 900 s
    period: each published datapoint is one bucket's value (count or sum), so Sum over the
    period is the bucket value for SAMPLECOUNT and SUM metrics alike. With no metric names,
    every metric of the dataset group that has an EventAttributionSource dimension is read.
    """
    result = LoadResult()
    metrics = _attributed_metrics(cloudwatch, dataset_group_arn, metric_names, result.warnings)
    result.rows = _metric_rows(cloudwatch, metrics, _floor(start, BUCKET_SECONDS), end)
    result.files_read = len(metrics)
    return result


def _attributed_metrics(cloudwatch: Any, dataset_group_arn: str, metric_names: Sequence[str], warnings: list[str]) -> list[dict[str, Any]]:
    """The dataset group's metrics with an EventAttributionSource (those named, or all); a warning per named one missing."""
    wanted = [cloudwatch_name(name) for name in metric_names] or [None]
    found: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
    for metric_name in wanted:
        params: dict[str, Any] = {
            "Namespace": CLOUDWATCH_NAMESPACE,
            "Dimensions": [{"Name": "DatasetGroupArn", "Value": dataset_group_arn}],
        }
        if metric_name:
            params["MetricName"] = metric_name
        count_before = len(found)
        for page in cloudwatch.get_paginator("list_metrics").paginate(**params):
            for metric in page.get("Metrics", []):
                dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                if "EventAttributionSource" not in dimensions:
                    continue
                # ListMetrics may list a metric more than once; a sorted dimension tuple dedupes.
                key = (metric["MetricName"], tuple(sorted(dimensions.items())))
                found.setdefault(key, metric)
        if metric_name and len(found) == count_before:
            warnings.append(
                f"CloudWatch has no {CLOUDWATCH_NAMESPACE} metric {metric_name} with an EventAttributionSource "
                f"for {dataset_group_arn} (metrics appear after events are recorded; "
                "only the last two weeks are listed)"
            )
    return list(found.values())


def _metric_rows(cloudwatch: Any, metrics: list[dict[str, Any]], start: datetime, end: datetime) -> list[MetricRow]:
    """Each metric's Sum per 15-minute bucket as report rows, GetMetricData's query limit per call."""
    rows: list[MetricRow] = []
    for first in range(0, len(metrics), CLOUDWATCH_MAX_QUERIES):
        chunk = metrics[first : first + CLOUDWATCH_MAX_QUERIES]
        queries = [
            sum_query(f"m{position}", metric["MetricName"], metric["Dimensions"], BUCKET_SECONDS)
            for position, metric in enumerate(chunk)
        ]
        series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
        for data in metric_data_results(cloudwatch, queries, start, end):
            series[data["Id"]].extend(zip(data.get("Timestamps", []), data.get("Values", [])))
        for position, metric in enumerate(chunk):
            dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            for stamp, value in series.get(f"m{position}", []):
                rows.append(
                    MetricRow(
                        metric=metric["MetricName"],
                        event_type="",
                        value=float(value),
                        math_function="Sum",
                        source=dimensions["EventAttributionSource"],
                        timestamp=int(stamp.timestamp()),
                        origin=f"CloudWatch {metric['MetricName']}",
                    )
                )
    return rows


def _floor_to_bucket(moment: datetime) -> datetime:
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % BUCKET_SECONDS, tz=UTC)


def _floor(moment: datetime, seconds: int) -> datetime:
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def exposure_dimension(arn: str) -> str:
    """RecommenderArn for a recommender ARN, CampaignArn for a campaign ARN."""
    return "RecommenderArn" if ":recommender/" in arn else "CampaignArn"


def fetch_exposure(
    cloudwatch: Any, arns_by_source: Mapping[str, str], start: datetime, end: datetime
) -> dict[str, Exposure]:
    """GetRecommendations served per hour for each source's recommender or campaign."""
    sources = list(arns_by_source)
    queries = [
        sum_query(
            f"e{position}",
            "GetRecommendations",
            [{"Name": exposure_dimension(arns_by_source[source]), "Value": arns_by_source[source]}],
            EXPOSURE_PERIOD,
        )
        for position, source in enumerate(sources)
    ]
    hourly: dict[str, dict[int, float]] = {source: defaultdict(float) for source in sources}
    for first in range(0, len(queries), CLOUDWATCH_MAX_QUERIES):
        chunk = queries[first : first + CLOUDWATCH_MAX_QUERIES]
        for data in metric_data_results(cloudwatch, chunk, _floor(start, EXPOSURE_PERIOD), end):
            source = sources[int(data["Id"][1:])]
            for stamp, value in zip(data.get("Timestamps", []), data.get("Values", [])):
                hourly[source][int(stamp.timestamp())] += float(value)
    return {
        source: Exposure(origin=f"GetRecommendations of {arns_by_source[source]}", hourly=dict(hourly[source]))
        for source in sources
    }
