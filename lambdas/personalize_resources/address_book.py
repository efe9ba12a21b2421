"""The address book: names, ARNs, SSM paths, S3 prefixes, timeouts and the CloudWatch name rule
that more than one layer spells (config, constructs, handlers, tools), each in one place.

It ships in the handlers' Lambda asset (handlers import it at run time) and imports nothing of
ours and nothing outside the standard library, so every layer may import it
(docs/architecture-layers.md). Functions take plain strings: a construct passes CDK tokens
(``Aws.ACCOUNT_ID``), a handler the values of its context, a tool those of its credentials.
"""

from __future__ import annotations

import re
from typing import TypeGuard

# --- Personalize names and ARNs ---------------------------------------------------------------

# Every Personalize resource name: botocore's personalize model, shape `Name` (max 63;
# tests/test_structure.py compares the limits here with the model).
NAME_MAX = 63
# A solution's name gets `-<8 hex>` of its create-only settings appended (handler solution.py).
SOLUTION_DIGEST_LENGTH = 8
SOLUTION_BASE_NAME_MAX = NAME_MAX - SOLUTION_DIGEST_LENGTH - 1
# Metrics of one metric attribution: botocore's personalize model, shape `MetricAttributes` (max 10).
MAX_METRICS = 10
# "You can have a total of 5 pending or in progress dataset import jobs per region. This quota is
# not adjustable." (Developer Guide, "Common error messages": LimitExceededException "More than 5
# resources with PENDING or IN_PROGRESS status").
RUNNING_IMPORT_JOBS_QUOTA = 5

_PERSONALIZE_ARN = re.compile(r"arn:[a-z0-9-]+:personalize:[a-z0-9-]+:\d{12}:(?P<type>[a-z-]+)/.+")


def physical_name(environment: str, *parts: str) -> str:
    """A Personalize name: the environment first, so environments can share an account."""
    return "-".join((environment, *parts))


def personalize_arn_prefix(partition: str = "aws") -> str:
    """``arn:aws:personalize:``: what every Personalize ARN of the partition starts with."""
    return f"arn:{partition}:personalize:"


# Recipes are AWS-owned: no region, no account.
RECIPE_ARN_PREFIX = f"{personalize_arn_prefix()}::recipe/"


def personalize_arn(partition: str, region: str, account: str, resource_type: str, name: str | None = None) -> str:
    """The ARN Personalize gives a resource named ``name`` (known before it exists, so IAM can be
    exact); without a name, ``resource_type`` is the whole resource part (``*``: any resource)."""
    resource = resource_type if name is None else f"{resource_type}/{name}"
    return f"{personalize_arn_prefix(partition)}{region}:{account}:{resource}"


def is_personalize_arn(value: object, resource_type: str) -> TypeGuard[str]:
    """False for anything else, e.g. the request id the Provider framework uses as the physical
    id after a failed Create."""
    match = _PERSONALIZE_ARN.fullmatch(value) if isinstance(value, str) else None
    return match is not None and match.group("type") == resource_type


# Event types of the sample interactions the sample-data handler writes (Rating only in its
# ratings variant), which the config checks metrics against.
SAMPLE_EVENT_TYPES = ("View", "Purchase", "Rating")
SAMPLE_RATING = SAMPLE_EVENT_TYPES[2]


# --- SSM parameters the stacks write and the tools read ----------------------------------------


def ssm_path(environment: str, *parts: str) -> str:
    return "/" + "/".join((environment, *parts))


def tracking_id_parameter(environment: str, group: str) -> str:
    return ssm_path(environment, group, "tracking-id")


def resource_parameter_prefix(environment: str, group: str, collection: str, name: str) -> str:
    """``/<env>/<group>/<collection>/<name>``: collection is recommenders, solutions, campaigns or filters."""
    return ssm_path(environment, group, collection, name)


def offline_metrics_parameter(environment: str, group: str, solution: str) -> str:
    return f"{resource_parameter_prefix(environment, group, 'solutions', solution)}/offline-metrics"


# Leaf of each report-query parameter (`/<env>/reports/<leaf>`), by the tools' option it fills.
REPORT_PARAMETER_LEAVES = {"database": "glue-database", "table": "glue-table", "workgroup": "athena-work-group"}


def report_parameter(environment: str, leaf: str) -> str:
    return ssm_path(environment, "reports", leaf)


# --- S3 ---------------------------------------------------------------------------------------

IMPORT_PREFIX = "imports/"
REPORT_PREFIX = "metric-reports/"  # where the metric attribution writes, one folder per dataset group
SAMPLE_PREFIX = IMPORT_PREFIX + "sample/"
EXPORT_PREFIX = "exports/"


def data_bucket_name(environment: str, account: str, region: str) -> str:
    """Named from the environment, account and region: the stacks and tools address the bucket
    by this name instead of a CloudFormation export, and two environments fit in one account."""
    return f"{environment}-data-{account}-{region}"


# --- Long waits ----------------------------------------------------------------------------------

# The longest wait: AWS::CloudFormation::WaitCondition's Timeout is at most 43200 seconds
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudformation-waitcondition.html).
LONG_WAIT_MAX_HOURS = 12
# Seconds between two polls of an import job, and of a training (a recommender's: the config's
# recommenderPollMinutes); the cost estimate counts the polls.
IMPORT_POLL_SECONDS = 60
TRAINING_POLL_SECONDS = 300


def whole_seconds(hours: float) -> int:
    """Hours as whole seconds: a WaitCondition's Timeout and the poller's limit count seconds."""
    return int(hours * 3600)


# --- CloudWatch ---------------------------------------------------------------------------------

# Metric names in a derived-metric expression: identifiers not inside a number (the `e3` of
# `1e3`) nor after a dot.
METRIC_NAME_IN_EXPRESSION = re.compile(r"(?<![\w.])[A-Za-z_][A-Za-z0-9_]*")


def cloudwatch_name(name: str) -> str:
    """Personalize publishes metric names and EventAttributionSource values upper-cased, so names
    that differ only in case are one name."""
    return name.upper()
