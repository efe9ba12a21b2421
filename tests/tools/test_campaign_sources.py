"""Campaigns in the tools (issue 10): the lookup names them, send-events asks them, report counts
their sources in both forms and divides by what they served.

Both forms of a source: the string an application sends as `eventAttributionSource`, and the ARN
Personalize records as the source when an event carries only a `recommendationId` (the
recommender's or campaign's that returned it). `report` counts the ARN form under the source
the config names for it, after deduplication, so the two forms never pass for copies of each
other.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import numpy as np
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tests.tools.conftest import REGION
from tools import report, send_events
from tools._cli import boto3_client_factory
from tools.deployment_lookup import resolve_group
from tools.impact.reports import ReportStore
from stacks.report_sql import ANALYSIS_QUERIES, named_queries

REPO = Path(__file__).resolve().parents[2]
CUSTOM_CONFIG = REPO / "config" / "custom-solutions.yaml"
DEFAULT_CONFIG = REPO / "config" / "default.yaml"
ACCOUNT = "123456789012"  # moto's
CAMPAIGN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:campaign/pimpact-custom-ratings-"
HEADER = "METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP\n"
HOUR = 1_704_067_200  # 2024-01-01T00:00:00Z
TRACKING_ID = "b7c2f4e8-1234-4cde-9abc-0123456789ab"


@pytest.fixture
def factory():
    with mock_aws():
        yield boto3_client_factory(None, REGION)


# --------------------------------------------------------------------------- lookup


def test_lookup_names_each_enabled_campaign_with_its_source_and_recipe(factory):
    deployed = resolve_group(CUSTOM_CONFIG, "ratings", client_factory=factory)
    assert deployed.campaign_arns == {"top-picks": CAMPAIGN + "top-picks", "similar": CAMPAIGN + "similar"}
    assert deployed.campaign_sources == {"top-picks": "top_picks", "similar": "similar_items"}
    assert deployed.campaign_recipes == {
        "top-picks": "arn:aws:personalize:::recipe/aws-user-personalization",
        "similar": "arn:aws:personalize:::recipe/aws-similar-items",
    }
    assert deployed.sources == ("top_picks", "similar_items", "vendor_widget")
    # The ARN form of each campaign's source, and what each source's exposure is read from.
    assert deployed.source_aliases() == {CAMPAIGN + "top-picks": "top_picks", CAMPAIGN + "similar": "similar_items"}
    assert deployed.exposure_arns() == {"TOP_PICKS": CAMPAIGN + "top-picks", "SIMILAR_ITEMS": CAMPAIGN + "similar"}


def test_a_disabled_campaign_is_not_looked_up(factory, tmp_path):
    config = tmp_path / "custom.yaml"
    config.write_text(CUSTOM_CONFIG.read_text().replace("attributionSource: similar_items", "attributionSource: similar_items\n            enabled: false"))
    deployed = resolve_group(config, "ratings", client_factory=factory)
    assert set(deployed.campaign_arns) == {"top-picks"}
    assert "similar_items" in deployed.sources  # still a known source: its old events keep their name


def test_recommenders_have_aliases_too(factory):
    deployed = resolve_group(DEFAULT_CONFIG, "retail", client_factory=factory)
    assert deployed.campaign_arns == {}
    assert {source for source in deployed.source_aliases().values()} == {"recommended_for_you", "viewed_X_also_viewed"}
    assert all(":recommender/pimpact-default-retail-" in arn for arn in deployed.source_aliases())


# --------------------------------------------------------------------------- send-events --config


def test_send_events_asks_the_config_campaigns_for_recommendation_ids():
    """GetRecommendations requests validated by botocore's Stubber: campaignArn, and itemId for
    the similar-items campaign (an item-to-item recipe)."""
    listed = [f"item_{n:04d}" for n in range(1, 11)]
    with mock_aws():
        ssm = boto3.client("ssm", region_name=REGION)
        ssm.put_parameter(Name="/pimpact-custom/ratings/tracking-id", Value=TRACKING_ID, Type="String")
        runtime = boto3.client("personalize-runtime", region_name=REGION)
        events = boto3.client("personalize-events", region_name=REGION)
        runtime_stubber, events_stubber = Stubber(runtime), Stubber(events)
        asked: list[dict] = []
        runtime.meta.events.register("before-parameter-build.personalize-runtime.GetRecommendations", lambda params, **kw: asked.append(dict(params)))
        for number in range(200):
            # Requests are validated against the model by botocore; `asked` records them for the checks below.
            runtime_stubber.add_response("get_recommendations", {"recommendationId": f"RID-{number}", "itemList": [{"itemId": i} for i in listed]})
        for _ in range(100):
            events_stubber.add_response("put_events", {})
        clients = {"ssm": ssm, "sts": boto3.client("sts", region_name=REGION), "personalize": boto3.client("personalize", region_name=REGION),
                   "personalize-runtime": runtime, "personalize-events": events}  # fmt: skip
        stdout, stderr = io.StringIO(), io.StringIO()
        with runtime_stubber, events_stubber:
            code = send_events.main(
                ["--config", str(CUSTOM_CONFIG), "--group", "ratings", "--recommendation-ids", "--source", "top_picks=0.4",
                 "--source", "similar_items=0.4", "--events", "80", "--seed", "2", "--json", "--quiet"],
                client_factory=lambda service, **kw: clients[service], stdout=stdout, stderr=stderr,
            )  # fmt: skip
    assert code == 0, stderr.getvalue()
    assert asked and {call["campaignArn"] for call in asked} == {CAMPAIGN + "top-picks", CAMPAIGN + "similar"}
    assert all("recommenderArn" not in call for call in asked)
    # The user-personalization campaign is asked about the user, the similar-items one about the item.
    assert all("itemId" not in call for call in asked if call["campaignArn"].endswith("top-picks"))
    assert all("itemId" in call for call in asked if call["campaignArn"].endswith("similar"))
    assert json.loads(stdout.getvalue())["recommendations"]["events_with_recommendation_id"] > 0


# --------------------------------------------------------------------------- report: both forms


def rows(source: str, value: float, buckets: range) -> list[str]:
    return [f"countViews,View,{value:g},samplecount,{source},{HOUR + 900 * b}\n" for b in buckets]


def test_arn_rows_are_renamed_after_deduplication(tmp_path):
    """An explicit row and an ARN row with the same metric, value and time are two events, not a
    copy: both count. A real copy (the same file again) still counts once."""
    arn = CAMPAIGN + "top-picks"
    first = tmp_path / "a.csv"
    second = tmp_path / "b.csv"
    first.write_text(HEADER + "".join(rows("top_picks", 3, range(4)) + rows(arn, 3, range(4)) + rows("vendor_widget", 1, range(4))))
    second.write_bytes(first.read_bytes())  # a re-downloaded copy
    store = ReportStore()
    try:
        for path in (first, second):
            store.add_file(path, path.name)
        aliased = store.aggregates((*ANALYSIS_QUERIES, "aliased_sources"), source_aliases={arn.upper(): "top_picks"})
        plain = store.aggregates(ANALYSIS_QUERIES)
    finally:
        store.close()

    def totals(results):
        hourly = results["hourly_by_source"]
        out: dict[str, float] = {}
        for source, total in zip(hourly["source"], hourly["total"]):
            out[str(source)] = out.get(str(source), 0.0) + float(total)
        return out

    assert totals(plain) == {"TOP_PICKS": 12.0, arn.upper(): 12.0, "VENDOR_WIDGET": 4.0}
    assert totals(aliased) == {"TOP_PICKS": 24.0, "VENDOR_WIDGET": 4.0}
    # The hour still has four 15-minute buckets with data, not eight.
    hourly = aliased["hourly_by_source"]
    assert int(np.asarray(hourly["buckets"])[list(hourly["source"]).index("TOP_PICKS")]) == 4
    assert list(plain["files_not_counted"]["source_file"]) == ["b.csv"]  # the copy is skipped as a whole file
    renamed = aliased["aliased_sources"]
    assert (list(renamed["reported_source"]), list(renamed["source"]), list(renamed["row_count"])) == ([arn.upper()], ["TOP_PICKS"], [4])


def test_aliases_reach_the_athena_text_and_leave_the_saved_queries_alone():
    plain = named_queries('"metric_reports"')
    aliased = named_queries('"metric_reports"', source_aliases={"arn:aws:personalize:x:1:campaign/it's": "top_picks"})
    assert "aliased_sources" not in plain and "attributed" not in plain["hourly_by_source"]
    assert "WHEN upper('arn:aws:personalize:x:1:campaign/it''s') THEN upper('top_picks')" in aliased["hourly_by_source"]  # quotes doubled
    assert "FROM attributed" in aliased["hourly_by_source"] and "FROM attributed" in aliased["totals_by_source"]
    assert "FROM attributed" not in aliased["files_not_counted"]


def test_report_config_counts_the_campaign_arn_under_its_source_and_divides_by_its_calls():
    """--config: the S3 reports of the group, ARN-form rows renamed, exposure from CloudWatch by CampaignArn."""
    arn = CAMPAIGN + "top-picks"
    lines = [HEADER, *rows("top_picks", 10, range(4)), *rows(arn, 5, range(4)), *rows("SOURCE_NAME_UNDEFINED", 5, range(4)),
             *rows(CAMPAIGN + "similar", 2, range(4))]  # fmt: skip
    with mock_aws():
        factory = boto3_client_factory(None, REGION)
        deployed = resolve_group(CUSTOM_CONFIG, "ratings", client_factory=factory)
        s3 = factory("s3")
        s3.create_bucket(Bucket=deployed.data_bucket)
        s3.put_object(Bucket=deployed.data_bucket, Key="metric-reports/ratings/AggregatedAttributionMetrics - INCREMENTAL - 1.csv", Body="".join(lines).encode())
        factory("cloudwatch").put_metric_data(
            Namespace="AWS/Personalize",
            MetricData=[{"MetricName": "GetRecommendations", "Dimensions": [{"Name": "CampaignArn", "Value": arn}],
                         "Timestamp": datetime.fromtimestamp(HOUR + 600, tz=UTC), "Value": 3000.0}],
        )  # fmt: skip
        stdout, stderr = io.StringIO(), io.StringIO()
        code = report.main(["--config", str(CUSTOM_CONFIG), "--group", "ratings", "--json", "--block", "hour"], client_factory=factory, stdout=stdout, stderr=stderr)
        text_out = io.StringIO()
        text_code = report.main(["--config", str(CUSTOM_CONFIG), "--group", "ratings", "--block", "hour"], client_factory=factory, stdout=text_out, stderr=io.StringIO())
    assert code == 0 and text_code == 0, stderr.getvalue()
    data = json.loads(stdout.getvalue())
    views = next(m for m in data["metrics"] if m["metric"] == "COUNTVIEWS")
    sources = {s["source"]: s for s in views["sources"]}
    assert set(sources) == {"TOP_PICKS", "SIMILAR_ITEMS", "SOURCE_NAME_UNDEFINED"}  # no ARN left over
    assert sources["TOP_PICKS"]["total"] == 60.0  # 40 sent as top_picks + 20 recorded as the campaign's ARN
    assert sources["SIMILAR_ITEMS"]["total"] == 8.0
    assert sources["TOP_PICKS"]["exposure"] == 3000 and sources["TOP_PICKS"]["per_1000"]["estimate"] == 20.0
    assert {(a["reported"], a["counted_as"], a["rows"]) for a in data["aliased_sources"]} == {
        (arn.upper(), "TOP_PICKS", 4),
        ((CAMPAIGN + "similar").upper(), "SIMILAR_ITEMS", 4),
    }
    assert "not configured" not in stderr.getvalue()  # the ARN form is not an unknown source
    assert f"source {arn.upper()} counted as TOP_PICKS (4 rows)" in text_out.getvalue()


def test_alias_option_without_config(tmp_path):
    arn = "arn:aws:personalize:eu-west-1:111122223333:recommender/shop-for-you-1a2b"
    (tmp_path / "r.csv").write_text(HEADER + "".join(rows("for_you", 2, range(4)) + rows(arn, 1, range(4))))
    stdout, stderr = io.StringIO(), io.StringIO()
    code = report.main(["--dir", str(tmp_path), "--alias", f"{arn}=for_you", "--json", "--block", "hour"], stdout=stdout, stderr=stderr)
    assert code == 0, stderr.getvalue()
    views = json.loads(stdout.getvalue())["metrics"][0]
    assert [(s["source"], s["total"]) for s in views["sources"]] == [("FOR_YOU", 12.0)]
    code = report.main(["--dir", str(tmp_path), "--alias", "no-equals-sign"], stdout=io.StringIO(), stderr=(bad := io.StringIO()))
    assert code == 2 and "--alias 'no-equals-sign': expected NAME=VALUE" in bad.getvalue()


def test_report_cloudwatch_input_renames_the_arn_form_too():
    """--cloudwatch reads the metric attribution's own metrics: the ARN-form series joins its source."""
    arn = CAMPAIGN + "top-picks"
    with mock_aws():
        factory = boto3_client_factory(None, REGION)
        deployed = resolve_group(CUSTOM_CONFIG, "ratings", client_factory=factory)
        data = []
        for bucket in range(4):
            stamp = datetime.fromtimestamp(HOUR + 900 * bucket, tz=UTC)
            for source, value in (("TOP_PICKS", 6.0), (arn, 3.0), ("VENDOR_WIDGET", 1.0)):
                dimensions = [{"Name": "DatasetGroupArn", "Value": deployed.dataset_group_arn}, {"Name": "EventAttributionSource", "Value": source}]
                data.append({"MetricName": "COUNTVIEWS", "Dimensions": dimensions, "Timestamp": stamp, "Value": value})
        factory("cloudwatch").put_metric_data(Namespace="AWS/Personalize", MetricData=data)
        stdout, stderr = io.StringIO(), io.StringIO()
        code = report.main(
            ["--config", str(CUSTOM_CONFIG), "--group", "ratings", "--cloudwatch", "--metric", "countViews", "--end", str(HOUR + 3600),
             "--days", "1", "--json", "--block", "hour"],
            client_factory=factory, stdout=stdout, stderr=stderr,
        )  # fmt: skip
    assert code == 0, stderr.getvalue()
    (views,) = json.loads(stdout.getvalue())["metrics"]
    assert {s["source"]: s["total"] for s in views["sources"]} == {"TOP_PICKS": 36.0, "VENDOR_WIDGET": 4.0}
