"""The release for new accounts (tools/release.py), built in this test session's background
synthesis: self-contained, assets only through the organization's bucket, parameters per
account, a StackSet example that lints."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.stacks.templates import cfn_lint
from tests.stacks.test_quality import ACCOUNT_ID, REGION
from harness.synthesis import RELEASE_BUCKET, RELEASE_CONFIGS, RELEASE_VERSION
from tools.release import main as release_main

ASSET_BUCKET = {"Fn::Sub": f"{RELEASE_BUCKET}-${{AWS::Region}}"}
KEY_PREFIX = f"personalize-impact/{RELEASE_VERSION}/"


def manifest(folder: Path) -> dict:
    return json.loads((folder / "release.json").read_text())


def templates(folder: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted((folder / "templates").glob("*.template.json"))}


def walk(value, found: list) -> list:
    """Every dict in a template that names S3 code or content (S3Bucket / S3Key pairs)."""
    if isinstance(value, dict):
        if "S3Bucket" in value or "S3Key" in value:
            found.append(value)
        for item in value.values():
            walk(item, found)
    elif isinstance(value, list):
        for item in value:
            walk(item, found)
    return found


@pytest.mark.parametrize("config", RELEASE_CONFIGS)
def test_release_is_complete_and_versioned(releases, config):
    folder = releases[config]
    assert folder.name == f"personalize-impact-{RELEASE_VERSION}"
    release = manifest(folder)
    assert release["version"] == RELEASE_VERSION and release["keyPrefix"] == KEY_PREFIX
    names = [s["name"] for s in release["stacks"]]
    assert names[0].endswith("-storage") and names[1].endswith("-personalize")  # deploy order
    for stack in release["stacks"]:
        path = folder / stack["template"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == stack["sha256"]
    assert (folder / "publish-assets.sh").stat().st_mode & 0o111
    assert f"s3://{RELEASE_BUCKET}-$region/" in (folder / "publish-assets.sh").read_text()


@pytest.mark.parametrize("config", RELEASE_CONFIGS)
def test_release_templates_pass_cfn_lint(releases, config):
    folder = releases[config]
    for path in sorted((folder / "templates").glob("*.template.json")) + [folder / "stackset-example.yaml"]:
        assert cfn_lint(path) == []


@pytest.mark.parametrize("config", RELEASE_CONFIGS)
def test_templates_need_no_bootstrap_and_use_only_the_release_bucket(releases, config):
    folder = releases[config]
    for name, template in templates(folder).items():
        body = json.dumps(template)
        assert "BootstrapVersion" not in body and "cdk-hnb659fds" not in body, name
        assert not ACCOUNT_ID.search(body) and not REGION.search(body), name
        for reference in walk(template["Resources"], []):
            assert reference["S3Bucket"] == ASSET_BUCKET, f"{name} points at {reference['S3Bucket']}"
            assert reference["S3Key"].startswith(KEY_PREFIX)


@pytest.mark.parametrize("config", RELEASE_CONFIGS)
def test_every_referenced_asset_is_in_the_release_with_its_hash(releases, config):
    folder = releases[config]
    listed = {a["key"]: a for a in manifest(folder)["assets"]}
    referenced = {ref["S3Key"] for template in templates(folder).values() for ref in walk(template["Resources"], [])}
    assert referenced and referenced == set(listed)
    for key in referenced:
        path = folder / "assets" / key
        assert path.is_file(), key
        asset = listed[key]
        assert key == f"{KEY_PREFIX}{asset['assetHash']}.zip"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == asset["sha256"]
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None
            names = archive.namelist()
        assert names == sorted(names)
    handler_zips = [folder / "assets" / k for k in referenced if "personalize_resources/recommender.py" in zipfile.ZipFile(folder / "assets" / k).namelist()]
    assert len(handler_zips) == 1


def test_per_account_settings_are_parameters(releases):
    folder = releases["multi"]
    by_role = {name.rsplit("-", 1)[1].split(".")[0]: t for name, t in templates(folder).items()}
    for template in by_role.values():
        assert template["Parameters"]["NamePrefix"]["MaxLength"] == 20
    personalize = by_role["personalize"]
    assert set(personalize["Parameters"]) >= {"NamePrefix", "RecommendersEnabled", "MinRecommendationRequestsPerSecond"}
    recommenders = {k: v for k, v in personalize["Resources"].items() if v["Type"] == "Custom::PersonalizeRecommender"}
    # The recommenders' WaitConditions (imports have their own, created in every account).
    waits = {k: v for k, v in personalize["Resources"].items() if v["Type"] == "AWS::CloudFormation::WaitCondition" and set(v["DependsOn"]) & set(recommenders)}
    assert recommenders and all(v.get("Condition") == "CreateRecommenders" for v in {**recommenders, **waits}.values())
    for recommender in recommenders.values():
        tps = recommender["Properties"]["Request"]["recommenderConfig"]["minRecommendationRequestsPerSecond"]
        assert tps == {"Ref": "MinRecommendationRequestsPerSecond"}
        assert "NamePrefix" in json.dumps(recommender["Properties"]["Request"]["name"])
    dashboard = by_role["dashboard"]
    assert dashboard["Parameters"]["AlarmEmail"]["Default"] == "personalize-team@example.com"
    [subscription] = [v for v in dashboard["Resources"].values() if v["Type"] == "AWS::SNS::Subscription"]
    assert subscription["Condition"] == "HasAlarmEmail" and subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    storage = by_role["storage"]
    # Both buckets (data, access logs) are named per account from the prefix.
    bucket_names = [v["Properties"]["BucketName"] for v in storage["Resources"].values() if v["Type"] == "AWS::S3::Bucket"]
    assert len(bucket_names) == 2 and all({"Ref": "NamePrefix"} in name["Fn::Join"][1] for name in bucket_names)


def test_stackset_example_deploys_every_stack_to_an_ou_in_order(releases):
    folder = releases["default"]
    text = (folder / "stackset-example.yaml").read_text()
    for stack in manifest(folder)["stacks"]:
        assert f"/{stack['name']}.template.json" in text
    assert text.count("Type: AWS::CloudFormation::StackSet") == len(manifest(folder)["stacks"])
    assert "PermissionModel: SERVICE_MANAGED" in text and "OrganizationalUnitIds" in text
    assert "DependsOn: StorageStackSet" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--version", "1 0", "--asset-bucket", "org-assets"], "--version"),
        (["--version", "1.0.0", "--asset-bucket", "Org_Assets"], "--asset-bucket"),
    ],
)
def test_release_command_rejects_bad_arguments_without_a_traceback(argv, message, capsys, tmp_path):
    assert release_main([*argv, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


FAKE_AWS = """#!/usr/bin/env bash
echo "$*" >> "$AWS_CALLS"
"""
OWNER = "111122223333"


def run_publish(folder: Path, tmp_path: Path, args: list[str], owner_env: str | None) -> tuple[subprocess.CompletedProcess, list[str]]:
    """publish-assets.sh with a stand-in `aws` on PATH that records its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "aws").write_text(FAKE_AWS)
    (bin_dir / "aws").chmod(0o755)
    calls = tmp_path / "calls.txt"
    calls.write_text("")
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "AWS_CALLS": str(calls)}
    if owner_env is not None:
        env["ASSET_BUCKET_OWNER"] = owner_env
    result = subprocess.run([str(folder / "publish-assets.sh"), *args], env=env, capture_output=True, text=True, timeout=30)
    return result, calls.read_text().splitlines()


