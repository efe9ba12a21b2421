"""The simulator's own parts, on small hand-written inputs (no synthesis): if these drift, the
scenarios prove nothing."""

from __future__ import annotations

import json

import pytest

from harness import states
from harness.aws import RETAINED, Aws
from harness.cloudformation import Stack
from harness.fake_service import StackFakePersonalize, Timings
from harness.iam import Iam, Request
from harness.intrinsics import Resolver, TemplateError, references
from harness.kernel import Clock, Kernel, Sleep


def _resolver(template: dict) -> Resolver:
    attributes = {("Role", "Arn"): "arn:aws:iam::123456789012:role/r"}
    return Resolver(template, "stack", {}, lambda logical_id: f"{logical_id}-physical",
                    lambda logical_id, attribute: attributes[(logical_id, attribute)])


def test_intrinsics_resolve_like_cloudformation() -> None:
    template = {"Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}}, "Resources": {}}
    resolver = _resolver(template)
    assert resolver.resolve({"Fn::Sub": "arn:${AWS::Partition}:x:${AWS::Region}:${Bucket}/${Role.Arn}"}) == \
        "arn:aws:x:us-east-1:Bucket-physical/arn:aws:iam::123456789012:role/r"
    assert resolver.resolve({"Fn::Join": ["-", ["a", {"Ref": "Bucket"}]]}) == "a-Bucket-physical"
    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}) == "b"
    assert resolver.resolve({"Fn::If": ["IsProd", "yes", {"Ref": "AWS::NoValue"}]}) == "yes"
    assert resolver.resolve({"k": {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, 1]}}) == {}
    assert references({"a": [{"Ref": "X"}, {"Fn::GetAtt": ["Y", "Arn"]}, {"Fn::Sub": "${Z.Arn}${AWS::Region}"}]}) == {"X", "Y", "Z"}


def test_iam_evaluates_wildcards_and_conditions_and_denies_unknown_keys() -> None:
    iam = Iam()
    iam.put_policy("role", "P", {"Statement": [
        {"Effect": "Allow", "Action": "personalize:Describe*", "Resource": "arn:aws:personalize:*:*:recommender/app-*"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
         "Condition": {"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}}},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringLike": {"s3:prefix": "imports/*"}}},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*", "Condition": {"NumericLessThan": {"s3:max-keys": "3"}}},
    ]})
    assert iam.check("role", "personalize:DescribeRecommender", ["arn:aws:personalize:us-east-1:1:recommender/app-a"]) is None
    assert iam.check("role", "personalize:DeleteRecommender", ["arn:aws:personalize:us-east-1:1:recommender/app-a"])
    assert iam.check("role", "personalize:DescribeRecommender", ["arn:aws:personalize:us-east-1:1:recommender/other"])
    assert iam.check("role", "iam:PassRole", ["arn:aws:iam::1:role/x"], {"iam:PassedToService": "personalize.amazonaws.com"}) is None
    assert iam.check("role", "iam:PassRole", ["arn:aws:iam::1:role/x"], {"iam:PassedToService": "lambda.amazonaws.com"})
    assert iam.check("role", "s3:GetObject", ["arn:aws:s3:::b/k"], {"s3:prefix": "imports/x"})  # not a key of GetObject
    assert iam.check("role", "s3:PutObject", ["arn:aws:s3:::b/k"])
    assert iam.unknown_conditions == {"s3:prefix (not a key of s3:GetObject)", "NumericLessThan"}
    assert len(iam.denied) == 5


def test_an_action_without_resource_types_is_allowed_only_by_resource_star() -> None:
    iam = Iam()
    iam.put_policy("role", "Scoped", {"Statement": [
        {"Effect": "Allow", "Action": "personalize:ListRecommenders", "Resource": "arn:aws:personalize:us-east-1:1:*/app-*"}]})
    denied = iam.authorize("role", Request("personalize:ListRecommenders", "*"))
    assert not denied.allowed and "ListRecommenders on *" in denied.reason
    iam.put_policy("role", "Star", {"Statement": [{"Effect": "Allow", "Action": "personalize:ListRecommenders", "Resource": "*"}]})
    assert iam.authorize("role", Request("personalize:ListRecommenders", "*")).allowed


