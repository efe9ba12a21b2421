"""cdk-nag acknowledgements, each with its reason, all in one place.

IAM wildcard findings (AwsSolutions-IAM5) are acknowledged only when they match one of the
`WILDCARD_ALLOWANCES` below: each allowance is a pattern of finding plus the reason it is
acceptable. A wildcard that matches none stays a finding and fails synthesis, so a new
wildcard always needs a new, reviewed entry here. Finding texts are computed the way cdk-nag
renders them (resolved policy documents, references flattened to `<Logical.Attr>`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct, IConstruct

from lambdas.personalize_resources.address_book import personalize_arn
from stacks.iam_reference import UnknownActionError, action, as_list, flatten_reference


@dataclass(frozen=True)
class WildcardAllowance:
    pattern: str  # full-match regular expression over a finding, e.g. "Resource::arn:...:s3:::bucket/imports/*"
    reason: str

    def matches(self, finding: str) -> bool:
        return re.fullmatch(self.pattern, finding) is not None


WILDCARD_ALLOWANCES: tuple[WildcardAllowance, ...] = (
    WildcardAllowance(
        r"Resource::arn:<AWS::Partition>:s3:::(?:[a-z0-9-]+|<NamePrefix>)-data-<AWS::AccountId>-<AWS::Region>/(imports|imports/sample|metric-reports|exports)/\*",
        "Object keys under one prefix of the stack's own data bucket: Personalize imports a whole "
        "prefix and names its metric reports and dataset exports itself, and the sample writer owns imports/sample/.",
    ),
    WildcardAllowance(
        r"Resource::arn:<AWS::Partition>:s3:::[a-z0-9][a-z0-9.\-]+/[^*<>]*\*",
        "Objects under the one prefix a config names as a dataset's import location in the user's "
        "own bucket: Personalize reads every file under that prefix.",
    ),
    WildcardAllowance(
        # personalize_prefix_arn's ARN as cdk-nag prints it: tokens as <AWS::...>, any resource type.
        "Resource::" + re.escape(personalize_arn("<AWS::Partition>", "<AWS::Region>", "<AWS::AccountId>", "*/")) + r"(?:[a-z0-9-]+|<NamePrefix>)-\*",
        "Personalize resources named under this app's environment prefix, for the custom-resource "
        "handlers' exact operations only: CloudFormation deletes resources of earlier configs "
        "(replaced or removed recommenders, attributions, dataset groups) in its cleanup phase under "
        "the new policy, so exact ARNs of the current config would leave them behind, billing.",
    ),
    WildcardAllowance(
        r"Resource::\*",
        "Only for actions the Service Authorization Reference gives no resource type, which IAM "
        "authorizes against \"*\" alone: the Personalize List, TagResource and UntagResource calls of the "
        "custom-resource handlers (each handler's exact operations), cloudwatch:PutMetricData (limited "
        "to the AWS/Personalize namespace by condition), X-Ray trace segments and CloudWatch Logs log "
        "delivery of state machines.",
    ),
)


def takes_no_resource(action_name: str) -> bool:
    """True when the reference (stacks/iam_reference.json) lists no resource type for the action."""
    try:
        return not action(action_name).takes_resources
    except UnknownActionError:
        return False  # not in the extract: stays a finding until it is extracted and reviewed


# What AWS X-Ray asks of a traced state machine's role (Step Functions developer guide, "X-Ray
# and Step Functions"); these actions take no resource, like CDK's own `tracing_enabled` grant.
XRAY_TRACING_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]


def wildcard_findings(policy_document: dict) -> list[tuple[str, list[str]]]:
    """(finding, actions of its statement) for every wildcard in allowed statements."""
    findings: list[tuple[str, list[str]]] = []
    for statement in policy_document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        actions = as_list(statement.get("Action", []))
        findings += [(f"Action::{a}", actions) for a in actions if "*" in a]
        for resource in as_list(statement.get("Resource", [])):
            text = flatten_reference(resource)
            if "*" in text:
                findings.append((f"Resource::{text}", actions))
    return findings


def allowance_for(finding: str, actions: list[str]) -> WildcardAllowance | None:
    """The allowance that covers a finding, or None when it must stay a finding."""
    if finding == "Resource::*" and not all(map(takes_no_resource, actions)):
        return None  # "*" for any other action stays a finding
    return next((a for a in WILDCARD_ALLOWANCES if a.matches(finding)), None)


def acknowledge_allowed_wildcards(scope: IConstruct) -> list[str]:
    """Acknowledge every allowed IAM5 finding under `scope`; return the acknowledged IDs.

    A finding allowed wherever it occurs in a stack is one reviewed exception, acknowledged once
    on the stack (entry "<stack>/* (N policies): rule"); if any occurrence in that stack is not
    allowed, the allowed ones are acknowledged one by one and the others stay findings. Call once
    the construct tree is complete (policies are read as they are rendered).
    """
    occurrences: dict[tuple[Stack, str], list[tuple[IConstruct, WildcardAllowance | None]]] = {}
    for construct in scope.node.find_all():
        if not isinstance(construct, iam.CfnPolicy):
            continue
        stack = Stack.of(construct)
        document = stack.resolve(construct.policy_document)
        for finding, actions in wildcard_findings(document):
            occurrences.setdefault((stack, finding), []).append((construct, allowance_for(finding, actions)))
    acknowledged: list[str] = []
    for (stack, finding), found in occurrences.items():
        rule = f"AwsSolutions-IAM5[{finding}]"
        allowances = {allowance for _, allowance in found}
        if None not in allowances and len(allowances) == 1:
            [allowance] = allowances
            Validations.of(stack).acknowledge(Acknowledgment(id=rule, reason=allowance.reason))
            acknowledged.append(f"{stack.node.path}/* ({len(found)} policies): {rule}")
            continue
        for construct, allowance in found:
            if allowance is not None:
                Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=allowance.reason))
                acknowledged.append(f"{construct.node.path}: {rule}")
    return acknowledged


def trace_provider_waiter(provider: Construct) -> None:
    """Answer AwsSolutions-SF2 for a CDK Provider's waiter state machine by fixing it, not by
    acknowledging it: the Provider construct offers no tracing switch, so X-Ray is turned on
    in its CfnStateMachine and the role gets the X-Ray actions (on "*", inside the statement
    that already holds the log-delivery actions, so no new finding either)."""
    waiter = provider.node.find_child("waiter-state-machine")
    state_machine = waiter.node.default_child
    assert isinstance(state_machine, sfn.CfnStateMachine), state_machine
    state_machine.tracing_configuration = sfn.CfnStateMachine.TracingConfigurationProperty(enabled=True)
    role = waiter.node.find_child("Role")
    assert isinstance(role, iam.Role), role
    role.add_to_principal_policy(iam.PolicyStatement(actions=XRAY_TRACING_ACTIONS, resources=["*"]))


def acknowledged_rules(assembly: Path) -> list[str]:
    """Every cdk-nag acknowledgement recorded in a cloud assembly, as "<construct path>: <rule>".

    Read from the stacks' metadata files (`aws:cdk:acknowledged-rules`), the same way for an
    assembly written by `cdk synth`, `python app.py`, the release or the tests.
    """
    found: list[str] = []
    for metadata_file in sorted(assembly.glob("*.metadata.json")):
        for path, entries in json.loads(metadata_file.read_text()).items():
            for entry in entries:
                if entry.get("type") == "aws:cdk:acknowledged-rules":
                    found += [f"{path.lstrip('/')}: {rule.removeprefix('Annotation::')}" for rule in entry["data"]]
    return found
