"""The stateful stack: the data bucket (imports and metric reports), its access logs, the key.

Kept apart from the Personalize stack so that tearing the service resources down (they bill by
the hour) never touches the data: buckets are RETAIN unless the config says DESTROY. Both buckets
have names derived from the environment, so after a RETAIN `destroy` the next deploy finds them:
with `reuseRetainedBuckets` it uses them instead of creating them again (docs/storage-lifecycle.md).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Aws, CfnOutput, CfnResource, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from lambdas.personalize_resources import address_book
from lambdas.personalize_resources.address_book import EXPORT_PREFIX, IMPORT_PREFIX, REPORT_PREFIX
from stacks.bucket_access import personalize_source_conditions
from config import AppConfig
from stacks.deployment import StackSettings
from stacks.iam_reference import PERSONALIZE_PRINCIPAL

# The singleton CDK adds to a stack for `auto_delete_objects` (aws-cdk-lib 2.275).
AUTO_DELETE_PROVIDER_ID = "Custom::S3AutoDeleteObjectsCustomResourceProvider"
AUTO_DELETE_LOG_RETENTION = logs.RetentionDays.ONE_MONTH


def data_bucket_name(config: AppConfig) -> str:
    return address_book.data_bucket_name(config.name, Aws.ACCOUNT_ID, Aws.REGION)


def access_log_bucket_name(config: AppConfig) -> str:
    """Named like the data bucket, so a retained one can be reused (at most 60 characters with a
    20-character `name`)."""
    return f"{config.name}-access-logs-{Aws.ACCOUNT_ID}-{Aws.REGION}"


ACCESS_LOG_PREFIX = "data-bucket/"


def tls_only(bucket: s3.IBucket) -> iam.PolicyStatement:
    """The statement `enforce_ssl=True` adds (aws-cdk-lib Bucket.enforceSSLStatement)."""
    return iam.PolicyStatement(
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=["s3:*"],
        resources=[bucket.bucket_arn, bucket.arn_for_objects("*")],
        conditions={"Bool": {"aws:SecureTransport": "false"}},
    )


def log_delivery(logs: s3.IBucket, source: s3.IBucket, account: str) -> iam.PolicyStatement:
    """What `server_access_logs_bucket` adds to the log bucket's policy (aws-cdk-lib
    Bucket.allowLogDelivery, with @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy)."""
    return iam.PolicyStatement(
        principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
        actions=["s3:PutObject"],
        resources=[logs.arn_for_objects(ACCESS_LOG_PREFIX + "*")],
        conditions={"ArnLike": {"aws:SourceArn": source.bucket_arn}, "StringEquals": {"aws:SourceAccount": account}},
    )


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
                    removal_policy=removal,  # RETAIN by default; DESTROY schedules deletion (30-day window)
                )
                self._allow_personalize_on_key(self.data_key)

        if config.reuse_retained_buckets:
            self._reuse_retained_buckets(config)
        else:
            self._create_buckets(config, removal, auto_delete)
        for statement in self._personalize_statements():
            self.data_bucket_policy.document.add_statements(statement)
        if self.data_key is not None and isinstance(self.data_key, kms.Key):
            CfnOutput(self, "DataKeyArn", value=self.data_key.key_arn, description="the data key (RETAIN keeps it: set encryption.kmsKeyArn to it with reuseRetainedBuckets)")

    def _reuse_retained_buckets(self, config: AppConfig) -> None:
        """The buckets an earlier RETAIN destroy left, addressed by their names; only their
        policies belong to this stack (under the same logical ids as when it created them)."""
        self.access_log_bucket = s3.Bucket.from_bucket_name(self, "AccessLogs", access_log_bucket_name(config))
        self.data_bucket = s3.Bucket.from_bucket_attributes(self, "Data", bucket_name=data_bucket_name(config), encryption_key=self.data_key)
        logs_policy = s3.BucketPolicy(self.access_log_bucket, "Policy", bucket=self.access_log_bucket)
        logs_policy.document.add_statements(log_delivery(self.access_log_bucket, self.data_bucket, self.account), tls_only(self.access_log_bucket))
        self.data_bucket_policy = s3.BucketPolicy(self.data_bucket, "Policy", bucket=self.data_bucket)
        self.data_bucket_policy.document.add_statements(tls_only(self.data_bucket))
        for policy in (logs_policy, self.data_bucket_policy):
            Validations.of(policy).acknowledge(Acknowledgment(
                id="AwsSolutions::AwsSolutions-S10",
                reason="The policy denies every request without TLS (tls_only, as enforce_ssl does); cdk-nag cannot match a policy "
                       "to a bucket whose name is built from AWS::AccountId and AWS::Region, so it does not see it.",
            ))

    def _create_buckets(self, config: AppConfig, removal: RemovalPolicy, auto_delete: bool) -> None:
        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=access_log_bucket_name(config),
            encryption=s3.BucketEncryption.S3_MANAGED,  # S3 server access logs cannot be written to SSE-KMS buckets
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            # ACLs off: access logs are delivered through the bucket policy CDK writes for
            # logging.s3.amazonaws.com (cdk.json: @aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy).
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
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
            server_access_logs_prefix=ACCESS_LOG_PREFIX,
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
        assert self.data_bucket.policy is not None  # created by enforce_ssl
        self.data_bucket_policy = self.data_bucket.policy
        if auto_delete:
            self._auto_delete_logs_follow_removal()

    def _auto_delete_logs_follow_removal(self) -> None:
        """With DESTROY, the auto-delete function logs to a log group of this stack, so
        `cdk destroy` removes it too (otherwise Lambda creates /aws/lambda/... which stays)."""
        provider = self.node.find_child(AUTO_DELETE_PROVIDER_ID)
        handler = provider.node.find_child("Handler")
        assert isinstance(handler, CfnResource) and handler.cfn_resource_type == "AWS::Lambda::Function", handler
        log_group = logs.LogGroup(self, "AutoDeleteObjectsLogs", retention=AUTO_DELETE_LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        handler.add_property_override("LoggingConfig", {"LogGroup": log_group.log_group_name})

    def _personalize_statements(self) -> list[iam.PolicyStatement]:
        """Personalize needs the bucket policy as well as its role (developer guide, "Giving
        Amazon Personalize access to Amazon S3 resources"): list and read the import prefix
        only, write the report prefix only."""
        principal = iam.ServicePrincipal(PERSONALIZE_PRINCIPAL)
        conditions = personalize_source_conditions(self.account, self.partition, self.region)
        return [
            iam.PolicyStatement(
                sid="PersonalizeListsImports",
                principals=[principal],
                actions=["s3:ListBucket"],
                resources=[self.data_bucket.bucket_arn],
                conditions={**conditions, "StringLike": {"s3:prefix": [IMPORT_PREFIX, IMPORT_PREFIX + "*"]}},
            ),
            iam.PolicyStatement(
                sid="PersonalizeReadsImports",
                principals=[principal],
                actions=["s3:GetObject"],
                resources=[self.data_bucket.arn_for_objects(IMPORT_PREFIX + "*")],
                conditions=conditions,
            ),
            iam.PolicyStatement(
                sid="PersonalizeWritesMetricReports",
                principals=[principal],
                actions=["s3:PutObject"],
                resources=[self.data_bucket.arn_for_objects(REPORT_PREFIX + "*")],
                conditions=conditions,
            ),
            iam.PolicyStatement(
                sid="PersonalizeWritesEventExports",
                principals=[principal],
                actions=["s3:PutObject"],
                resources=[self.data_bucket.arn_for_objects(EXPORT_PREFIX + "*")],
                conditions=conditions,
            ),
        ]

    def _allow_personalize_on_key(self, key: kms.Key) -> None:
        # The actions the developer guide lists ("Giving Amazon Personalize permission to use
        # your AWS KMS key"); its example has no condition, the confused-deputy page asks for one.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PersonalizeUsesKey",
                principals=[iam.ServicePrincipal(PERSONALIZE_PRINCIPAL)],
                actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant", "kms:ListGrants"],
                resources=["*"],  # in a key policy "*" means this key
                conditions=personalize_source_conditions(self.account, self.partition, self.region),
            )
        )
