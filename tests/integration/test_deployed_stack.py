"""Checks a deployed environment against real AWS. Skipped unless credentials are present and
PERSONALIZE_IMPACT_INTEGRATION=1 names the intent (the stack bills by the hour).

    PERSONALIZE_IMPACT_INTEGRATION=1 AWS_PROFILE=... AWS_DEFAULT_REGION=... \
        .venv/bin/python -m pytest tests/integration -m integration (PERSONALIZE_IMPACT_CONFIG=config/default.yaml by default)

Deploy first with `npx cdk deploy --all -c config=<the same config>`.
"""

from __future__ import annotations

import os

import boto3
import pytest

from config import load_config

pytestmark = pytest.mark.integration

CONFIG_PATH = os.environ.get("PERSONALIZE_IMPACT_CONFIG", "config/default.yaml")


def _credentials_present() -> bool:
    # Never probe the instance metadata service from here: only explicit credentials count.
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    return boto3.session.Session().get_credentials() is not None


if os.environ.get("PERSONALIZE_IMPACT_INTEGRATION") != "1" or not _credentials_present():
    pytest.skip("integration tests need AWS credentials and PERSONALIZE_IMPACT_INTEGRATION=1", allow_module_level=True)


@pytest.fixture(scope="module")
def config():
    return load_config(CONFIG_PATH)


@pytest.fixture(scope="module")
def personalize():
    return boto3.client("personalize")


@pytest.fixture(scope="module")
def account_region():
    session = boto3.session.Session()
    return boto3.client("sts").get_caller_identity()["Account"], session.region_name


def arn(account_region, resource_type: str, name: str) -> str:
    account, region = account_region
    return f"arn:aws:personalize:{region}:{account}:{resource_type}/{name}"


def test_dataset_groups_and_attribution_are_active(config, personalize, account_region):
    for group in config.dataset_groups:
        described = personalize.describe_dataset_group(datasetGroupArn=arn(account_region, "dataset-group", config.physical_name(group.name)))
        assert described["datasetGroup"]["status"] == "ACTIVE"
        if group.metric_attribution is None:
            continue
        attribution_arn = arn(account_region, "metric-attribution", config.physical_name(group.name, "attribution"))
        assert personalize.describe_metric_attribution(metricAttributionArn=attribution_arn)["metricAttribution"]["status"] == "ACTIVE"
        metrics = personalize.list_metric_attribution_metrics(metricAttributionArn=attribution_arn)["metrics"]
        assert {m["metricName"].upper() for m in metrics} == {m.metric_name.upper() for m in group.metric_attribution.metrics}


def test_recommenders_reach_their_desired_state(config, personalize, account_region):
    for group in config.dataset_groups:
        for recommender in group.recommenders:
            described = personalize.describe_recommender(recommenderArn=arn(account_region, "recommender", config.recommender_name(group, recommender)))
            assert described["recommender"]["status"] == recommender.state


def test_tracking_id_is_published_and_accepts_events(config):
    ssm = boto3.client("ssm")
    events = boto3.client("personalize-events")
    for group in config.dataset_groups:
        if not group.event_tracker:
            continue
        tracking_id = ssm.get_parameter(Name=f"/{config.name}/{group.name}/tracking-id")["Parameter"]["Value"]
        source = group.all_sources()[0] if group.all_sources() else None
        event = {"eventType": "View", "sentAt": 1_700_000_000, "itemId": "integration-test-item"}
        if source:
            event["metricAttribution"] = {"eventAttributionSource": source}
        response = events.put_events(trackingId=tracking_id, userId="integration-test", sessionId="integration-test", eventList=[event])
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
