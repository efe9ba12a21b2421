"""Lambda functions and CDK Providers for the custom resources.

Each handler module in `lambdas/personalize_resources/` declares `API_OPERATIONS`, the exact
operations it calls. A handler's role is built from that tuple plus the resources this
stack gives each operation: an operation without resources, or resources for an operation the
handler does not declare, fails synthesis, so the policy and the code cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Iterable, Mapping, Sequence

from aws_cdk import Aws, CfnWaitCondition, CfnWaitConditionHandle, CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct

from lambdas.personalize_resources import address_book
from stacks.iam_reference import action as reference_action
from stacks.nag import trace_provider_waiter
from stacks.tidy import without_stream_writes_on_any_log_group

LAMBDA_SOURCE = Path(__file__).resolve().parents[2] / "lambdas"
RUNTIME = lambda_.Runtime.PYTHON_3_14
LOG_RETENTION = logs.RetentionDays.THREE_MONTHS


def handler_code() -> lambda_.Code:
    # One asset for every handler: hashing and copying it once keeps synth fast.
    return lambda_.Code.from_asset(str(LAMBDA_SOURCE), exclude=["**/__pycache__", "**/*.pyc"])


def iam_action(operation: str) -> str:
    """"DescribeRecommender" → "personalize:DescribeRecommender"; "s3:PutObject" stays."""
    return operation if ":" in operation else f"personalize:{operation}"


def granted_resources(action_name: str, resources: Iterable[str]) -> list[str]:
    """What a statement must name for `action_name` to be allowed: its resources, or "*" alone
    when the Service Authorization Reference gives the action no resource type (IAM authorizes
    such an action against "*", so a statement scoped to ARNs never matches it)."""
    return sorted(set(resources)) if reference_action(action_name).takes_resources else ["*"]


class HandlerFunction(Construct):
    """A Python Lambda with its own role, log group and an IAM policy equal to its operations."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        operations: Sequence[str],
        resources_by_operation: Mapping[str, Iterable[str]],
        environment: Mapping[str, str] | None = None,
        timeout: Duration = Duration.minutes(2),
        passes_role: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        declared = {iam_action(op) for op in operations}
        granted = {iam_action(op): granted_resources(iam_action(op), res) for op, res in resources_by_operation.items()}
        if declared != set(granted):
            raise ValueError(
                f"{handler}: IAM resources are given for {sorted(granted)} but the handler declares {sorted(declared)}; "
                "update API_OPERATIONS or the resources together"
            )
        self.log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=f"Runs {handler}")
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            code=handler_code(),
            handler=handler,
            description=description,
            role=self.role,
            timeout=timeout,
            memory_size=256,
            environment=dict(environment or {}),
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
        )
        self.log_group.grant_write(self.role)
        self._grant(granted, passes_role)

    def _grant(self, granted: dict[str, list[str]], passes_role: str | None) -> None:
        # One statement per distinct resource set keeps the policy short and readable; the actions
        # without resource types share the one statement on "*".
        by_resources: dict[tuple[str, ...], list[str]] = {}
        for action, resources in sorted(granted.items()):
            by_resources.setdefault(tuple(resources), []).append(action)
        for resource_set, actions in by_resources.items():
            self.role.add_to_policy(iam.PolicyStatement(actions=sorted(actions), resources=list(resource_set)))
        if passes_role is not None:
            # Create calls that name a roleArn need PassRole on that role, for Personalize only.
            self.role.add_to_policy(
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[passes_role],
                    conditions={"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}},
                )
            )


