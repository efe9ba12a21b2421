"""Template-wide checks: cdk-nag, cfn-lint, environment independence, create/delete order."""

from __future__ import annotations

import json
import re
from graphlib import TopologicalSorter

import pytest
from stacks.nag import WILDCARD_ALLOWANCES, allowance_for, flatten_reference, wildcard_findings
from tests.stacks.templates import cfn_lint, dependencies, resources
from harness.synthesis import SYNTH_CONFIGS

ROLES = ("storage", "personalize", "dashboard")


def test_cdk_nag_passes_with_few_reasoned_acknowledgements(synthesized):
    # The session synthesis runs AwsSolutionsChecks; any unacknowledged finding fails it.
    assert synthesized.acknowledged, "expected the known wildcard allowances to be used"
    assert all("AwsSolutions-IAM5[" in a for a in synthesized.acknowledged)
    assert len(WILDCARD_ALLOWANCES) + 1 <= 15  # the allowances plus the Provider waiter's SF2
    per_stack = [a for a in synthesized.acknowledged if a.startswith(synthesized.stacks["default"]["personalize"] + "/")]
    assert len(per_stack) <= 8, per_stack  # acknowledgements in the default config, each one reviewed allowance


@pytest.mark.parametrize("config", ["default", "multi"])
def test_no_policy_grants_function_versions(synthesized, config):
    from stacks.tidy import without_version_wildcards

    template = synthesized.template(config, "personalize")
    for logical_id, policy in resources(template, "AWS::IAM::Policy").items():
        document = policy["Properties"]["PolicyDocument"]
        assert without_version_wildcards(document) == document, logical_id
        assert not re.search(r':\*"', json.dumps(document)), logical_id
    for allowance in WILDCARD_ALLOWANCES:
        assert len(allowance.reason) > 60


@pytest.mark.parametrize(
    ("finding", "actions", "allowed"),
    [
        ("Resource::<MyFunction1234.Arn>:*", ["lambda:InvokeFunction"], False),
        ("Resource::arn:<AWS::Partition>:s3:::env-data-<AWS::AccountId>-<AWS::Region>/imports/*", ["s3:GetObject"], True),
        ("Resource::arn:<AWS::Partition>:s3:::env-data-<AWS::AccountId>-<AWS::Region>/*", ["s3:GetObject"], False),
        ("Resource::*", ["cloudwatch:PutMetricData"], True),
        ("Resource::*", ["cloudwatch:PutMetricData", "s3:GetObject"], False),
        ("Resource::*", ["personalize:DescribeRecommender"], False),
        # The reference gives these no resource type: "*" is the only resource IAM matches them on.
        ("Resource::*", ["personalize:ListRecommenders", "personalize:TagResource"], True),
        ("Resource::*", ["personalize:ListRecommenders", "personalize:DescribeRecommender"], False),
        ("Resource::*", ["personalize:NoSuchAction"], False),
        ("Action::personalize:*", ["personalize:*"], False),
    ],
)
def test_only_reviewed_wildcards_are_acknowledged(finding, actions, allowed):
    assert (allowance_for(finding, actions) is not None) is allowed


def test_wildcard_findings_render_like_cdk_nag():
    document = {
        "Statement": [
            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Fn1", "Arn"]}, ":*"]]}},
            {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
        ]
    }
    assert wildcard_findings(document) == [("Resource::<Fn1.Arn>:*", ["lambda:InvokeFunction"])]
    assert flatten_reference({"Fn::Sub": "arn:${AWS::Partition}:s3:::b"}) == "arn:<AWS::Partition>:s3:::b"


def _templates():
    return [(config, role) for config in SYNTH_CONFIGS for role in ROLES]


@pytest.mark.parametrize(("config", "role"), _templates())
def test_cfn_lint_reports_nothing(synthesized, config, role):
    if role not in synthesized.stacks[config]:
        pytest.skip(f"{config} has no {role} stack")
    path = synthesized.outdir / f"{synthesized.stacks[config][role]}.template.json"
    assert cfn_lint(path) == []


def test_cdk_builtin_validation_ran_on_the_session_templates_and_found_nothing_unacknowledged(synthesized):
    """The session's synthesis is where CDK's built-in CloudFormation validation (AWS's rules)
    runs on every config's templates; `cdk synth` in test_cli skips it for the same templates."""
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    plugins = {plugin["pluginName"]: plugin for plugin in report["pluginReports"]}
    assert plugins["CloudFormation Validate"]["conclusion"] == "success"
    assert plugins["CloudFormation Validate"]["violations"] == []
    # Its acknowledgements: only the one resource type its bundled schemas lack (cfn-lint knows it).
    assert {v["ruleName"] for v in plugins["CloudFormation Validate"]["suppressedViolations"]} <= {"F3006"}


def test_the_shared_linter_reports_what_lint_file_reports(tmp_path):
    """cfn_lint (rules loaded once per process) finds what cfn-lint's own lint_file finds."""
    from cfnlint.api import lint_file

    broken = tmp_path / "broken.template.json"
    broken.write_text(json.dumps({"Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketNam": "x"}, "DependsOn": "Topic"},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "Missing"}}}}}))
    expected = [f"{broken.name}: {m.rule.id} {m.path_string}: {m.message}" for m in lint_file(broken)]
    assert len(expected) >= 2
    assert cfn_lint(broken) == expected
    assert cfn_lint(broken) == expected  # and again, with the rules already loaded


