"""One Provider per custom-resource type the config uses, and their service tokens."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from lambdas.personalize_resources import (
    dataset_export,
    import_job,
    metric_attribution,
    recommender,
    solution,
    solution_version,
)
from lambdas.personalize_resources.environments import HandlerEnvironment
from config import AppConfig
from stacks.constructs.dataset_group import DatasetGroupResources
from stacks.constructs.events_export import keeps_recorded_events
from stacks.constructs.group_names import GroupNames
from stacks.constructs.handler_functions import CustomResourceProvider, FrameworkRoles, personalize_prefix_arn
from stacks.constructs.poller import Poller


@dataclass
class ServiceTokens:
    """Provider service tokens; None where the config uses no resource of that type."""

    metric_attribution: str | None = None
    import_job: str | None = None
    recommender: str | None = None
    dataset_export: str | None = None
    solution: str | None = None
    solution_version: str | None = None


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
            environment=HandlerEnvironment(state_machine_arn=state_machine_arn).to_variables(),
        )
    if "recommender" in used:
        tokens.recommender = provider(
            "RecommenderProvider", recommender, other=start_poller,
            environment=HandlerEnvironment(state_machine_arn=state_machine_arn, wait_seconds=config.recommender_poll_minutes * 60).to_variables(),
        )
    if "solution-version" in used:
        tokens.solution_version = provider(
            "SolutionVersionProvider", solution_version, other=start_poller, environment=HandlerEnvironment(state_machine_arn=state_machine_arn).to_variables(),
        )
    return tokens