class CustomResourceProvider(Construct):
    """A CDK Provider around a handler module's `on_event` (and `is_complete` when it waits)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        module: str,
        description: str,
        operations: Sequence[str],
        resources_by_operation: Mapping[str, Iterable[str]],
        waits: bool,
        framework_roles: FrameworkRoles,
        environment: Mapping[str, str] | None = None,
        total_timeout: Duration = Duration.minutes(55),
        passes_role: str | None = None,
        is_complete_operations: Sequence[str] = (),
        is_complete_passes_role: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.handler = HandlerFunction(
            self,
            "Handler",
            handler=f"personalize_resources.{module}.on_event",
            description=description,
            operations=operations,
            resources_by_operation={op: resources_by_operation[op] for op in operations},
            environment=environment,
            passes_role=passes_role,
        )
        is_complete = None
        if waits:
            # Its own role: is_complete calls fewer operations (often no Create, so no PassRole).
            self.is_complete = HandlerFunction(
                self,
                "IsComplete",
                handler=f"personalize_resources.{module}.is_complete",
                description=f"{description} (waits for completion)",
                operations=is_complete_operations,
                resources_by_operation={op: resources_by_operation[op] for op in is_complete_operations},
                environment=environment,
                passes_role=passes_role if is_complete_passes_role else None,
            )
            is_complete = self.is_complete.function
        self._provider(is_complete, waits=waits, total_timeout=total_timeout, framework_roles=framework_roles)

    def _provider(self, is_complete: lambda_.IFunction | None, *, waits: bool, total_timeout: Duration, framework_roles: FrameworkRoles) -> None:
        """The CDK Provider; a waiting one polls is_complete every 30 s, traced and logged."""
        self.provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.handler.function,
            is_complete_handler=is_complete,
            query_interval=Duration.seconds(30) if waits else None,
            total_timeout=total_timeout if waits else None,
            framework_on_event_role=framework_roles.on_event,
            framework_complete_and_timeout_role=framework_roles.complete_and_timeout if waits else None,
            log_group=framework_roles.log_group,
            disable_waiter_state_machine_logging=False if waits else None,
            waiter_state_machine_log_options=cr.LogOptions(
                destination=framework_roles.log_group, level=sfn.LogLevel.ALL, include_execution_data=False
            )
            if waits
            else None,
        )
        if waits:
            trace_provider_waiter(self.provider)
            without_stream_writes_on_any_log_group(self.provider)

    @property
    def service_token(self) -> str:
        return self.provider.service_token


class FrameworkRoles(Construct):
    """Roles and a log group shared by every Provider's framework functions in a stack."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        lambda_principal = iam.ServicePrincipal("lambda.amazonaws.com")
        self.log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        self.on_event = iam.Role(self, "OnEventRole", assumed_by=lambda_principal, description="CDK Provider framework: onEvent")
        self.complete_and_timeout = iam.Role(
            self, "CompleteRole", assumed_by=lambda_principal, description="CDK Provider framework: isComplete and timeout"
        )
        for role in (self.on_event, self.complete_and_timeout):
            self.log_group.grant_write(role)


def personalize_prefix_arn(scope: Construct, name_prefix: str) -> str:
    """Every Personalize resource, of any type, whose name starts with `<name_prefix>-`.

    Handlers must reach resources of EARLIER configs too: CloudFormation deletes replaced and
    removed resources in its cleanup phase under the NEW policy, and a rollback re-sends old
    properties. Exact ARNs of the current config would deny those calls (the old recommender
    would stay and bill). The prefix keeps the grant to this app's environment: `*/` covers the
    resource type (recommender/, dataset-group/, dataset/<group>/...), the actions granted stay
    the handler's exact operations."""
    return personalize_arn(scope, "*", f"{name_prefix}-*")


def personalize_arn(scope: Construct, resource_type: str, name: str) -> str:
    """The ARN Personalize gives a resource named `name` in this stack's environment."""
    stack = Stack.of(scope)
    return address_book.personalize_arn(stack.partition, stack.region, stack.account, resource_type, name)


def request_tags(tags: Mapping[str, str]) -> list[dict]:
    """The stack's tags as a handler's ``tags`` request field: stack tags do not reach resources a
    custom resource creates, so the handler applies them."""
    return [{"tagKey": k, "tagValue": v} for k, v in sorted(tags.items())]


def awaited(scope: Construct, resource: CustomResource, handle: CfnWaitConditionHandle, condition_id: str, timeout: str) -> CfnWaitCondition:
    """The WaitCondition a long-running custom resource's poller signals through ``handle``: the
    resource starts once its handle exists, and the condition waits from when it has answered."""
    resource.node.add_dependency(handle)
    condition = CfnWaitCondition(scope, condition_id, handle=handle.ref, count=1, timeout=timeout)
    condition.node.add_dependency(resource)
    return condition


def signal_handle(handle: CfnWaitConditionHandle) -> dict:
    """A handler's ``SignalHandle`` property: a reference to the handle, never its URL.

    The URL is a bearer credential for the signal: the Provider framework logs the properties and
    Step Functions shows execution input, so only a reference travels; the poller reads the URL
    with cloudformation:DescribeStackResource when it signals.
    """
    return {"StackId": Aws.STACK_ID, "LogicalResourceId": Stack.of(handle).get_logical_id(handle)}
