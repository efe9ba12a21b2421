"""Native CloudFormation resources of one dataset group: group, schemas, datasets, event tracker."""

from __future__ import annotations

import json

from aws_cdk import CfnOutput
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_personalize as personalize
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from lambdas.personalize_resources.address_book import tracking_id_parameter
from config import (
    DATASET_TYPE_NAMES,
    AppConfig,
    DatasetGroup,
    DatasetSchema,
)

SCHEMA_NAMESPACE = "com.amazonaws.personalize.schema"
def avro_schema(schema: DatasetSchema, dataset_type: str) -> str:
    """The Avro record Personalize expects, serialised deterministically."""
    record = {
        "type": "record",
        "name": DATASET_TYPE_NAMES[dataset_type],
        "namespace": SCHEMA_NAMESPACE,
        "fields": [field.to_avro() for field in schema.fields],
        "version": "1.0",
    }
    return json.dumps(record, separators=(",", ":"))


class DatasetGroupResources(Construct):
    """The natively supported part of a dataset group; custom resources attach to it later."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        group: DatasetGroup,
        service_role: iam.IRole,
        key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.group = group
        self.name = config.physical_name(group.name)
        self.dataset_group = personalize.CfnDatasetGroup(
            self,
            "DatasetGroup",
            name=self.name,
            domain=group.domain,
            kms_key_arn=key.key_arn if key else None,
            role_arn=service_role.role_arn if key else None,
        )
        if key is not None:
            # Personalize uses the role for the key at creation: wait for the role's policy too.
            policy = service_role.node.try_find_child("DefaultPolicy")
            self.dataset_group.node.add_dependency(policy if policy is not None else service_role)
        self.arn = self.dataset_group.attr_dataset_group_arn

        self.datasets: dict[str, personalize.CfnDataset] = {}
        for dataset_type, dataset in group.datasets.present().items():
            type_name = DATASET_TYPE_NAMES[dataset_type]
            schema = personalize.CfnSchema(
                self,
                f"{type_name}Schema",
                name=config.physical_name(group.name, dataset_type),
                schema=avro_schema(dataset.schema_, dataset_type),
                domain=group.domain,
            )
            self.datasets[dataset_type] = personalize.CfnDataset(
                self,
                f"{type_name}Dataset",
                name=config.physical_name(group.name, dataset_type),
                dataset_type=type_name,
                dataset_group_arn=self.arn,
                schema_arn=schema.attr_schema_arn,
            )

        self.event_tracker = self._event_tracker(config, group) if group.event_tracker else None
        CfnOutput(self, "DatasetGroupArn", value=self.arn, description=f"{group.name}: dataset group ARN")
        # Wait 1 of the teardown chain (stacks/constructs/teardown.py) lives here: children depend
        # on this construct, and CDK resolves construct dependencies at synthesis, after the chain
        # was added.
        self.teardown_head = Construct(self, "Teardown")
        self.teardown_children: list[Construct] = []
        self.after_teardown: list[Construct] = []

    def _event_tracker(self, config: AppConfig, group: DatasetGroup) -> personalize.CfnEventTracker:
        """The tracker for PutEvents, its tracking ID in SSM and the outputs."""
        tracker = personalize.CfnEventTracker(
            self, "EventTracker", name=config.physical_name(group.name, "tracker"), dataset_group_arn=self.arn
        )
        # PutEvents needs the interactions dataset to exist.
        tracker.add_resource_dependency(self.datasets["interactions"])
        parameter = ssm.StringParameter(
            self,
            "TrackingIdParameter",
            parameter_name=tracking_id_parameter(config.name, group.name),
            simple_name=False,  # a path; the environment name may be a deploy-time parameter
            string_value=tracker.attr_tracking_id,
            description=f"Tracking ID of the {group.name} event tracker, for PutEvents",
        )
        CfnOutput(self, "TrackingId", value=tracker.attr_tracking_id, description=f"{group.name}: event tracker tracking ID")
        CfnOutput(self, "TrackingIdParameterName", value=parameter.parameter_name, description=f"{group.name}: SSM parameter holding the tracking ID")
        return tracker

    def blocks_teardown(self, child: Construct) -> None:
        """Register a long-running child whose Delete hands its work on (a recommender still
        training, an import running): on delete it goes first, then the teardown chain waits
        until it is really gone, then the datasets and the group. On create the chain (no-op
        resources) is made first, so a rollback of a failed create finds it in place."""
        self.teardown_children.append(child)
        child.node.add_dependency(self.teardown_head)

    def deleted_after_teardown(self, resource: Construct) -> None:
        """A resource deleted after the chain and before the datasets (the export of recorded
        events: it must see every import finished)."""
        self.after_teardown.append(resource)
