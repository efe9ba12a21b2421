"""The role Amazon Personalize assumes to read imports, write metric reports and publish metrics."""

from __future__ import annotations

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from lambdas.personalize_resources.address_book import personalize_arn
from stacks.iam_reference import PERSONALIZE_PRINCIPAL



class PersonalizeServiceRole(Construct):
    """Least privilege: read the import prefix (and any external import bucket), write the
    metric-report prefix, `cloudwatch:PutMetricData` only when CloudWatch output is on, the KMS
    key only when one is used. The trust policy carries confused-deputy conditions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        data_bucket: s3.IBucket,
        import_prefix: str,
        report_prefix: str,
        external_import_locations: list[str],
        publish_to_cloudwatch: bool,
        key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            description="Assumed by Amazon Personalize for imports, metric reports and CloudWatch metrics",
            assumed_by=iam.ServicePrincipal(
                PERSONALIZE_PRINCIPAL,
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": personalize_arn(stack.partition, stack.region, stack.account, "*")},
                },
            ),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ListImportPrefix",
                actions=["s3:ListBucket"],
                resources=[data_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [import_prefix, import_prefix + "*"]}},
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(sid="ReadImports", actions=["s3:GetObject"], resources=[data_bucket.arn_for_objects(import_prefix + "*")])
        )
        self.role.add_to_policy(
            iam.PolicyStatement(sid="WriteMetricReports", actions=["s3:PutObject"], resources=[data_bucket.arn_for_objects(report_prefix + "*")])
        )
        self._read_external_imports(external_import_locations)
        if publish_to_cloudwatch:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="PublishAttributionMetrics",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],  # PutMetricData supports no resource-level scoping
                    conditions={"StringEquals": {"cloudwatch:namespace": "AWS/Personalize"}},
                )
            )
        if key is not None:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="UseDataKey",
                    actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant", "kms:ListGrants"],
                    resources=[key.key_arn],
                )
            )

    def _read_external_imports(self, locations: list[str]) -> None:
        """List and read each import location outside the data bucket (its owner grants the same)."""
        for index, location in enumerate(sorted(set(locations))):
            bucket, _, object_prefix = location.removeprefix("s3://").partition("/")
            # Listing is limited to the import's own prefix (a file key is its own prefix), as
            # for the data bucket; a location naming a whole bucket can only be listed whole.
            list_prefix = {"StringLike": {"s3:prefix": [object_prefix, object_prefix + "*"]}} if object_prefix else None
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid=f"ListExternalImport{index}",
                    actions=["s3:ListBucket"],
                    resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}"],
                    conditions=list_prefix,
                )
            )
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid=f"ReadExternalImport{index}",
                    actions=["s3:GetObject"],
                    resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}/{object_prefix}*"],
                )
            )
