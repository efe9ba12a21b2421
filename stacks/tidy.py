"""Two tidy-ups CDK does not do by itself, applied to every stack by the app builder.

* DependsOn entries that a Ref or Fn::GetAtt in the same resource already implies are dropped:
  CDK writes, for example, a Lambda function's DependsOn on its own role although the
  function's `Role` property points at it, and cfn-lint reports each one (W3005). CloudFormation
  orders by references anyway, so no deployment order changes. The list is replaced by a lazy
  value computed after CDK has resolved dependencies.
* `lambda:InvokeFunction` grants on `<function ARN>:*` (all versions) are dropped where the
  function itself is granted: nothing here invokes a version or alias.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import (
    CfnResource,
    IResolvable,
    IResolveContext,
    IStableListProducer,
    Lazy,
    Stack,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import IConstruct


def referenced_ids(value: Any) -> set[str]:
    """Logical IDs a resolved CloudFormation value points at through Ref or Fn::GetAtt."""
    found: set[str] = set()
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str) and not value["Ref"].startswith("AWS::"):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value and isinstance(value["Fn::GetAtt"], list):
            found.add(value["Fn::GetAtt"][0])
        for item in value.values():
            found |= referenced_ids(item)
    elif isinstance(value, list):
        for item in value:
            found |= referenced_ids(item)
    return found


@jsii.implements(IStableListProducer)
class _NecessaryDependsOn:
    def __init__(self, resource: CfnResource) -> None:
        self._resource = resource

    def produce(self) -> list[str] | None:
        stack = Stack.of(self._resource)
        # getLogicalId returns the final ID (a string, not a token): no resolve needed.
        depends_on = sorted({stack.get_logical_id(d) for d in self._resource.obtain_dependencies() if Stack.of(d) is stack})
        referenced = referenced_ids(stack.resolve(self._resource._cfn_properties))
        necessary = [logical_id for logical_id in depends_on if logical_id not in referenced]
        return necessary or None


# Where CDK writes a DependsOn on a role the resource already references (its execution role).
ROLE_USERS = {"AWS::Lambda::Function", "AWS::StepFunctions::StateMachine"}
ROLE_USER_CLASSES = (lambda_.CfnFunction, sfn.CfnStateMachine)


def _is_role_user(construct: IConstruct) -> bool:
    # A class test costs no jsii call; a plain CfnResource (CDK's own CustomResourceProvider
    # writes its function that way) is asked for its type.
    if isinstance(construct, ROLE_USER_CLASSES):
        return True
    return type(construct) is CfnResource and construct.cfn_resource_type in ROLE_USERS


def tidy(stack: Stack) -> None:
    """Both tidy-ups over one walk of the stack's constructs; call once the stack is complete.

    Every jsii call is a round trip to the node process, and a lazy value is a Python callback
    at every render: constructs are told apart by class, and only the policies that hold a
    version wildcard get a rewriting wrapper.
    """
    for construct in stack.node.find_all():
        if _is_role_user(construct):
            # Only where CDK writes such entries: each lazy value is a Python callback at synth.
            assert isinstance(construct, CfnResource)
            construct.add_override("DependsOn", Lazy.list(_NecessaryDependsOn(construct), omit_empty=True))
        elif isinstance(construct, iam.CfnPolicy):
            _drop_version_grants(stack, construct)


def _is_version_wildcard(resource: Any) -> str | None:
    """The function's logical ID when `resource` is `<function ARN>:*`, else None."""
    if isinstance(resource, dict) and "Fn::Join" in resource:
        delimiter, parts = resource["Fn::Join"]
        if delimiter == "" and len(parts) == 2 and parts[1] == ":*" and isinstance(parts[0], dict) and "Fn::GetAtt" in parts[0]:
            return parts[0]["Fn::GetAtt"][0]
    return None


def without_version_wildcards(document: dict) -> dict:
    """Drop `<fn>:*` from lambda:InvokeFunction statements that also name `<fn>` itself."""
    statements = []
    for statement in document.get("Statement", []):
        actions = statement.get("Action")
        resources = statement.get("Resource")
        if actions in ("lambda:InvokeFunction", ["lambda:InvokeFunction"]) and isinstance(resources, list):
            named = {r["Fn::GetAtt"][0] for r in resources if isinstance(r, dict) and "Fn::GetAtt" in r}
            kept = [r for r in resources if _is_version_wildcard(r) not in named]
            statement = {**statement, "Resource": kept if len(kept) > 1 else kept[0]}
        statements.append(statement)
    return {**document, "Statement": statements}


@jsii.implements(IResolvable)
class _InvokeWithoutVersions:
    """The policy document CDK wrote, minus function-version wildcards, resolved when rendered."""

    creation_stack: list[str] = []

    def __init__(self, original: Any) -> None:
        self._original = original

    def resolve(self, context: IResolveContext) -> Any:
        return without_version_wildcards(context.resolve(self._original))

    def to_string(self) -> str:
        return "InvokeWithoutVersions"


def _drop_version_grants(stack: Stack, policy: iam.CfnPolicy) -> None:
    """CDK's grantInvoke adds `<function ARN>:*` next to the function ARN. Every function here is
    invoked by its unqualified ARN (Provider framework, Step Functions tasks), so the versions
    grant only widens the policy. Applied to the L1 document, so cdk-nag sees what deploys; a
    document without such a grant (read once the tree is complete) is left as CDK wrote it."""
    document = stack.resolve(policy.policy_document)
    if without_version_wildcards(document) != document:
        policy.policy_document = _InvokeWithoutVersions(policy.policy_document)


# Step Functions delivers execution logs through CloudWatch Logs' vended log delivery
# (logs:*LogDelivery, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups); its role
# never writes log streams itself. CDK's own StateMachine logging grants exactly that set; the
# Provider framework's waiter adds stream writes on "*" as well, which only widens the role.
STREAM_WRITES = ("logs:CreateLogStream", "logs:PutLogEvents")


def without_stream_writes_on_any_resource(document: dict) -> dict:
    """Drop CreateLogStream/PutLogEvents from statements on Resource "*"."""
    statements = []
    for statement in document.get("Statement", []):
        actions = statement.get("Action")
        if statement.get("Resource") == "*" and isinstance(actions, list) and set(STREAM_WRITES) & set(actions):
            kept = [action for action in actions if action not in STREAM_WRITES]
            if not kept:
                continue
            statement = {**statement, "Action": kept if len(kept) > 1 else kept[0]}
        statements.append(statement)
    return {**document, "Statement": statements}


@jsii.implements(IResolvable)
class _WithoutStreamWrites:
    creation_stack: list[str] = []

    def __init__(self, original: Any) -> None:
        self._original = original

    def resolve(self, context: IResolveContext) -> Any:
        return without_stream_writes_on_any_resource(context.resolve(self._original))

    def to_string(self) -> str:
        return "WithoutStreamWrites"


def without_stream_writes_on_any_log_group(provider: IConstruct) -> None:
    """Applied to the Provider waiter state machine's role policy (L1, so cdk-nag sees it)."""
    for construct in provider.node.find_child("waiter-state-machine").node.find_all():
        if isinstance(construct, iam.CfnPolicy):
            construct.policy_document = _WithoutStreamWrites(construct.policy_document)
