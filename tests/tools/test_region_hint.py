"""The tools' region hint names the variable boto3 reads (botocore's config provider maps
`region` to AWS_DEFAULT_REGION; AWS_REGION is the Lambda runtime's and the CDK CLI's)."""

from __future__ import annotations

import boto3
import botocore.exceptions

from tools._cli import describe_aws_error


def test_region_hint_names_the_variable_boto3_reads(monkeypatch, tmp_path):
    for name in ("AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert boto3.Session().region_name is None  # AWS_REGION alone does not reach boto3
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert boto3.Session().region_name == "eu-west-1"
    assert describe_aws_error(botocore.exceptions.NoRegionError()) == "no AWS region configured: pass --region or set AWS_DEFAULT_REGION"
