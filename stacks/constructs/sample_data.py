"""The seeded demo data set, written to the import prefix by a custom resource."""

from __future__ import annotations

from aws_cdk import CustomResource
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from lambdas.personalize_resources import contracts, sample_data
from lambdas.personalize_resources.address_book import SAMPLE_PREFIX
from stacks.constructs.handler_functions import CustomResourceProvider, FrameworkRoles


class SampleDataResource(Construct):
    """Writes the generated demo data set to the import prefix (the data is kept on delete)."""

    def __init__(self, scope: Construct, construct_id: str, *, bucket: s3.IBucket, key: kms.IKey | None, framework: FrameworkRoles) -> None:
        super().__init__(scope, construct_id)
        provider = CustomResourceProvider(
            self,
            "Provider",
            module="sample_data",
            description="Custom::PersonalizeSampleData",
            operations=sample_data.API_OPERATIONS,
            resources_by_operation={"s3:PutObject": [bucket.arn_for_objects(SAMPLE_PREFIX + "*")]},
            waits=False,
            framework_roles=framework,
        )
        if key is not None:
            provider.handler.role.add_to_policy(iam.PolicyStatement(actions=["kms:GenerateDataKey"], resources=[key.key_arn]))
        resource = CustomResource(
            self,
            "Files",
            service_token=provider.service_token,
            resource_type=contracts.SampleData.RESOURCE_TYPE,
            properties=contracts.SampleData(
                bucket=bucket.bucket_name,
                prefix=SAMPLE_PREFIX,
                seed=str(sample_data.DEFAULT_SEED),
                users=str(sample_data.DEFAULT_USERS),
                items=str(sample_data.DEFAULT_ITEMS),
                interactions=str(sample_data.DEFAULT_INTERACTIONS),
            ).to_properties(),
        )
        self.interactions_location = resource.get_att_string("InteractionsLocation")
        self.items_location = resource.get_att_string("ItemsLocation")
        self.ratings_interactions_location = resource.get_att_string("RatingsInteractionsLocation")
