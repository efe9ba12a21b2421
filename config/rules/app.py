"""Rules of the environment as a whole: unique group names, reusing retained buckets."""

from __future__ import annotations

from config.errors import ConfigIssue, Location
from config.models import AppConfig
from config.models.base import duplicates


def app_issues(config: AppConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []

    def add(path: Location, message: str) -> None:
        issues.append(ConfigIssue(path, message))

    for name in duplicates([g.name for g in config.dataset_groups]):
        add(("datasetGroups",), f"dataset group name {name!r} is used twice; names must be unique")
    if config.reuse_retained_buckets:
        if config.removal_policy != "RETAIN":
            add(("reuseRetainedBuckets",), "needs removalPolicy: RETAIN (DESTROY deletes the buckets, so none is left to reuse); set removalPolicy: RETAIN or drop reuseRetainedBuckets")
        if config.encryption.mode == "KMS" and not config.encryption.kms_key_arn:
            add(("encryption", "kmsKeyArn"), "reuseRetainedBuckets keeps the retained data bucket, whose objects are encrypted with the key the earlier"
                " storage stack created (RETAIN kept it): set kmsKeyArn to that key (the earlier storage stack's output DataKeyArn)")
    return issues
