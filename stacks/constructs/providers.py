"""The custom-resource handlers of the Personalize stack and the poller for long waits."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from lambdas.personalize_resources import (
    dataset_export,
    import_job,
    long_waits,
    metric_attribution,
    poller,
    recommender,
    solution,
    solution_version,
    teardown_wait,
)
from lambdas.personalize_resources.address_book import POLLER_TIMEOUT_ENV, whole_seconds
from config import AppConfig
from stacks.constructs.attribution import GroupNames, ServiceTokens, keeps_recorded_events
from stacks.constructs.dataset_group import TEARDOWN_WAIT_TIMEOUT, DatasetGroupResources
from stacks.constructs.handlers import (
    LOG_RETENTION,
    CustomResourceProvider,
    FrameworkRoles,
    HandlerFunction,
    personalize_prefix_arn,
)


def build_providers(
    stack: Stack, *, config: AppConfig, groups: list[DatasetGroupResources], service_role: iam.IRole, framework: FrameworkRoles
) -> ServiceTokens:
    """One Provider per custom-resource type the config uses.

    Each handler's policy grants exactly its declared operations, on Personalize resources named
    under this environment's prefix (see `personalize_prefix_arn`: resources of earlier configs
    must stay reachable for CloudFormation's cleanup and rollbacks)."""
    used = {kind for resources in groups for kind, arns in GroupNames(config, resources.group).arns(stack).items() if arns}
    personalize = [personalize_prefix_arn(stack, config.name)]
    tokens = ServiceTokens()

    def provider(construct_id: str, module, other: dict | None = None, **options) -> str:
        resources = {op: personalize for op in (*module.API_OPERATIONS, *module.IS_COMPLETE_API_OPERATIONS) if ":" not in op}
        resources.update(other or {})
        name = module.__name__.rsplit(".", 1)[1]
        return CustomResourceProvider(
            stack,
            construct_id,
            module=name,
            description=f"Custom resource handler: {name}",
            operations=module.API_OPERATIONS,
            resources_by_operation=resources,
            waits=True,
            framework_roles=framework,
            is_complete_operations=module.IS_COMPLETE_API_OPERATIONS,
            **options,
        ).service_token

    if "metric-attribution" in used:
        tokens.metric_attribution = provider(
            "MetricAttributionProvider", metric_attribution, passes_role=service_role.role_arn, is_complete_passes_role=True
        )
    if any(keeps_recorded_events(config, resources.group) for resources in groups):
        tokens.dataset_export = provider("DatasetExportProvider", dataset_export, passes_role=service_role.role_arn)
    if "solution" in used:
        tokens.solution = provider("SolutionProvider", solution)
    if not {"dataset-import-job", "recommender", "solution-version"} & used:
        return tokens
    # One poller for every long wait (imports, recommenders, trainings): it outlasts the custom-resource hour.
    state_machine_arn = Poller(stack, "Poller", config=config, personalize_resources=personalize).state_machine.state_machine_arn
    start_poller = {"states:StartExecution": [state_machine_arn]}
    if "dataset-import-job" in used:
        tokens.import_job = provider(
            "ImportJobProvider", import_job, passes_role=service_role.role_arn, other=start_poller,
            environment={poller.STATE_MACHINE_ENV: state_machine_arn},
        )
    if "recommender" in used:
        tokens.recommender = provider(
            "RecommenderProvider", recommender, other=start_poller,
            environment={
                poller.STATE_MACHINE_ENV: state_machine_arn,
                recommender.WAIT_SECONDS_ENV: str(config.recommender_poll_minutes * 60),
            },
        )
    if "solution-version" in used:
        tokens.solution_version = provider(
            "SolutionVersionProvider", solution_version, other=start_poller, environment={poller.STATE_MACHINE_ENV: state_machine_arn},
        )
    return tokens


