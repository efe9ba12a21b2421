"""The stateful stack: buckets, bucket policy, key; logical IDs pinned."""

from __future__ import annotations

import pytest

from tests.stacks.templates import only, resources, statements, text

# Renaming these would replace the buckets (and orphan or lose data): pinned on purpose.
PINNED_STORAGE_IDS = {"Data666C94C7": "AWS::S3::Bucket", "AccessLogs8B620ECA": "AWS::S3::Bucket"}


@pytest.fixture(scope="module")
def storage(synthesized):
    return synthesized.template("default", "storage")


def test_stateful_logical_ids_are_pinned(storage, synthesized):
    for config in ("default", "multi", "minimal"):
        template = synthesized.template(config, "storage")
        for logical_id, resource_type in PINNED_STORAGE_IDS.items():
            assert template["Resources"][logical_id]["Type"] == resource_type
    assert synthesized.template("multi", "storage")["Resources"]["DataKey17AFBB84"]["Type"] == "AWS::KMS::Key"


def test_data_bucket_is_private_versioned_logged_and_retained(storage):
    bucket = storage["Resources"]["Data666C94C7"]
    props = bucket["Properties"]
    assert text(props["BucketName"]) == "pimpact-default-data-<AWS::AccountId>-<AWS::Region>"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert encryption == {"SSEAlgorithm": "AES256"}
    assert props["LoggingConfiguration"] == {"DestinationBucketName": {"Ref": "AccessLogs8B620ECA"}, "LogFilePrefix": "data-bucket/"}
    [rule] = props["LifecycleConfiguration"]["Rules"]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"
    # RETAIN means no auto-delete custom resource that would empty the bucket.
    assert not resources(storage, "Custom::S3AutoDeleteObjects")


