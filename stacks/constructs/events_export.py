"""The export of recorded events before the Interactions dataset goes (handler: dataset_export)."""

from __future__ import annotations

from aws_cdk import CustomResource
from constructs import Construct

from lambdas.personalize_resources import contracts

from config import AppConfig, DatasetGroup
from stacks.constructs.group_names import GroupContext, role_policy


def keeps_recorded_events(config: AppConfig, group: DatasetGroup) -> bool:
    """Events recorded with PutEvents exist only in the Interactions dataset: with RETAIN they are
    exported to the data bucket before the dataset is deleted."""
    return config.removal_policy == "RETAIN" and group.event_tracker and "interactions" in group.datasets.present()


def add_events_export(scope: Construct, context: GroupContext, *, service_token: str | None, export_location: str, key_arn: str | None) -> CustomResource:
    """`Custom::PersonalizeInteractionsExport`: on delete, a dataset export job of the Interactions dataset."""
    config, group, resources = context.config, context.group, context.resources
    export = CustomResource(
        scope,
        "KeepRecordedEvents",
        service_token=service_token,
        resource_type=contracts.InteractionsExport.RESOURCE_TYPE,
        properties=contracts.InteractionsExport(
            dataset_arn=resources.datasets["interactions"].attr_dataset_arn,
            role_arn=context.service_role.role_arn,
            export_prefix=f"{export_location}{group.name}/",
            job_name_prefix=config.physical_name(group.name, "export"),
            kms_key_arn=key_arn or None,
        ).to_properties(),
    )
    # Deleted after the teardown chain (no import runs any more) and before the dataset.
    export.node.add_dependency(role_policy(context.service_role))
    resources.deleted_after_teardown(export)
    return export
