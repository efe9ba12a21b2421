"""The teardown chain of each dataset group and its Provider (handler: teardown_wait)."""

from __future__ import annotations

import math

from aws_cdk import CustomResource, Duration, Stack

from lambdas.personalize_resources import contracts, teardown_wait
from lambdas.personalize_resources.address_book import whole_seconds
from config import AppConfig
from stacks.constructs.dataset_group import DatasetGroupResources
from stacks.constructs.handler_functions import CustomResourceProvider, FrameworkRoles, personalize_prefix_arn

# The teardown chain (see `add_teardown_chain`): a fixed number of waits,
# enough for the longest `longWaitTimeoutHours` (12) at 48 minutes each. Fixed, so that a
# timeout change only updates their share in place: a wait removed in a cleanup would find the
# group's ACTIVE recommenders and hold the update for its whole share.
TEARDOWN_WAITS = 15
TEARDOWN_WAIT_TIMEOUT = Duration.minutes(55)  # each wait's Provider: its share ends well before


def teardown_wait_share_seconds(config: AppConfig) -> int:
    """Each wait's own share of time: together the waits last as long as the deploy would have
    waited for a recommender's training or an import (`longWaitTimeoutHours`), never longer."""
    return math.ceil(whole_seconds(config.long_wait_timeout_hours) / TEARDOWN_WAITS)


def add_teardown_chain(resources: DatasetGroupResources, *, config: AppConfig, service_token: str) -> list[CustomResource]:
    """The waits between the children and the datasets/group, deleted one after another
    (lambdas/personalize_resources/teardown_wait.py). None when no child registered."""
    if not resources.teardown_children:
        return []
    count, share = TEARDOWN_WAITS, teardown_wait_share_seconds(config)
    waits: list[CustomResource] = []
    for position in range(count, 0, -1):
        wait = CustomResource(
            resources.teardown_head if position == 1 else resources,
            "Wait1" if position == 1 else f"TeardownWait{position}",
            service_token=service_token,
            resource_type=contracts.TeardownWait.RESOURCE_TYPE,
            properties=contracts.TeardownWait(
                dataset_group_arn=resources.arn,
                dataset_arns=[dataset.attr_dataset_arn for dataset in resources.datasets.values()],
                name_prefix=f"{resources.name}-",
                position=position,
                count=count,
                share_seconds=share,
            ).to_properties(),
        )
        # Every wait is deleted before the datasets and the group (it references their ARNs),
        # the last one before what goes right before them; each earlier one before the next.
        for dependency in waits[-1:] or resources.after_teardown:
            wait.node.add_dependency(dependency)
        waits.append(wait)
    return waits


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
        add_teardown_chain(resources, config=config, service_token=token)
