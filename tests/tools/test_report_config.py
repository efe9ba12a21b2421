"""report --config --group: the group's S3 reports, recommender exposure and derived metrics, found from the config."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from moto import mock_aws

from tools import report
from tools._cli import boto3_client_factory
from tools.deployment_lookup import resolve_group

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO / "config" / "default.yaml"
HEADER = "METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP\n"
HOUR = 1_704_067_200  # 2024-01-01T00:00:00Z


def test_config_and_group_find_reports_exposure_and_derived_metrics():
    lines = [HEADER]
    for bucket in range(4):  # one hour
        ts = HOUR + 900 * bucket
        lines += [
            f"countViews,View,10,samplecount,recommended_for_you,{ts}\n",
            f"countViews,View,5,samplecount,SOURCE_NAME_UNDEFINED,{ts}\n",
            f"countViews,View,1,samplecount,mystery_widget,{ts}\n",
            f"sumMargin,Purchase,20,sum,recommended_for_you,{ts}\n",
        ]
    with mock_aws():
        factory = boto3_client_factory(None, "eu-west-1")
        deployed = resolve_group(DEFAULT_CONFIG, "retail", client_factory=factory)
        s3 = factory("s3")
        s3.create_bucket(Bucket=deployed.data_bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_object(Bucket=deployed.data_bucket, Key="metric-reports/retail/AggregatedAttributionMetrics - INCREMENTAL - 1.csv", Body="".join(lines).encode())
        arn = deployed.recommender_arns["recommended-for-you"]
        factory("cloudwatch").put_metric_data(
            Namespace="AWS/Personalize",
            MetricData=[{"MetricName": "GetRecommendations", "Dimensions": [{"Name": "RecommenderArn", "Value": arn}],
                         "Timestamp": datetime.fromtimestamp(HOUR + 600, tz=UTC), "Value": 2000.0}],
        )  # fmt: skip
        stdout, stderr = io.StringIO(), io.StringIO()
        code = report.main(
            ["--config", str(DEFAULT_CONFIG), "--group", "retail", "--region", "eu-west-1", "--json", "--block", "hour"],
            client_factory=factory, stdout=stdout, stderr=stderr,
        )  # fmt: skip
    assert code == 0, stderr.getvalue()
    # A source the config does not know is named, case-insensitively compared.
    assert "source 'MYSTERY_WIDGET' is not configured for dataset group 'retail'" in stderr.getvalue()
    assert "RECOMMENDED_FOR_YOU" not in stderr.getvalue()
    data = json.loads(stdout.getvalue())
    views = next(m for m in data["metrics"] if m["metric"] == "COUNTVIEWS")
    rfy = next(s for s in views["sources"] if s["source"] == "RECOMMENDED_FOR_YOU")
    assert rfy["exposure"] == 2000 and rfy["per_1000"]["estimate"] == 20.0  # 40 views per 2,000 served
    [margin] = data["derived"]
    assert margin["name"] == "marginPerView" and margin["expression"] == "sumMargin / countViews"
    assert next(s for s in margin["sources"] if s["source"] == "RECOMMENDED_FOR_YOU")["value"]["estimate"] == 2.0


def test_config_needs_its_group():
    stderr = io.StringIO()
    code = report.main(["--config", str(DEFAULT_CONFIG)], stdout=io.StringIO(), stderr=stderr)
    assert code == 2 and "--config and --group go together" in stderr.getvalue()


def test_config_with_athena_takes_names_from_the_stack_parameters_and_filters_the_group():
    from botocore.stub import ANY, Stubber

    from stacks.report_sql import ANALYSIS_QUERIES, named_queries

    with mock_aws():
        factory = boto3_client_factory(None, "eu-west-1")
        ssm = factory("ssm")
        for leaf, value in {"glue-database": "pimpact_default_reports", "glue-table": "metric_reports", "athena-work-group": "pimpact-default-reports"}.items():
            ssm.put_parameter(Name=f"/pimpact-default/reports/{leaf}", Value=value, Type="String")
        athena = factory("athena")
        with Stubber(athena) as stubber:
            # --config renames each recommender's ARN (the source of events with only a recommendationId).
            aliases = resolve_group(DEFAULT_CONFIG, "retail", client_factory=factory).source_aliases()
            queries = named_queries('"metric_reports"', dataset_group="retail", source_aliases={arn.upper(): s for arn, s in aliases.items()})
            for position, name in enumerate((*ANALYSIS_QUERIES, "aliased_sources")):
                stubber.add_response(
                    "start_query_execution", {"QueryExecutionId": f"id-{position}"},
                    {"QueryString": queries[name], "QueryExecutionContext": {"Database": "pimpact_default_reports"}, "WorkGroup": "pimpact-default-reports"},
                )  # fmt: skip
            stubber.add_response(
                "get_query_execution", {"QueryExecution": {"Status": {"State": "FAILED", "StateChangeReason": "stop here"}}}, {"QueryExecutionId": ANY}
            )
            stderr = io.StringIO()
            code = report.main(
                ["--config", str(DEFAULT_CONFIG), "--group", "retail", "--athena"],
                client_factory=lambda service, **kw: athena if service == "athena" else factory(service), stdout=io.StringIO(), stderr=stderr,
            )  # fmt: skip
        missing = io.StringIO()
        ssm.delete_parameter(Name="/pimpact-default/reports/glue-table")
        missing_code = report.main(["--config", str(DEFAULT_CONFIG), "--group", "retail", "--athena"], client_factory=factory, stdout=io.StringIO(), stderr=missing)
    assert code == 2 and "Athena query hourly_by_source (id-0) failed: stop here" in stderr.getvalue()
    assert "AND dataset_group = 'retail'" in queries["hourly_by_source"]
    assert len(aliases) == 2 and all(f"WHEN upper('{arn.upper()}') THEN upper('{source}')" in queries["hourly_by_source"] for arn, source in aliases.items())
    assert missing_code == 2 and "SSM parameter /pimpact-default/reports/glue-table not found" in missing.getvalue()
