"""report --athena and exposure: requests validated against botocore's Athena and CloudWatch models (Stubber)."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.stub import Stubber

from tests.tools.conftest import REGION
from tools import report
from tools.impact.athena import run_queries
from stacks.report_sql import ANALYSIS_QUERIES, named_queries


def result_page(columns: list[tuple[str, str]], rows: list[list[str]], *, header: bool, token: str | None = None) -> dict:
    page_rows = ([[name for name, _ in columns]] if header else []) + rows
    response = {
        "ResultSet": {
            "Rows": [{"Data": [{"VarCharValue": cell} for cell in row]} for row in page_rows],
            "ResultSetMetadata": {"ColumnInfo": [{"CatalogName": "hive", "Name": name, "Type": kind} for name, kind in columns]},
        }
    }
    if token:
        response["NextToken"] = token
    return response


def status(state: str, reason: str | None = None) -> dict:
    execution = {"QueryExecutionId": "q", "Status": {"State": state}}
    if reason:
        execution["Status"]["StateChangeReason"] = reason
    return {"QueryExecution": execution}


HOURLY = [("metric", "varchar"), ("source", "varchar"), ("hour_start", "bigint"), ("total", "double"), ("buckets", "bigint")]
TRAFFIC = [("hour_start", "bigint"), ("buckets", "bigint")]
DETAILS = [("metric", "varchar"), ("event_type", "varchar"), ("math_function", "varchar"), ("row_count", "bigint")]
NOT_COUNTED = [("source_file", "varchar"), ("row_count", "bigint"), ("reason", "varchar")]
H0, H1 = 1704067200, 1704070800


def stub_report_run(stubber: Stubber, *, output: str | None) -> None:
    queries = named_queries('"metric_reports"')
    for position, name in enumerate(ANALYSIS_QUERIES):
        expected = {
            "QueryString": queries[name],
            "QueryExecutionContext": {"Database": "impact"},
            "WorkGroup": "impact-reports",
        }
        if output:
            expected["ResultConfiguration"] = {"OutputLocation": output}
        stubber.add_response("start_query_execution", {"QueryExecutionId": f"id-{position}"}, expected)
    pages = {
        "hourly_by_source": [
            result_page(HOURLY, [["COUNTVIEWS", "RECOMMENDED_FOR_YOU", str(H0), "100.0", "4"]], header=True, token="t2"),
            result_page(HOURLY, [["COUNTVIEWS", "SOURCE_NAME_UNDEFINED", str(H0), "50.0", "4"], ["COUNTVIEWS", "RECOMMENDED_FOR_YOU", str(H1), "60.0", "4"], ["COUNTVIEWS", "SOURCE_NAME_UNDEFINED", str(H1), "40.0", "4"]], header=False),
        ],
        "traffic_by_hour": [result_page(TRAFFIC, [[str(H0), "4"], [str(H1), "4"]], header=True)],
        "metric_details": [result_page(DETAILS, [["COUNTVIEWS", "VIEW", "samplecount", "16"]], header=True)],
        "files_not_counted": [result_page(NOT_COUNTED, [], header=True)],
    }
    for position, name in enumerate(ANALYSIS_QUERIES):
        execution_id = f"id-{position}"
        if position == 0:  # the first query is still running once: the tool backs off and asks again
            stubber.add_response("get_query_execution", status("RUNNING"), {"QueryExecutionId": execution_id})
        stubber.add_response("get_query_execution", status("SUCCEEDED"), {"QueryExecutionId": execution_id})
        for number, page in enumerate(pages[name]):
            request = {"QueryExecutionId": execution_id, "MaxResults": 1000}
            if number:
                request["NextToken"] = "t2"
            stubber.add_response("get_query_results", page, request)


def test_report_runs_the_named_queries_on_athena():
    athena = boto3.client("athena", region_name=REGION)
    sleeps = []
    with Stubber(athena) as stubber:
        stub_report_run(stubber, output="s3://results/impact/")
        stdout, stderr = io.StringIO(), io.StringIO()
        code = report.main(
            ["--athena", "--database", "impact", "--table", "metric_reports", "--workgroup", "impact-reports",
             "--output", "s3://results/impact/", "--json", "--block", "hour"],
            client_factory=lambda service, **kw: athena, stdout=stdout, stderr=stderr, sleep=sleeps.append,
        )  # fmt: skip
        stubber.assert_no_pending_responses()
    assert code == 0, stderr.getvalue()
    assert sleeps == [0.5]
    [views] = json.loads(stdout.getvalue())["metrics"]
    rfy = next(s for s in views["sources"] if s["source"] == "RECOMMENDED_FOR_YOU")
    assert views["total"] == 250 and rfy["total"] == 160
    assert rfy["lift"]["rate_lift"]["estimate"] == pytest.approx(160 / 90)
    assert rfy["per_hour"]["estimate"] == pytest.approx(80)


def test_a_failed_query_is_a_one_line_error():
    athena = boto3.client("athena", region_name=REGION)
    with Stubber(athena) as stubber:
        stubber.add_response("start_query_execution", {"QueryExecutionId": "a"}, None)
        stubber.add_response("start_query_execution", {"QueryExecutionId": "b"}, None)
        stubber.add_response("get_query_execution", status("FAILED", "TABLE_NOT_FOUND: line 1:1: Table impact.x does not exist"), {"QueryExecutionId": "a"})
        with pytest.raises(report.CliError, match=r"^Athena query first \(a\) failed: TABLE_NOT_FOUND: line 1:1"):
            run_queries(athena, {"first": "SELECT 1", "second": "SELECT 2"}, database="impact", workgroup="w", sleep=lambda s: None)


def test_waiting_gives_up_after_the_timeout_with_growing_delays():
    athena = boto3.client("athena", region_name=REGION)
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds):
        now[0] += seconds
        sleeps.append(seconds)

    with Stubber(athena) as stubber:
        stubber.add_response("start_query_execution", {"QueryExecutionId": "slow"}, None)
        for _ in range(9):
            stubber.add_response("get_query_execution", status("QUEUED"), {"QueryExecutionId": "slow"})
        with pytest.raises(report.CliError, match=r"Athena query q \(slow\) still queued; gave up waiting"):
            run_queries(athena, {"q": "SELECT 1"}, database="d", workgroup="w", sleep=sleep, clock=lambda: now[0], timeout=40)
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]  # capped at 8 s, 39.5 s in all


def test_exposure_requests_are_valid_getmetricdata_calls_per_recommender_or_campaign():
    from datetime import UTC, datetime

    from tools.impact.cloudwatch import fetch_exposure

    recommender = "arn:aws:personalize:us-east-1:123456789012:recommender/shop-rfy"
    campaign = "arn:aws:personalize:us-east-1:123456789012:campaign/shop-sims"
    start, end = datetime(2024, 1, 1, 0, 20, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)

    def query(position, dimension, arn):
        return {
            "Id": f"e{position}",
            "MetricStat": {
                "Metric": {"Namespace": "AWS/Personalize", "MetricName": "GetRecommendations", "Dimensions": [{"Name": dimension, "Value": arn}]},
                "Period": 3600,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }

    hour = datetime(2024, 1, 1, tzinfo=UTC)
    with Stubber(cloudwatch) as stubber:
        stubber.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "e0", "Timestamps": [hour], "Values": [1500.0]}, {"Id": "e1", "Timestamps": [hour], "Values": [300.0]}]},
            {
                "MetricDataQueries": [query(0, "RecommenderArn", recommender), query(1, "CampaignArn", campaign)],
                "StartTime": hour,  # floored to the hour
                "EndTime": end,
                "ScanBy": "TimestampAscending",
            },
        )
        exposure = fetch_exposure(cloudwatch, {"REC": recommender, "SIMS": campaign}, start, end)
    assert exposure["REC"].hourly == {1704067200: 1500.0} and exposure["SIMS"].hourly == {1704067200: 300.0}