ACCOUNT_ID = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
REGION = re.compile(r"\b(us|eu|ap|sa|ca|me|af|il|mx)-(north|south|east|west|central|northeast|southeast|northwest|southwest)-[0-9]\b")


@pytest.mark.parametrize("config", sorted(SYNTH_CONFIGS))
def test_templates_are_environment_agnostic(synthesized, config):
    for name in synthesized.stacks[config].values():
        body = (synthesized.outdir / f"{name}.template.json").read_text()
        assert not ACCOUNT_ID.search(body), f"{name} hard-codes an account ID"
        assert not REGION.search(body), f"{name} hard-codes a region"
        assert "availability-zone" not in body.lower()


# Personalize's create order (facts file): each type after the ones listed for it.
MUST_FOLLOW = {
    "AWS::Personalize::Schema": set(),
    "AWS::Personalize::Dataset": {"AWS::Personalize::DatasetGroup", "AWS::Personalize::Schema"},
    "AWS::Personalize::EventTracker": {"AWS::Personalize::DatasetGroup"},
    "Custom::PersonalizeMetricAttribution": {"AWS::Personalize::DatasetGroup", "AWS::Personalize::Dataset"},
    # Per dataset (its own Dataset; Items before, Interactions after the attribution): test_personalize.
    "Custom::PersonalizeDatasetImportJob": {"AWS::Personalize::DatasetGroup"},
    "Custom::PersonalizeRecommender": {"AWS::Personalize::DatasetGroup", "Custom::PersonalizeDatasetImportJob", "Custom::PersonalizeMetricAttribution"},
}


def _group_of(template: dict, logical_id: str, memo: dict) -> str | None:
    """The dataset group a resource belongs to, through its (transitive) references."""
    if logical_id in memo:
        return memo[logical_id]
    memo[logical_id] = None
    resource = template["Resources"][logical_id]
    if resource["Type"] == "AWS::Personalize::DatasetGroup":
        memo[logical_id] = logical_id
        return logical_id
    for dependency in sorted(dependencies(template, logical_id)):
        group = _group_of(template, dependency, memo)
        if group and template["Resources"][dependency]["Type"].startswith(("AWS::Personalize", "Custom::Personalize")):
            memo[logical_id] = group
            return group
    return None


@pytest.mark.parametrize("config", ["default", "multi"])
def test_dependency_graph_creates_and_deletes_in_personalize_order(synthesized, config):
    template = synthesized.template(config, "personalize")
    graph = {logical_id: dependencies(template, logical_id) & set(template["Resources"]) for logical_id in template["Resources"]}
    create_order = list(TopologicalSorter(graph).static_order())  # raises on a cycle
    position = {logical_id: index for index, logical_id in enumerate(create_order)}

    def ancestors(logical_id: str, seen: set[str] | None = None) -> set[str]:
        seen = set() if seen is None else seen
        for dependency in graph[logical_id]:
            if dependency not in seen:
                seen.add(dependency)
                ancestors(dependency, seen)
        return seen

    memo: dict = {}
    checked = 0
    for logical_id, resource in template["Resources"].items():
        required = MUST_FOLLOW.get(resource["Type"])
        if not required:
            continue
        group = _group_of(template, logical_id, memo)
        before = ancestors(logical_id)
        for other_id, other in template["Resources"].items():
            if other["Type"] in required and _group_of(template, other_id, memo) == group:
                # A transitive dependency means: created before, and (reverse order) deleted after.
                assert other_id in before, f"{logical_id} ({resource['Type']}) does not wait for {other_id} ({other['Type']})"
                assert position[other_id] < position[logical_id]
                checked += 1
    assert checked > 10
    groups = resources(template, "AWS::Personalize::DatasetGroup")
    assert len(groups) == (2 if config == "multi" else 1)
    # Imports and recommenders are awaited by WaitConditions, which therefore go before them on delete.
    awaited = {"Custom::PersonalizeRecommender", "Custom::PersonalizeDatasetImportJob"}
    for wait_id in resources(template, "AWS::CloudFormation::WaitCondition"):
        assert any(template["Resources"][d]["Type"] in awaited for d in graph[wait_id])