SOURCE_CONDITIONS = {
    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    "ArnLikeIfExists": {"aws:SourceArn": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":personalize:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":*"]]}},
}


def bucket_policy(template: dict, bucket_id: str) -> dict:
    return next(p for p in resources(template, "AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": bucket_id})


def test_access_log_bucket_is_private_acl_free_and_expires_logs(storage):
    props = storage["Resources"]["AccessLogs8B620ECA"]["Properties"]
    assert props["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    assert props["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 365
    assert storage["Resources"]["AccessLogs8B620ECA"]["DeletionPolicy"] == "Retain"
    # ACLs disabled: the log delivery ACL is gone and the bucket policy admits the logging
    # service for this stack's data bucket only, under its prefix.
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "AccessControl" not in props
    [delivery] = [s for s in statements(bucket_policy(storage, "AccessLogs8B620ECA")) if s["Effect"] == "Allow"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Action"] == "s3:PutObject"
    assert text(delivery["Resource"]) == "<AccessLogs8B620ECA.Arn>/data-bucket/*"
    assert delivery["Condition"] == {
        "ArnLike": {"aws:SourceArn": {"Fn::GetAtt": ["Data666C94C7", "Arn"]}},
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    }


def test_bucket_policy_enforces_tls_and_scopes_personalize_to_prefixes(storage):
    by_sid = {s.get("Sid", "tls"): s for s in statements(bucket_policy(storage, "Data666C94C7"))}
    assert set(by_sid) == {"tls", "PersonalizeListsImports", "PersonalizeReadsImports", "PersonalizeWritesMetricReports", "PersonalizeWritesEventExports"}
    tls = by_sid["tls"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    listing = by_sid["PersonalizeListsImports"]
    assert listing["Action"] == "s3:ListBucket" and text(listing["Resource"]) == "<Data666C94C7.Arn>"
    # Listing is limited to the import prefix, like the service role's own ListBucket.
    assert listing["Condition"] == {**SOURCE_CONDITIONS, "StringLike": {"s3:prefix": ["imports/", "imports/*"]}}
    read = by_sid["PersonalizeReadsImports"]
    assert read["Action"] == "s3:GetObject" and text(read["Resource"]) == "<Data666C94C7.Arn>/imports/*"
    write = by_sid["PersonalizeWritesMetricReports"]
    assert write["Action"] == "s3:PutObject" and text(write["Resource"]) == "<Data666C94C7.Arn>/metric-reports/*"
    for statement in (listing, read, write):
        assert statement["Principal"] == {"Service": "personalize.amazonaws.com"}
        assert statement["Effect"] == "Allow"
    for statement in (read, write):
        assert statement["Condition"] == SOURCE_CONDITIONS


def test_kms_config_encrypts_with_a_rotating_key_personalize_may_use(synthesized):
    storage = synthesized.template("multi", "storage")
    key_id, key = only(storage, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    personalize_statements = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "PersonalizeUsesKey"]
    [statement] = personalize_statements
    assert statement["Principal"] == {"Service": "personalize.amazonaws.com"}
    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant", "kms:ListGrants"}
    assert statement["Condition"] == SOURCE_CONDITIONS
    data = storage["Resources"]["Data666C94C7"]
    encryption = data["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert text(encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]) == f"<{key_id}.Arn>"
    # removalPolicy: DESTROY empties and deletes the buckets on `cdk destroy`, and the key follows.
    assert data["DeletionPolicy"] == "Delete"
    assert key["DeletionPolicy"] == "Delete" and key["UpdateReplacePolicy"] == "Delete"
    assert resources(storage, "Custom::S3AutoDeleteObjects")


def test_destroy_removes_the_auto_delete_functions_log_group(synthesized):
    storage = synthesized.template("multi", "storage")
    [function] = [f for f in resources(storage, "AWS::Lambda::Function").values() if "auto-deleting objects" in text(f["Properties"]["Description"])]
    log_group_ref = function["Properties"]["LoggingConfig"]["LogGroup"]
    log_group = storage["Resources"][log_group_ref["Ref"]]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["DeletionPolicy"] == "Delete" and log_group["UpdateReplacePolicy"] == "Delete"
    assert log_group["Properties"]["RetentionInDays"] == 30



def test_service_role_lists_external_import_buckets_under_their_prefix_only(synthesized):
    """The Personalize service role (personalize stack) on a user's own import bucket: listing
    is limited to the configured location's prefix, as on the data bucket."""
    personalize = synthesized.template("multi", "personalize")
    by_sid = {s.get("Sid"): s for p in resources(personalize, "AWS::IAM::Policy").values() for s in statements(p)}
    listing = by_sid["ListExternalImport0"]
    assert listing["Action"] == "s3:ListBucket"
    assert text(listing["Resource"]) == "arn:<AWS::Partition>:s3:::example-partner-exports"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["video/users/", "video/users/*"]}}
    assert text(by_sid["ReadExternalImport0"]["Resource"]) == "arn:<AWS::Partition>:s3:::example-partner-exports/video/users/*"
    own = by_sid["ListImportPrefix"]
    assert own["Condition"] == {"StringLike": {"s3:prefix": ["imports/", "imports/*"]}}


def test_both_buckets_are_named_from_the_environment_so_a_retained_one_is_found(storage):
    assert text(storage["Resources"]["AccessLogs8B620ECA"]["Properties"]["BucketName"]) == "pimpact-default-access-logs-<AWS::AccountId>-<AWS::Region>"


def test_reusing_retained_buckets_creates_only_their_policies_under_the_same_logical_ids(storage, synthesized):
    reuse = synthesized.template("reuse", "storage")
    assert not resources(reuse, "AWS::S3::Bucket") and not resources(reuse, "AWS::KMS::Key")
    policies = resources(reuse, "AWS::S3::BucketPolicy")
    # Same logical ids as when the stack created the buckets: switching is an update in place.
    assert set(policies) == set(resources(storage, "AWS::S3::BucketPolicy"))
    by_bucket = {text(p["Properties"]["Bucket"]): p for p in policies.values()}
    data = by_bucket["pimpact-reuse-data-<AWS::AccountId>-<AWS::Region>"]
    logs = by_bucket["pimpact-reuse-access-logs-<AWS::AccountId>-<AWS::Region>"]
    data_sids = {s.get("Sid", "tls") for s in statements(data)}
    assert data_sids == {s.get("Sid", "tls") for s in statements(bucket_policy(storage, "Data666C94C7"))}
    for policy in (data, logs):
        [tls] = [s for s in statements(policy) if s["Effect"] == "Deny"]
        assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and tls["Action"] == "s3:*"
    [delivery] = [s for s in statements(logs) if s["Effect"] == "Allow"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert text(delivery["Resource"]) == "arn:<AWS::Partition>:s3:::pimpact-reuse-access-logs-<AWS::AccountId>-<AWS::Region>/data-bucket/*"
    assert text(delivery["Condition"]["ArnLike"]["aws:SourceArn"]) == "arn:<AWS::Partition>:s3:::pimpact-reuse-data-<AWS::AccountId>-<AWS::Region>"