def build_teardown_chains(stack: Stack, *, config: AppConfig, groups: list[DatasetGroupResources], framework: FrameworkRoles) -> None:
    """The teardown waits of every group with long-running children (`blocks_teardown`), and their
    one Provider. Call it after every construct that registers children (recommenders, solutions)."""
    if not any(resources.teardown_children for resources in groups):
        return
    personalize = [personalize_prefix_arn(stack, config.name)]
    token = CustomResourceProvider(
        stack,
        "TeardownWaitProvider",
        module="teardown_wait",
        description="Custom resource handler: teardown_wait",
        operations=teardown_wait.API_OPERATIONS,
        # The List operations take no resource (granted on "*"); the rest, resources named under the prefix.
        resources_by_operation={op: personalize for op in (*teardown_wait.API_OPERATIONS, *teardown_wait.IS_COMPLETE_API_OPERATIONS)},
        waits=True,
        framework_roles=framework,
        is_complete_operations=teardown_wait.IS_COMPLETE_API_OPERATIONS,
        total_timeout=TEARDOWN_WAIT_TIMEOUT,
    ).service_token
    for resources in groups:
        resources.add_teardown_chain(config=config, service_token=token)


class Poller(Construct):
    """The Step Functions loop that follows import jobs, recommenders and trainings without a Lambda sleeping.

    Wait(`$.waitSeconds`, set per execution: a minute for imports, the config's poll interval for
    recommenders) → one `poll_step` (describe; act toward the goal; signal the WaitCondition on
    success or failure) → Choice(finished?) → Wait again. Any failure of the step is caught:
    `poll_failed` signals FAILURE with the error, then the execution fails.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, personalize_resources: list[str]) -> None:
        super().__init__(scope, construct_id)
        self.step = HandlerFunction(
            self,
            "PollStep",
            handler="personalize_resources.long_waits.poll_step",
            description="One poll of an import job, recommender or training; signals its WaitCondition when done",
            operations=long_waits.POLLER_API_OPERATIONS,
            resources_by_operation={
                **{op: personalize_resources for op in long_waits.POLLER_API_OPERATIONS if ":" not in op},
                # Reads the WaitConditionHandle's URL from this stack only (the URL never travels).
                "cloudformation:DescribeStackResource": [Aws.STACK_ID],
            },
            timeout=Duration.minutes(1),
            environment={POLLER_TIMEOUT_ENV: str(whole_seconds(config.long_wait_timeout_hours))},
        )
        wait = sfn.Wait(self, "WaitBeforePoll", time=sfn.WaitTime.seconds_path("$.waitSeconds"))
        poll = tasks.LambdaInvoke(
            self, "Poll", lambda_function=self.step.function, payload_response_only=True, retry_on_service_exceptions=True
        )
        # Catch-all: a poll step that fails or times out (after the task's retries) signals
        # FAILURE with the error, instead of leaving the deploy waiting for the WaitCondition.
        self.failure = HandlerFunction(
            self,
            "SignalFailure",
            handler="personalize_resources.poller.poll_failed",
            description="Signals FAILURE when a poll step failed or timed out",
            operations=poller.POLL_FAILED_API_OPERATIONS,
            resources_by_operation={"cloudformation:DescribeStackResource": [Aws.STACK_ID]},
            timeout=Duration.minutes(1),
        )
        signal_failure = tasks.LambdaInvoke(
            self, "SignalPollFailure", lambda_function=self.failure.function, payload_response_only=True, retry_on_service_exceptions=True
        )
        poll.add_catch(
            signal_failure.next(sfn.Fail(self, "PollFailed", error="PollStepFailed", cause="the poll step failed; FAILURE was signalled")),
            errors=["States.ALL"],
            result_path="$.error",
        )
        finished = sfn.Choice(self, "Finished").when(sfn.Condition.boolean_equals("$.finished", True), sfn.Succeed(self, "Done"))
        definition = wait.next(poll).next(finished.otherwise(wait))
        log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.hours(config.long_wait_timeout_hours),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
