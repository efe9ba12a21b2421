"""tools/deployment_lookup.py: names of a deployed dataset group, from a real config and moto's STS.

The names are checked twice: against literal expectations for config/default.yaml, and against
the synthesized templates themselves (what the stacks really create), so the lookup and the
stacks cannot drift apart.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from moto import mock_aws

from tests.stacks.templates import resources, text
from tools._cli import CliError, boto3_client_factory
from tools.deployment_lookup import DeployedGroup, check_sources, resolve_group

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO / "config" / "default.yaml"
MULTI_CONFIG = REPO / "config" / "multi-group.yaml"
CUSTOM_CONFIG = REPO / "config" / "custom-solutions.yaml"
MOTO_ACCOUNT = "123456789012"  # moto's default account


@pytest.fixture
def factory():
    with mock_aws():
        yield boto3_client_factory(None, "eu-west-1")


@pytest.fixture
def retail(factory) -> DeployedGroup:
    return resolve_group(DEFAULT_CONFIG, "retail", client_factory=factory)


def test_default_retail_group_names_every_resource(retail):
    assert retail.config_name == "pimpact-default"
    assert retail.group_name == "retail"
    assert (retail.account, retail.region) == (MOTO_ACCOUNT, "eu-west-1")
    assert retail.data_bucket == f"pimpact-default-data-{MOTO_ACCOUNT}-eu-west-1"
    assert retail.report_url == f"s3://pimpact-default-data-{MOTO_ACCOUNT}-eu-west-1/metric-reports/retail/"
    assert retail.dataset_group_arn == f"arn:aws:personalize:eu-west-1:{MOTO_ACCOUNT}:dataset-group/pimpact-default-retail"
    assert retail.tracking_id_parameter == "/pimpact-default/retail/tracking-id"
    assert retail.metric_names == ("countViews", "sumMargin")
    assert retail.derived_metrics == {"marginPerView": "sumMargin / countViews"}
    assert retail.sources == ("recommended_for_you", "viewed_X_also_viewed", "third_party_widget")
    assert set(retail.recommender_arns) == {"recommended-for-you", "viewed-x-also-viewed"}
    for name, arn in retail.recommender_arns.items():
        # The physical name ends in a 4-hex recipe tag (AppConfig.recommender_name).
        assert arn.startswith(f"arn:aws:personalize:eu-west-1:{MOTO_ACCOUNT}:recommender/pimpact-default-retail-{name}-")
        assert len(arn.rsplit("-", 1)[1]) == 4
    assert retail.recommender_sources == {
        "recommended-for-you": "recommended_for_you",
        "viewed-x-also-viewed": "viewed_X_also_viewed",
    }
    assert retail.campaign_arns == {}


def test_group_without_event_tracker_and_default_sources(factory):
    shop = resolve_group(MULTI_CONFIG, "shop", client_factory=factory)
    # `for-you` has no attributionSource: the stack's default is the name with '_' for '-'.
    assert shop.sources[:2] == ("for_you", "also_viewed")
    assert "vendor_widget" in shop.sources
    assert shop.metric_names == ("countViews", "sumMargin", "revenue")


def test_unknown_group_lists_the_valid_ones(factory):
    with pytest.raises(CliError, match=r"--group 'shop' is not in config 'pimpact-default'; its dataset groups: retail"):
        resolve_group(DEFAULT_CONFIG, "shop", client_factory=factory)


def test_config_errors_become_cli_errors_naming_the_field(factory, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(DEFAULT_CONFIG.read_text().replace("metricName: countViews", "metricName: 1countViews"))
    with pytest.raises(CliError, match=r"datasetGroups\[0\]\.metricAttribution\.metrics\[0\]\.metricName"):
        resolve_group(broken, "retail", client_factory=factory)
    with pytest.raises(CliError, match="cannot read it"):
        resolve_group(tmp_path / "missing.yaml", "retail", client_factory=factory)


def test_no_region_is_a_cli_error(monkeypatch):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with mock_aws(), pytest.raises(CliError, match="no AWS region"):
        resolve_group(DEFAULT_CONFIG, "retail", client_factory=boto3_client_factory(None, None))


def test_check_sources_is_case_insensitive_and_names_the_configured_ones(retail):
    assert check_sources(retail, ["RECOMMENDED_FOR_YOU", "viewed_x_also_viewed", "third_party_widget"]) == []
    [warning] = check_sources(retail, ["recommended_for_you", "new_widget"])
    assert "'new_widget' is not configured for dataset group 'retail'" in warning
    assert "recommended_for_you, viewed_X_also_viewed, third_party_widget" in warning


@pytest.fixture
def synthesized_templates(request):
    # The template pins need the session's synthesis (the full suite); `pytest tests/tools` alone skips them.
    if not os.environ.get("PERSONALIZE_IMPACT_TEST_SYNTH_DIR"):
        pytest.skip("needs the synthesized templates: run the full suite")
    return request.getfixturevalue("synthesized")


@pytest.mark.parametrize(("config_key", "config_path"), [("default", DEFAULT_CONFIG), ("multi", MULTI_CONFIG), ("custom", CUSTOM_CONFIG)])
def test_names_match_the_synthesized_templates(synthesized_templates, factory, config_key, config_path):
    storage = synthesized_templates.template(config_key, "storage")
    personalize = synthesized_templates.template(config_key, "personalize")
    bucket = text(storage["Resources"]["Data666C94C7"]["Properties"]["BucketName"])  # the data bucket (pinned in tests/stacks/test_storage.py)
    groups = {text(g["Properties"]["Name"]) for g in resources(personalize, "AWS::Personalize::DatasetGroup").values()}
    parameters = {text(p["Properties"]["Name"]) for p in resources(personalize, "AWS::SSM::Parameter").values()}
    attribution_paths = {
        text(r["Properties"]["Request"]["metricsOutputConfig"]["s3DataDestination"]["path"])
        for r in resources(personalize, "Custom::PersonalizeMetricAttribution").values()
        if "s3DataDestination" in r["Properties"]["Request"]["metricsOutputConfig"]
    }
    recommender_names = {text(r["Properties"]["Request"]["name"]) for r in resources(personalize, "Custom::PersonalizeRecommender").values()}
    campaign_names = {text(c["Properties"]["Name"]) for c in resources(personalize, "AWS::Personalize::Campaign").values()}

    config_name = {"default": "pimpact-default", "multi": "pimpact-multi", "custom": "pimpact-custom"}[config_key]
    group_names = {"default": ["retail"], "multi": ["shop", "video"], "custom": ["ratings"]}[config_key]
    looked_up_campaigns = set()
    for group_name in group_names:
        deployed = resolve_group(config_path, group_name, client_factory=factory)
        assert bucket.replace("<AWS::AccountId>", MOTO_ACCOUNT).replace("<AWS::Region>", "eu-west-1") == deployed.data_bucket
        assert deployed.dataset_group_arn.rsplit("/", 1)[1] in groups
        if deployed.tracking_id_parameter:
            assert deployed.tracking_id_parameter in parameters
        report_path = deployed.report_url.replace(deployed.data_bucket, f"{config_name}-data-<AWS::AccountId>-<AWS::Region>")
        if group_name != "video":  # video's attribution has s3Output: false
            assert report_path in attribution_paths
        for arn in deployed.recommender_arns.values():
            assert arn.rsplit("/", 1)[1] in recommender_names
        looked_up_campaigns |= {arn.rsplit("/", 1)[1] for arn in deployed.campaign_arns.values()}
        assert all(arn.startswith(f"arn:aws:personalize:eu-west-1:{MOTO_ACCOUNT}:campaign/") for arn in deployed.campaign_arns.values())
    assert looked_up_campaigns == campaign_names  # every campaign the stack creates, and no other