def test_a_policy_is_in_force_only_after_the_propagation_delay() -> None:
    clock = Clock()
    iam = Iam(clock, propagation_seconds=20)
    iam.put_policy("role", "P", {"Statement": [{"Effect": "Allow", "Action": "personalize:ListRecommenders", "Resource": "*"}]})
    early = iam.authorize("role", Request("personalize:ListRecommenders", "*"))
    assert not early.allowed and early.propagating and "not in force yet" in early.reason
    clock.advance(20)
    assert iam.authorize("role", Request("personalize:ListRecommenders", "*")).allowed
    iam.delete_policy("role", "P")
    assert iam.authorize("role", Request("personalize:ListRecommenders", "*")).allowed  # a delete propagates too
    clock.advance(20)
    assert not iam.authorize("role", Request("personalize:ListRecommenders", "*")).allowed


def test_a_bucket_policy_is_evaluated_for_the_service_principal() -> None:
    iam = Iam()
    bucket = "arn:aws:s3:::data"
    iam.put_resource_policy(bucket, {"Statement": [
        {"Effect": "Allow", "Principal": {"Service": "personalize.amazonaws.com"}, "Action": "s3:GetObject", "Resource": f"{bucket}/imports/*",
         "Condition": {"StringEquals": {"aws:SourceAccount": "1"}, "ArnLikeIfExists": {"aws:SourceArn": "arn:aws:personalize:*:1:*"}}},
        {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": f"{bucket}/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]})
    context = {"aws:SourceAccount": "1", "aws:SecureTransport": "true"}
    assert iam.resource_policy_allows(bucket, "personalize.amazonaws.com", Request("s3:GetObject", f"{bucket}/imports/a.csv", context)).allowed
    assert not iam.resource_policy_allows(bucket, "personalize.amazonaws.com", Request("s3:GetObject", f"{bucket}/other/a.csv", context)).allowed
    assert not iam.resource_policy_allows(bucket, "personalize.amazonaws.com", Request("s3:GetObject", f"{bucket}/imports/a.csv", {**context, "aws:SourceAccount": "2"})).allowed
    assert not iam.resource_policy_allows(bucket, "personalize.amazonaws.com", Request("s3:GetObject", f"{bucket}/imports/a.csv", {**context, "aws:SecureTransport": "false"})).allowed
    assert "has no policy" in iam.resource_policy_allows("arn:aws:s3:::partner", "personalize.amazonaws.com", Request("s3:GetObject", "arn:aws:s3:::partner/k")).reason


def test_state_machine_retries_then_catches_into_result_path_on_the_simulated_clock() -> None:
    clock = Clock()
    kernel = Kernel(clock)
    definition = {"StartAt": "Poll", "TimeoutSeconds": 3600, "States": {
        "Poll": {"Type": "Task", "Resource": "poll", "Next": "Done",
                 "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 30, "MaxAttempts": 2, "BackoffRate": 1}],
                 "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}]},
        "Failed": {"Type": "Task", "Resource": "failed", "End": True},
        "Done": {"Type": "Succeed"}}}
    seen = []

    def invoke(resource: str, document: dict):
        seen.append((resource, clock.minutes, json.dumps(document, sort_keys=True)))
        if resource == "poll":
            return None, ("Flaky", "{}")
        return {"signalled": document["error"]["Error"]}, None

    execution = states.Execution("arn", definition, {"id": 1})
    finished = kernel.spawn(states.run(kernel, execution, invoke))
    kernel.run_until(finished)
    assert [(r, m) for r, m, _ in seen] == [("poll", 0), ("poll", 0.5), ("poll", 1.0), ("failed", 1.0)]
    assert json.loads(seen[-1][2]) == {"id": 1, "error": {"Error": "Flaky", "Cause": "{}"}}
    assert execution.status == "SUCCEEDED"


def test_kernel_runs_processes_in_simulated_time_order() -> None:
    clock = Clock()
    kernel = Kernel(clock)
    order = []

    def process(name: str, seconds: float):
        yield Sleep(seconds)
        order.append((name, clock.minutes))

    kernel.spawn(process("late", 600))
    last = kernel.spawn(process("early", 60))
    kernel.run_until(last)
    assert order == [("early", 1.0)]


def test_billed_hours_count_what_bills_until_it_is_gone() -> None:
    from harness.fake_personalize import GONE
    from harness.fake_service import StackFakePersonalize, Timings
    from harness.scenarios import _billed_hours_until_quiet

    clock = Clock()
    kernel = Kernel(clock)
    fake = StackFakePersonalize(clock, Timings())
    campaign = fake.add_resource(fake.arn("campaign", "c"), "campaign", {"name": "c"})
    fake.add_resource(fake.arn("solution", "off"), "solution", {"name": "off", "performAutoTraining": False})
    fake._at(90, fake._status(campaign, GONE))  # deleted 90 minutes from now
    assert _billed_hours_until_quiet(kernel, fake) == 1.5


def test_a_cancelled_create_gets_a_made_up_physical_id() -> None:
    from lambdas.personalize_resources.address_book import is_personalize_arn
    from harness.cloudformation import generated_physical_id

    made_up = generated_physical_id("pimpact-default-personalize", "CustomAttribution", "req-1")
    assert made_up.startswith("pimpact-default-personalize-CustomAttribution-") and not made_up.startswith("arn:")
    assert made_up == generated_physical_id("pimpact-default-personalize", "CustomAttribution", "req-1")
    assert not is_personalize_arn(made_up, "metric-attribution")


# --- CloudFormation's published rules: schemas, names, conditions, custom-resource limits ------------


def _world(tmp_path, name: str = "stack", custom_resources: bool = False):
    kernel = Kernel(Clock())
    aws = Aws(kernel, StackFakePersonalize(kernel.clock, Timings()), Iam(), bridge=None)
    return kernel, aws, Stack(kernel, aws, name, tmp_path, custom_resources=custom_resources)


def _play(kernel: Kernel, process):
    finished = kernel.spawn(process)
    kernel.run_until(finished)
    return finished.value


def _bucket(name: str | None = None, policy: str = "Retain") -> dict:
    return {"Type": "AWS::S3::Bucket", "DeletionPolicy": policy, "UpdateReplacePolicy": policy,
            "Properties": {"BucketName": name} if name else {}}


def test_a_retained_bucket_keeps_its_name_and_the_next_create_collides(tmp_path) -> None:
    kernel, aws, stack = _world(tmp_path)
    template = {"Resources": {"Data": _bucket("data-bucket"), "Logs": _bucket()}}
    assert _play(kernel, stack.deploy(template)).status == "CREATE_COMPLETE"
    generated = stack.resources["Logs"].physical_id
    assert _play(kernel, stack.destroy()).status == "DELETE_COMPLETE"
    assert aws.named[("AWS::S3::Bucket", ("data-bucket",))] == RETAINED
    again = _play(kernel, stack.deploy(template))
    assert again.status == "ROLLBACK_COMPLETE" and "data-bucket already exists (retained" in again.failures[0]
    # A generated name is new on every creation: it never collides with the retained one.
    assert stack.resources == {} and ("AWS::S3::Bucket", (generated,)) in aws.named
    deleted = {"Resources": {"Data": _bucket("data-bucket", "Delete")}}
    kernel2, aws2, other = _world(tmp_path, "other")
    assert _play(kernel2, other.deploy(deleted)).status == "CREATE_COMPLETE"
    assert _play(kernel2, other.destroy()).status == "DELETE_COMPLETE" and not aws2.named


def test_replacement_follows_create_only_properties_and_refuses_a_kept_custom_name(tmp_path) -> None:
    kernel, aws, stack = _world(tmp_path)
    machine = lambda kind, name: {"Type": "AWS::StepFunctions::StateMachine", "Properties": {  # noqa: E731
        "StateMachineName": name, "StateMachineType": kind, "RoleArn": "arn:aws:iam::1:role/r",
        "DefinitionString": json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})}}
    parameter = lambda name, value: {"Type": "AWS::SSM::Parameter", "Properties": {"Name": name, "Type": "String", "Value": value}}  # noqa: E731
    assert _play(kernel, stack.deploy({"Resources": {"M": machine("STANDARD", "m"), "P": parameter("/a", "1")}})).status == "CREATE_COMPLETE"
    # Value is not create-only: in place. Name is: a new parameter, the old one deleted in cleanup.
    assert _play(kernel, stack.deploy({"Resources": {"M": machine("STANDARD", "m"), "P": parameter("/a", "2")}})).status == "UPDATE_COMPLETE"
    assert stack.resources["P"].physical_id == "/a" and aws.ssm_values["/a"] == "2"
    assert _play(kernel, stack.deploy({"Resources": {"M": machine("STANDARD", "m"), "P": parameter("/b", "2")}})).status == "UPDATE_COMPLETE"
    assert ("AWS::SSM::Parameter", ("/a",)) not in aws.named and aws.ssm_values == {**aws.ssm_values, "/b": "2"} and "/a" not in aws.ssm_values
    # A new definition is an update in place: the state machine keeps its ARN.
    arn = stack.resources["M"].physical_id
    changed = machine("STANDARD", "m")
    changed["Properties"]["DefinitionString"] = json.dumps({"StartAt": "B", "States": {"B": {"Type": "Succeed"}}})
    assert _play(kernel, stack.deploy({"Resources": {"M": changed, "P": parameter("/b", "2")}})).status == "UPDATE_COMPLETE"
    assert stack.resources["M"].physical_id == arn == "arn:aws:states:us-east-1:123456789012:stateMachine:m"
    # StateMachineType is create-only and the name stays: CloudFormation refuses the update.
    refused = _play(kernel, stack.deploy({"Resources": {"M": machine("EXPRESS", "m"), "P": parameter("/b", "2")}}))
    assert refused.status == "UPDATE_ROLLBACK_COMPLETE" and "custom-named resource requires replacing" in refused.failures[0]
    assert "StateMachineType" in refused.failures[0]


