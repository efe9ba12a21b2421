"""Dataset import jobs, each awaited by a WaitCondition the shared poller signals (handler: import_job)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnWaitCondition, CfnWaitConditionHandle, CustomResource
from constructs import Construct

from lambdas.personalize_resources import contracts
from lambdas.personalize_resources.address_book import IMPORT_PREFIX, whole_seconds
from config import DatasetGroup
from stacks.constructs.group_names import GroupContext, role_policy, short_hash
from stacks.constructs.handler_functions import awaited, signal_handle
from stacks.storage_stack import import_location


def import_locations(group: DatasetGroup, bucket_name: str, sample_locations: dict[str, str]) -> dict[str, str]:
    """S3 URI of each imported dataset: the sample files, the user's own URI, or a key under
    the data bucket's import prefix."""
    locations = {}
    for dataset_type, dataset in group.datasets.present().items():
        if dataset.data_import is None:
            continue
        location = dataset.data_import.location
        if location == "sample":
            ratings = dataset_type == "interactions" and dataset.schema_.field("EVENT_VALUE") is not None
            # A schema with EVENT_VALUE imports the ratings variant of the sample interactions.
            locations[dataset_type] = sample_locations["interactions-ratings" if ratings else dataset_type]
        elif location.startswith("s3://"):
            locations[dataset_type] = location
        else:
            locations[dataset_type] = import_location(bucket_name, IMPORT_PREFIX + location)
    return locations


@dataclass(frozen=True)
class ImportJob:
    job: CustomResource
    imported: CfnWaitCondition


def add_import_job(
    scope: Construct,
    context: GroupContext,
    dataset_type: str,
    *,
    service_token: str | None,
    stack_token: str,
    location: str,
    metric_attribution: CustomResource | None,
    events_export: CustomResource | None,
) -> ImportJob:
    """The job's custom resource and the WaitCondition the poller signals once it is ACTIVE
    (imports may outlast the custom resource's hour). Dependents wait for the latter."""
    config, group, resources = context.config, context.group, context.resources
    data_import = group.datasets.present()[dataset_type].data_import
    assert data_import is not None
    attribution = group.metric_attribution
    publish_to_s3 = bool(attribution and attribution.s3_output)
    wait_timeout = str(whole_seconds(config.long_wait_timeout_hours))
    after_attribution = dataset_type == "interactions" and metric_attribution is not None
    # A new job (see GroupNames.import_job) means a new handle, hence a new wait.
    digest = short_hash(group.name, dataset_type, data_import.location, data_import.mode.value, data_import.version, publish_to_s3, wait_timeout)
    handle = CfnWaitConditionHandle(scope, f"{dataset_type.title()}ImportHandle{digest}")
    job = CustomResource(
        scope,
        f"{dataset_type.title()}Import",
        service_token=service_token,
        resource_type=contracts.DatasetImportJob.RESOURCE_TYPE,
        properties=contracts.DatasetImportJob(
            job_name=context.names.import_job(dataset_type, stack_token),
            dataset_arn=resources.datasets[dataset_type].attr_dataset_arn,
            data_source={"dataLocation": location},
            role_arn=context.service_role.role_arn,
            import_mode=data_import.mode.value,
            publish_attribution_metrics_to_s3=str(publish_to_s3).lower(),
            metric_attribution_arn=metric_attribution.ref if after_attribution and metric_attribution else None,
            signal_handle=signal_handle(handle),
        ).to_properties(),
    )
    # Personalize reads the data with the role's permissions: wait for its policy.
    job.node.add_dependency(role_policy(context.service_role))
    if events_export is not None:
        job.node.add_dependency(events_export)
    # Its Delete answers at once and the teardown waits list the group's running imports.
    # They must exist before the job starts: a create that fails while an import runs
    # and before the chain was made would roll back to DeleteDataset on a running
    # import (ResourceInUseException, ROLLBACK_FAILED). CloudFormation starts
    # independent resources in no fixed order, so the job waits for the chain.
    resources.blocks_teardown(job)
    return ImportJob(job, awaited(scope, job, handle, f"{dataset_type.title()}Imported{digest}", wait_timeout))
