"""The stateful stack: the data bucket (imports and metric reports), its access logs, the key.

Kept apart from the Personalize stack so that tearing the service resources down (they bill by
the hour) never touches the data: buckets are RETAIN unless the config says DESTROY.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.configuration import AppConfig
from stacks.deployment import StackSettings

IMPORT_PREFIX = "imports/"
REPORT_PREFIX = "metric-reports/"
SAMPLE_PREFIX = IMPORT_PREFIX + "sample/"
# Recorded events exported before a dataset is deleted (removalPolicy RETAIN).
EXPORT_PREFIX = "exports/"
PERSONALIZE_PRINCIPAL = "personalize.amazonaws.com"


def data_bucket_name(config: AppConfig) -> str:
    """Named from the environment, account and region: the other stacks address the bucket by
    this name instead of a CloudFormation export, and two environments fit in one account."""
    return f"{config.name}-data-{Aws.ACCOUNT_ID}-{Aws.REGION}"


def import_location(bucket_name: str, key: str) -> str:
    return f"s3://{bucket_name}/{key}"


class StorageStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, parameterized: bool = False, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        settings = StackSettings.of(self, config, parameterized)
        config = settings.config
        removal = RemovalPolicy.DESTROY if config.removal_policy == "DESTROY" else RemovalPolicy.RETAIN
        auto_delete = config.removal_policy == "DESTROY"

        self.data_key: kms.IKey | None = None
        if config.encryption.mode == "KMS":
            if config.encryption.kms_key_arn:
                self.data_key = kms.Key.from_key_arn(self, "CustomerKey", config.encryption.kms_key_arn)
            else:
                self.data_key = kms.Key(
                    self,
                    "DataKey",
                    description=f"{settings.label}: Personalize data, imports and metric reports",
                    enable_key_rotation=True,
                    removal_policy=RemovalPolicy.RETAIN,
                )
                self._allow_personalize_on_key(self.data_key)

        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # S3 server access logs cannot be written to SSE-KMS buckets
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(365))],
            removal_policy=removal,
            auto_delete_objects=auto_delete,
        )
        self.data_bucket = s3.Bucket(
            self,
            "Data",
            bucket_name=data_bucket_name(config),
            encryption=s3.BucketEncryption.KMS if self.data_key else s3.BucketEncryption.S3_MANAGED,
            encryption_key=self.data_key,
            bucket_key_enabled=bool(self.data_key),
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="data-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-old-versions",
                    noncurrent_version_expiration=Duration.days(config.noncurrent_version_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=removal,
            auto_delete_objects=auto_delete,
        )
        self._allow_personalize_on_bucket()

    def _allow_personalize_on_bucket(self) -> None:
        """Personalize needs the bucket policy as well as its role (developer guide, S3 access)."""
        principal = iam.ServicePrincipal(PERSONALIZE_PRINCIPAL)
        same_account = {"StringEquals": {"aws:SourceAccount": self.account}}
        self.data_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PersonalizeReadsImports",
                principals=[principal],
                actions=["s3:GetObject", "s3:ListBucket"],
                resources=[self.data_bucket.bucket_arn, self.data_bucket.arn_for_objects(IMPORT_PREFIX + "*")],
                conditions=same_account,
            )
        )
        self.data_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PersonalizeWritesMetricReports",
                principals=[principal],
                actions=["s3:PutObject"],
                resources=[self.data_bucket.arn_for_objects(REPORT_PREFIX + "*")],
                conditions=same_account,
            )
        )
        self.data_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PersonalizeWritesEventExports",
                principals=[principal],
                actions=["s3:PutObject"],
                resources=[self.data_bucket.arn_for_objects(EXPORT_PREFIX + "*")],
                conditions=same_account,
            )
        )

    def _allow_personalize_on_key(self, key: kms.Key) -> None:
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PersonalizeUsesKey",
                principals=[iam.ServicePrincipal(PERSONALIZE_PRINCIPAL)],
                actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant", "kms:ListGrants"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
