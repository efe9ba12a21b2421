"""Experiment flags in the synthesized personalize template (config/experiments.yaml): the AppConfig
resources, the flag content (recommender ARNs filled in), the read policy, and nothing of it in
configs without experiments."""

from __future__ import annotations

import json
import re

import pytest

from stacks.constructs.experiments import FEATURE_FLAGS_TYPE
from harness.appconfig import flag_document_problems
from tests.stacks.templates import actions_and_resources, only, resources, text

APPCONFIG_TYPES = ("Application", "Environment", "ConfigurationProfile", "HostedConfigurationVersion", "DeploymentStrategy", "Deployment")


@pytest.fixture(scope="module")
def template(synthesized):
    return synthesized.template("experiments", "personalize")


def _render(node: object) -> str:
    """Fn::Join of strings and references, references as `<Name>` (JSON braces kept, unlike `text`)."""
    if isinstance(node, str):
        return node
    assert isinstance(node, dict), node
    if "Fn::Join" in node:
        delimiter, items = node["Fn::Join"]
        return delimiter.join(_render(i) for i in items)
    return text(node)


def _content(template: dict) -> dict:
    _, version = only(template, "AWS::AppConfig::HostedConfigurationVersion")
    return json.loads(_render(version["Properties"]["Content"]))


def test_one_of_each_appconfig_resource(template: dict) -> None:
    for kind in APPCONFIG_TYPES:
        only(template, f"AWS::AppConfig::{kind}")
    _, profile = only(template, "AWS::AppConfig::ConfigurationProfile")
    assert profile["Properties"]["Type"] == FEATURE_FLAGS_TYPE
    assert profile["Properties"]["LocationUri"] == "hosted"


def test_flag_content_is_valid_and_points_each_arm_at_its_recommender(template: dict) -> None:
    document = _content(template)
    assert flag_document_problems(document) == []
    variants = {v["name"]: v["attributeValues"] for v in document["values"]["home-widget"]["_variants"]}
    assert "arn" not in variants["third_party_widget"]
    assert re.fullmatch(r"arn:<AWS::Partition>:personalize:<AWS::Region>:<AWS::AccountId>:recommender/pimpact-exp-retail-recommended-for-you-[0-9a-f]{4}",
                        variants["recommended_for_you"]["arn"])


def test_deployment_deploys_the_hosted_version_all_at_once(template: dict) -> None:
    _, deployment = only(template, "AWS::AppConfig::Deployment")
    version_id, _ = only(template, "AWS::AppConfig::HostedConfigurationVersion")
    assert text(deployment["Properties"]["ConfigurationVersion"]) == f"<{version_id}.VersionNumber>"
    _, strategy = only(template, "AWS::AppConfig::DeploymentStrategy")
    assert (strategy["Properties"]["GrowthFactor"], strategy["Properties"]["DeploymentDurationInMinutes"]) == (100, 0)


def test_read_policy_grants_the_agent_exactly_the_flags(template: dict) -> None:
    _, policy = only(template, "AWS::IAM::ManagedPolicy")
    pairs = {pair for statement in policy["Properties"]["PolicyDocument"]["Statement"] for pair in actions_and_resources(statement)}
    assert {action for action, _ in pairs} == {"appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"}
    for _, resource in pairs:
        assert re.fullmatch(r"arn:<AWS::Partition>:appconfig:<AWS::Region>:<AWS::AccountId>:application/<\w+\.ApplicationId>"
                            r"/environment/<\w+\.EnvironmentId>/configuration/<\w+\.ConfigurationProfileId>", resource), resource


def test_configs_without_experiments_have_no_appconfig(synthesized) -> None:
    template = synthesized.template("default", "personalize")
    assert not [r for r in template["Resources"].values() if r["Type"].startswith("AWS::AppConfig::")]
    assert not resources(template, "AWS::IAM::ManagedPolicy")


def _dashboard_widgets(synthesized) -> list[dict]:
    template = synthesized.template("experiments", "dashboard")
    _, dashboard = only(template, "AWS::CloudWatch::Dashboard")
    body = dashboard["Properties"]["DashboardBody"]
    return json.loads("".join(p if isinstance(p, str) else "REF" for p in body["Fn::Join"][1]))["widgets"]


def test_dashboard_shows_each_experiments_split_check_and_arms(synthesized) -> None:
    widgets = _dashboard_widgets(synthesized)
    titles = [w["properties"].get("title", "") for w in widgets]
    for name in ("home-widget", "product-page"):
        assert f"{name}: sample ratio over the time range" in titles
        assert any(t.startswith(f"{name}: share of countViews events per arm") for t in titles)
    check = next(w for w in widgets if w["properties"].get("title") == "product-page: sample ratio over the time range")
    expressions = [m[0] for m in check["properties"]["metrics"] if isinstance(m[0], dict)]
    flag = next(e for e in expressions if e["expression"].startswith("IF("))
    assert "> 13.8155" in flag["expression"]  # chi-square, 2 degrees of freedom, p = 0.001
    assert "* 0.34) ^ 2" in flag["expression"] and "* 0.33) ^ 2" in flag["expression"]


def test_read_actions_are_the_appconfigdata_operations_under_their_signing_name() -> None:
    import botocore.session

    from stacks.constructs.experiments import READ_OPERATIONS

    model = botocore.session.get_session().get_service_model("appconfigdata")
    assert set(READ_OPERATIONS) <= set(model.operation_names)
    assert model.signing_name == "appconfig"  # the IAM prefix of the actions