def test_conditions_decide_what_exists_and_a_switch_adds_and_removes_it(tmp_path) -> None:
    kernel, aws, stack = _world(tmp_path)
    template = {
        "Parameters": {"Enabled": {"Type": "String", "AllowedValues": ["true", "false"], "Default": "true"}},
        "Conditions": {"On": {"Fn::And": [{"Fn::Equals": [{"Ref": "Enabled"}, "true"]}, {"Fn::Not": [{"Fn::Equals": [{"Ref": "AWS::Region"}, "x"]}]}]}},
        "Resources": {
            "Always": {"Type": "AWS::SSM::Parameter", "Properties": {"Name": "/always", "Type": "String",
                                                                     "Value": {"Fn::If": ["On", "on", {"Ref": "AWS::NoValue"}]}}},
            "Switched": {"Type": "AWS::SSM::Parameter", "Condition": "On", "Properties": {"Name": "/switched", "Type": "String", "Value": "x"}},
        },
        "Outputs": {"Out": {"Condition": "On", "Value": {"Ref": "Switched"}}},
    }
    assert _play(kernel, stack.deploy(template, {"Enabled": "false"})).status == "CREATE_COMPLETE"
    assert set(stack.resources) == {"Always"} and aws.stack_outputs["stack"] == {} and aws.ssm_values["/always"] is None
    assert _play(kernel, stack.deploy(template, {"Enabled": "true"})).status == "UPDATE_COMPLETE"
    assert set(stack.resources) == {"Always", "Switched"} and aws.stack_outputs["stack"] == {"Out": "/switched"}
    assert _play(kernel, stack.deploy(template, {"Enabled": "false"})).status == "UPDATE_COMPLETE"
    assert set(stack.resources) == {"Always"} and "/switched" not in aws.ssm_values
    for bad in ({"Enabled": "maybe"}, {"Unknown": "1"}):
        with pytest.raises(TemplateError):
            _play(kernel, stack.deploy(template, bad))
    template["Resources"]["Always"]["DependsOn"] = "Switched"
    with pytest.raises(TemplateError, match="Unresolved resource dependencies"):
        _play(kernel, stack.deploy(template, {"Enabled": "false"}))


