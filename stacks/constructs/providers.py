"""The custom-resource handlers of the Personalize stack and the recommender poller."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from lambdas.personalize_resources import import_job, metric_attribution, recommender
from stacks.configuration import AppConfig
from stacks.constructs.attribution import GroupNames, ServiceTokens
from stacks.constructs.dataset_group import DatasetGroupResources
from stacks.constructs.handlers import (
    LOG_RETENTION,
    CustomResourceProvider,
    FrameworkRoles,
    HandlerFunction,
)


def build_providers(
    stack: Stack, *, config: AppConfig, groups: list[DatasetGroupResources], service_role: iam.IRole, framework: FrameworkRoles
) -> ServiceTokens:
    """One Provider per custom-resource type the config uses, each handler's IAM on exact ARNs."""
    arns: dict[str, list[str]] = {"metric-attribution": [], "dataset-import-job": [], "recommender": []}
    group_arns, dataset_arns = [], []
    for resources in groups:
        for kind, values in GroupNames(config, resources.group).arns(stack).items():
            arns[kind] += values
        group_arns.append(resources.arn)
        dataset_arns += [d.attr_dataset_arn for d in resources.datasets.values()]
    tokens = ServiceTokens()

    def provider(
        construct_id: str, module, create_operation: str, arns_of_kind: list[str], parents: list[str], other: dict | None = None, **options
    ) -> str:
        # Personalize names are known at synth, so every statement names exact ARNs; the
        # Create call also names the parent it creates the resource in; `other` gives the
        # resources of non-Personalize operations.
        resources = {op: arns_of_kind + (parents if op == create_operation else []) for op in module.API_OPERATIONS}
        resources.update(other or {})
        return CustomResourceProvider(
            stack,
            construct_id,
            module=module.__name__.rsplit(".", 1)[1],
            description=f"Custom resource handler: {module.__name__.rsplit('.', 1)[1]}",
            operations=module.API_OPERATIONS,
            resources_by_operation=resources,
            waits=True,
            framework_roles=framework,
            **options,
        ).service_token

    if arns["metric-attribution"]:
        tokens.metric_attribution = provider(
            "MetricAttributionProvider", metric_attribution, "CreateMetricAttribution", arns["metric-attribution"], group_arns,
            passes_role=service_role.role_arn,
        )
    if arns["dataset-import-job"]:
        tokens.import_job = provider(
            "ImportJobProvider", import_job, "CreateDatasetImportJob", arns["dataset-import-job"], dataset_arns,
            passes_role=service_role.role_arn,
        )
    if arns["recommender"]:
        poller = RecommenderPoller(stack, "RecommenderPoller", config=config, recommender_arns=arns["recommender"])
        state_machine_arn = poller.state_machine.state_machine_arn
        tokens.recommender = provider(
            "RecommenderProvider", recommender, "CreateRecommender", arns["recommender"], group_arns,
            other={"states:StartExecution": [state_machine_arn]},
            environment={"POLLER_STATE_MACHINE_ARN": state_machine_arn},
        )
    return tokens


class RecommenderPoller(Construct):
    """Step Functions loop that waits for recommenders without a Lambda sleeping.

    Wait → one `poll_step` (describe; stop/start toward the desired state; signal the
    WaitCondition on success or failure) → Choice(finished?) → Wait again.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, recommender_arns: list[str]) -> None:
        super().__init__(scope, construct_id)
        self.step = HandlerFunction(
            self,
            "PollStep",
            handler="personalize_resources.recommender.poll_step",
            description="One poll of a recommender toward its desired state",
            operations=recommender.POLLER_API_OPERATIONS,
            resources_by_operation={op: recommender_arns for op in recommender.POLLER_API_OPERATIONS},
            timeout=Duration.minutes(1),
            environment={"POLLER_TIMEOUT_SECONDS": str(int(config.recommender_ready_timeout_hours * 3600))},
        )
        wait = sfn.Wait(self, "WaitBeforePoll", time=sfn.WaitTime.duration(Duration.minutes(config.recommender_poll_minutes)))
        poll = tasks.LambdaInvoke(
            self, "Poll", lambda_function=self.step.function, payload_response_only=True, retry_on_service_exceptions=True
        )
        finished = sfn.Choice(self, "Finished").when(sfn.Condition.boolean_equals("$.finished", True), sfn.Succeed(self, "Done"))
        definition = wait.next(poll).next(finished.otherwise(wait))
        log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.hours(config.recommender_ready_timeout_hours),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
