"""CDK's CloudFormation validation run beside the app reports exactly what CDK's in-process
(built-in) validation reports, on templates with findings of every kind."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aws_cdk as cdk
import pytest

import stacks.template_validation as template_validation
from stacks.app_builder import new_app

REPOSITORY = Path(__file__).resolve().parents[2]
STRICT = "@aws-cdk/core:validateAgainstDefaultRules"


def add_findings(app: cdk.App) -> None:
    """A resource-level error, a template-level warning (an unused parameter) and an acknowledged
    finding (the resource type the engine's bundled schemas lack)."""
    stack = cdk.Stack(app, "Findings")
    cdk.CfnResource(stack, "Bucket", type="AWS::S3::Bucket", properties={"BucketNam": "typo"})
    cdk.CfnParameter(stack, "Unused", type="String")
    campaign = cdk.CfnResource(stack, "Campaign", type="AWS::Personalize::Campaign", properties={"Name": "c", "SolutionVersionArn": "arn:aws:personalize:us-east-1:111111111111:solution/s/1"})
    cdk.Validations.of(campaign).acknowledge(cdk.Acknowledgment(id="CloudFormation-Validate::F3006", reason="the engine's schemas lack this type"))


def synthesize(outdir: Path, side_process: bool, monkeypatch: pytest.MonkeyPatch, *, strict: bool = False) -> tuple[dict, str | None]:
    """The validation report and the synth's error (None if it passed)."""
    with monkeypatch.context() as patch:
        patch.setattr(template_validation, "side_process_runs", lambda: side_process)
        app = new_app(outdir=str(outdir), overrides={STRICT: strict})
    add_findings(app)
    try:
        app.synth()
        error = None
    except RuntimeError as raised:
        error = str(raised).replace(str(outdir), "OUTDIR")
    return json.loads((outdir / "validation-report.json").read_text()), error


def test_the_side_process_reports_what_cdk_reports_in_process(tmp_path, monkeypatch):
    in_process, in_process_error = synthesize(tmp_path / "in-process", False, monkeypatch)
    beside, beside_error = synthesize(tmp_path / "beside", True, monkeypatch)
    assert beside == in_process
    assert beside_error is None and in_process_error is None  # CDK reports its own rules' errors as warnings
    (plugin,) = [report for report in beside["pluginReports"] if report["pluginName"] == "CloudFormation Validate"]
    found = {(v["ruleName"], v["severity"]) for v in plugin["violations"]}
    assert {("F3002", "warning"), ("W2001", "warning")} <= found, found
    unused = next(v for v in plugin["violations"] if v["ruleName"] == "W2001")
    assert unused["violatingConstructs"][0]["constructPath"] == "Findings"  # a template-level finding keeps its stack
    assert [v["ruleName"] for v in plugin["suppressedViolations"]] == ["F3006"]


def test_with_cdks_strict_flag_both_fail_the_synth_alike(tmp_path, monkeypatch):
    in_process, in_process_error = synthesize(tmp_path / "in-process", False, monkeypatch, strict=True)
    beside, beside_error = synthesize(tmp_path / "beside", True, monkeypatch, strict=True)
    assert beside == in_process
    assert in_process_error and "F3002" in in_process_error
    assert beside_error == in_process_error


def test_this_checkout_runs_the_side_process_with_the_apps_aws_cdk_lib():
    """package.json pins the npm packages the side process loads at the versions requirements.txt pins."""
    npm = json.loads((REPOSITORY / "package.json").read_text())["devDependencies"]
    pypi = dict(re.findall(r"^([a-z0-9-]+)==(\S+)", (REPOSITORY / "requirements.txt").read_text(), re.M))
    assert (npm["aws-cdk-lib"], npm["constructs"]) == (pypi["aws-cdk-lib"], pypi["constructs"])
    assert template_validation.side_process_runs()


def test_the_side_process_runs_only_where_node_modules_has_the_apps_aws_cdk_lib(tmp_path):
    assert not template_validation.side_process_runs(tmp_path)
    package = tmp_path / "node_modules" / "aws-cdk-lib"
    package.mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"version": "2.0.0"}))
    assert not template_validation.side_process_runs(tmp_path)


def test_a_side_process_that_cannot_start_raises_its_reason(tmp_path):
    process = template_validation.ValidationProcess(repository=tmp_path)  # no node_modules there
    try:
        with pytest.raises(RuntimeError, match="CloudFormationValidatePlugin did not start"):
            process.validate([])
    finally:
        process.close()