def test_a_service_token_change_is_refused_and_a_response_over_4096_bytes_fails(tmp_path) -> None:
    kernel, aws, stack = _world(tmp_path)
    custom = lambda token: {"Resources": {"C": {"Type": "Custom::Thing", "Properties": {"ServiceToken": token, "Size": 1}}}}  # noqa: E731
    assert _play(kernel, stack.deploy(custom("arn:one"))).status == "CREATE_COMPLETE"
    refused = _play(kernel, stack.deploy(custom("arn:two")))
    assert refused.status == "UPDATE_ROLLBACK_COMPLETE" and "Modifying service token is not allowed" in refused.failures[0]

    kernel, aws, stack = _world(tmp_path, custom_resources=True)

    def invoke(token, event):  # the Provider answers with Data of the requested size
        size = int(event["ResourceProperties"]["Size"])
        aws.responses[event["RequestId"]].resolve({"Status": "SUCCESS", "PhysicalResourceId": "p", "Data": {"Blob": "x" * size}})
        return None, None

    aws.invoke = invoke
    sized = lambda size: {"Resources": {"C": {"Type": "Custom::Thing", "Properties": {"ServiceToken": "arn:one", "Size": size}}}}  # noqa: E731
    assert _play(kernel, stack.deploy(sized(3000))).status == "CREATE_COMPLETE"
    too_long = _play(kernel, stack.deploy(sized(4100)))
    assert too_long.status == "UPDATE_ROLLBACK_COMPLETE" and "Response object is too long" in too_long.failures[0]
    assert aws.largest_response[0] > 4096


