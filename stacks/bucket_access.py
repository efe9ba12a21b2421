"""What a bucket's (or key's) own policy must say for Amazon Personalize to use it.

Personalize reads imports and writes exports and metric reports as the service principal, with
the role it is handed: the role's policy AND the bucket's policy must allow it (Developer Guide,
"Giving Amazon Personalize access to Amazon S3 resources"). The data bucket's policy is the
storage stack's; a bucket outside the app (`externalBuckets` in the config) is its owner's, who
adds the statement `external_bucket_policy` gives, printed at synth:

    .venv/bin/python -m stacks.bucket_access config/multi-group.yaml --account 111122223333
"""

from __future__ import annotations

import argparse
import json
import sys

from lambdas.personalize_resources.address_book import personalize_arn
from stacks.iam_reference import PERSONALIZE_PRINCIPAL

# Template Metadata key of the personalize stack: bucket → import prefixes of each external bucket.
EXTERNAL_BUCKETS_METADATA = "PersonalizeImpact::ExternalBuckets"
# What the statement names while the account is not known at synth (an environment-agnostic stack).
ACCOUNT_PLACEHOLDER = "ACCOUNT_ID"


def personalize_source_conditions(account: str, partition: str, region: str) -> dict:
    """Confused-deputy conditions for Personalize in a bucket or key policy.

    aws:SourceAccount: as the project has always deployed it. aws:SourceArn: the Developer Guide
    ("Cross-service confused deputy prevention") documents `arn:aws:personalize:region:account:*`
    for the role's trust policy only; whether Personalize sends it with its S3 and KMS requests
    is *unconfirmed*, so it is checked only when present (ArnLikeIfExists): a request that
    carries another ARN is refused, one without the key is not.
    """
    return {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLikeIfExists": {"aws:SourceArn": personalize_arn(partition, region, account, "*")},
    }


def object_prefixes(bucket: str, locations: list[str]) -> list[str]:
    """The key prefixes the import `locations` (s3:// URIs) read in `bucket` ("" for the whole bucket)."""
    found = []
    for location in locations:
        name, _, key = location.removeprefix("s3://").partition("/")
        if name == bucket and key not in found:
            found.append(key)
    return sorted(found)


def external_bucket_policy(bucket: str, prefixes: list[str], *, account: str = ACCOUNT_PLACEHOLDER, partition: str = "aws") -> dict:
    """The bucket policy that lets Personalize, for `account` only, list and read the import
    prefixes of a bucket this app does not own (the same grant the storage stack gives on the
    data bucket's imports/ prefix)."""
    conditions = personalize_source_conditions(account, partition, "*")
    principal = {"Service": PERSONALIZE_PRINCIPAL}
    listed = sorted({p for prefix in prefixes for p in (prefix, prefix + "*")} - {""})
    list_statement = {"Sid": "PersonalizeListsImports", "Effect": "Allow", "Principal": principal, "Action": "s3:ListBucket",
                      "Resource": f"arn:{partition}:s3:::{bucket}", "Condition": dict(conditions)}
    if "" not in prefixes:
        list_statement["Condition"]["StringLike"] = {"s3:prefix": listed}
    read_statement = {"Sid": "PersonalizeReadsImports", "Effect": "Allow", "Principal": principal, "Action": "s3:GetObject",
                      "Resource": [f"arn:{partition}:s3:::{bucket}/{prefix}*" for prefix in sorted(prefixes)], "Condition": dict(conditions)}
    return {"Version": "2012-10-17", "Statement": [list_statement, read_statement]}


def external_bucket_policies(config, *, account: str = ACCOUNT_PLACEHOLDER, partition: str = "aws") -> dict[str, dict]:
    """Bucket name → the policy its owner adds, for every bucket in the config's `externalBuckets`."""
    prefixes = declared_prefixes(config)
    return {bucket: external_bucket_policy(bucket, found, account=account, partition=partition) for bucket, found in prefixes.items()}


def declared_prefixes(config) -> dict[str, list[str]]:
    """Bucket → import prefixes, for each declared external bucket a dataImport reads."""
    locations = config.external_import_locations()
    return {bucket: found for bucket in config.external_buckets if (found := object_prefixes(bucket, locations))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the bucket policy each external import bucket's owner adds.")
    parser.add_argument("config", help="a config file, e.g. config/multi-group.yaml")
    parser.add_argument("--account", default=ACCOUNT_PLACEHOLDER, help="the account the app deploys to")
    parser.add_argument("--partition", default="aws")
    args = parser.parse_args(argv)
    from config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for bucket, policy in external_bucket_policies(config, account=args.account, partition=args.partition).items():
        print(f"# s3://{bucket}: bucket policy for its owner to add")
        print(json.dumps(policy, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
