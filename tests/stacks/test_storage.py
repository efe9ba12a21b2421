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


def test_access_log_bucket_is_private_and_expires_logs(storage):
    props = storage["Resources"]["AccessLogs8B620ECA"]["Properties"]
    assert props["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    assert props["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 365
    assert storage["Resources"]["AccessLogs8B620ECA"]["DeletionPolicy"] == "Retain"


def test_bucket_policy_enforces_tls_and_scopes_personalize_to_prefixes(storage):
    policy = next(p for p in resources(storage, "AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": "Data666C94C7"})
    by_sid = {s.get("Sid", "tls"): s for s in statements(policy)}
    assert set(by_sid) == {"tls", "PersonalizeReadsImports", "PersonalizeWritesMetricReports", "PersonalizeWritesEventExports"}
    tls = by_sid["tls"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    read = by_sid["PersonalizeReadsImports"]
    assert read["Principal"] == {"Service": "personalize.amazonaws.com"}
    assert sorted(read["Action"]) == ["s3:GetObject", "s3:ListBucket"]
    assert sorted(text(r) for r in read["Resource"]) == ["<Data666C94C7.Arn>", "<Data666C94C7.Arn>/imports/*"]
    write = by_sid["PersonalizeWritesMetricReports"]
    assert write["Action"] == "s3:PutObject" and text(write["Resource"]) == "<Data666C94C7.Arn>/metric-reports/*"
    for statement in (read, write):
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_kms_config_encrypts_with_a_rotating_key_personalize_may_use(synthesized):
    storage = synthesized.template("multi", "storage")
    key_id, key = only(storage, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    personalize_statements = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "PersonalizeUsesKey"]
    [statement] = personalize_statements
    assert statement["Principal"] == {"Service": "personalize.amazonaws.com"}
    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant", "kms:ListGrants"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    data = storage["Resources"]["Data666C94C7"]
    encryption = data["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert text(encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]) == f"<{key_id}.Arn>"
    # removalPolicy: DESTROY empties and deletes the buckets on `cdk destroy`.
    assert data["DeletionPolicy"] == "Delete"
    assert resources(storage, "Custom::S3AutoDeleteObjects")