def _start_order(tmp_path, *, reversed_order: bool = False) -> list[str]:
    """The order a stack starts twelve one-minute resources in: six independent ones, then six
    that each wait for two of those (all ready at the same instant)."""
    kernel, aws, _ = _world(tmp_path)
    stack = Stack(kernel, aws, "ordered", tmp_path, reversed_order=reversed_order)
    started: list[str] = []

    def provision(logical_id: str):
        started.append(logical_id)
        yield Sleep(60)

    depends = {f"Then{i}": {f"First{i}", f"First{5 - i}"} for i in range(6)}
    _play(kernel, stack._walk([f"First{i}" for i in range(6)] + list(depends), depends, provision))
    return started


def test_start_order_does_not_follow_the_hash_seed_and_has_a_reversed_variant(tmp_path) -> None:
    import os
    import subprocess
    import sys

    # Set iteration order follows PYTHONHASHSEED: the start order must not (a scenario's
    # outcome would change from one run to the next).
    program = "import pathlib, sys; from tests.harness.test_engine import _start_order; print(_start_order(pathlib.Path(sys.argv[1])))"
    orders = {subprocess.run([sys.executable, "-c", program, str(tmp_path)], env={**os.environ, "PYTHONHASHSEED": seed},
                             capture_output=True, text=True, check=True).stdout for seed in ("0", "1", "2", "3")}
    assert len(orders) == 1, orders
    # The other order (python -m harness --reversed-order) starts the same resources differently.
    ordered, reversed_ = _start_order(tmp_path), _start_order(tmp_path, reversed_order=True)
    assert sorted(ordered) == sorted(reversed_) and len(ordered) == 12 and ordered[6:] != reversed_[6:]


def test_the_scenarios_are_shared_among_the_workers_once_each_grouped_by_variant() -> None:
    from harness.parallel import shares, variants_of
    from harness.scenarios import SCENARIOS

    groups = shares(SCENARIOS, 2)
    assert len(groups) == 2 and all(groups)
    assert sorted(s.name for g in groups for s in g) == sorted(s.name for s in SCENARIOS)
    # each share keeps the scenarios' order, and the split is the same every time
    order = [s.name for s in SCENARIOS]
    assert all([s.name for s in g] == sorted((s.name for s in g), key=order.index) for g in groups)
    assert [[s.name for s in g] for g in groups] == [[s.name for s in g] for g in shares(SCENARIOS, 2)]
    # the workers' loads (variants to synthesize + scenarios to play) differ by little, and
    # grouping saves most of the synthesis a round-robin split would repeat
    loads = [len(set().union(*map(variants_of, g))) + len(g) for g in groups]
    assert max(loads) - min(loads) <= 3
    every_variant = set().union(*map(variants_of, SCENARIOS))
    assert sum(len(set().union(*map(variants_of, g))) for g in groups) <= 1.25 * len(every_variant)
    assert shares(SCENARIOS[:1], 2) == [SCENARIOS[:1]]