@pytest.mark.parametrize("how", ["environment", "option"])
def test_publish_assets_only_into_buckets_of_the_expected_owner(releases, tmp_path, how):
    folder = releases["default"]
    args = ["eu-west-1", "us-east-1"] if how == "environment" else ["--owner", OWNER, "eu-west-1", "us-east-1"]
    result, calls = run_publish(folder, tmp_path, args, OWNER if how == "environment" else None)
    assert result.returncode == 0, result.stderr
    assert len(calls) == 4  # assets and templates, per region
    for call in calls:
        assert f"--expected-bucket-owner {OWNER}" in call
    assert calls[0].endswith(f"assets/ s3://{RELEASE_BUCKET}-eu-west-1/")
    assert calls[3].endswith(f"templates/ s3://{RELEASE_BUCKET}-us-east-1/{KEY_PREFIX}templates/")


@pytest.mark.parametrize(("args", "owner"), [(["eu-west-1"], None), (["eu-west-1"], "1234"), (["--owner", "not-an-account", "eu-west-1"], None), ([], OWNER)])
def test_publish_assets_refuses_without_an_owner_or_region(releases, tmp_path, args, owner):
    result, calls = run_publish(releases["default"], tmp_path, args, owner)
    assert result.returncode == 2
    assert "usage: ASSET_BUCKET_OWNER=ACCOUNT_ID" in result.stderr
    assert calls == []  # nothing was copied


def test_stackset_example_passes_every_cost_switch_to_the_personalize_stack(releases):
    """The cost switches a release has (RecommendersEnabled, CampaignsEnabled) reach the personalize
    stack set: the default config has recommenders, the custom-solutions config campaigns."""
    for config, expected in (("default", {"RecommendersEnabled"}), ("custom", {"CampaignsEnabled"})):
        folder = releases[config]
        switches = set(json.loads((folder / "release.json").read_text())["parameters"]) & {"RecommendersEnabled", "CampaignsEnabled"}
        assert switches == expected, config
        text = (folder / "stackset-example.yaml").read_text()
        personalize = text.split("PersonalizeStackSet:")[1]
        for switch in switches:
            assert f"  {switch}:\n    Type: String" in text, switch
            assert f"- ParameterKey: {switch}\n          ParameterValue: !Ref {switch}" in personalize, switch
