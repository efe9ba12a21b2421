"""Custom resource: an Amazon Personalize metric attribution, updated in place.

The native ``AWS::Personalize::MetricAttribution`` makes ``Metrics`` create-only, and
a replacement cannot succeed because a dataset group holds one attribution only. This
handler instead reconciles: ``is_complete`` compares the live attribution with the
desired properties and issues at most one ``UpdateMetricAttribution`` step per poll
(remove stale metrics, then add missing ones, then fix the output config), so a
retried or interrupted update simply resumes.

Properties: ``{"Request": {"name", "datasetGroupArn", "metrics": [...],
"metricsOutputConfig": {...}}}``. PhysicalResourceId and ``Data.MetricAttributionArn``
are the attribution's ARN, built from its name. A Delete whose physical id CloudFormation made
up (a cancelled Create) finds the attribution by that name (``lifecycle.delete_target``); ``is_complete``
recreates a missing attribution only when ``on_event`` deferred the create, never one a rollback
deleted while this request's waiter still ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from . import contracts
from .account import personalize_arn
from .action_log import log_action
from .address_book import MAX_METRICS, cloudwatch_name
from .coercion import coerce as coerce_request
from .core import PersonalizeApi
from .errors import HandlerError, error_code
from .lifecycle import (
    delete_target,
    dispatch,
    is_active,
    is_complete_result,
    is_deleting,
    on_event_result,
    properties,
    start_delete,
)
from .named_resources import owned_by_name

API_OPERATIONS: tuple[str, ...] = (
    "CreateMetricAttribution",
    "DescribeMetricAttribution",
    "ListMetricAttributionMetrics",
    "UpdateMetricAttribution",
    "DeleteMetricAttribution",
)
# is_complete runs under its own role: exactly these.
IS_COMPLETE_API_OPERATIONS: tuple[str, ...] = API_OPERATIONS
# on_event only creates or adopts, and requests deletes; is_complete reconciles the rest.
API_OPERATIONS = ("CreateMetricAttribution", "DescribeMetricAttribution", "DeleteMetricAttribution")

RESOURCE_TYPE = "metric-attribution"
# Top-level key of on_event's answer: is_complete may create the attribution (see _answer).
CREATE_DEFERRED_KEY = "CreateDeferred"
MAX_METRICS_PER_UPDATE = 10


def on_event(event: Mapping[str, Any], context: Any) -> dict:
    return dispatch(event, context, create=_on_create, update=_on_update, delete=_on_delete)


def is_complete(event: Mapping[str, Any], context: Any) -> dict:
    arn = event.get("PhysicalResourceId")
    if event["RequestType"] == "Delete":
        target = delete_target(event, RESOURCE_TYPE)
        if target is None:
            return is_complete_result(True)
        api = PersonalizeApi(IS_COMPLETE_API_OPERATIONS)
        return is_complete_result(
            api.converge_deleted(
                "DescribeMetricAttribution", "metricAttribution", "DeleteMetricAttribution", metricAttributionArn=target
            )
        )
    desired = desired_attribution(properties(event))
    done = reconcile(PersonalizeApi(IS_COMPLETE_API_OPERATIONS), arn, desired, may_create=bool(event.get(CREATE_DEFERRED_KEY)))
    return is_complete_result(done, {"MetricAttributionArn": arn})


# --- on_event ---------------------------------------------------------------


def _on_create(event: Mapping[str, Any], context: Any) -> dict:
    desired = desired_attribution(properties(event))
    arn = personalize_arn(context, RESOURCE_TYPE, desired["name"])
    return _answer(arn, ensure_exists(PersonalizeApi(API_OPERATIONS), arn, desired))


def _answer(arn: str, deferred: bool) -> dict:
    result = on_event_result(arn, {"MetricAttributionArn": arn})
    # Only a create deferred behind an old deletion may create in is_complete: an attribution
    # that vanished otherwise was deleted by a rollback while this request's waiter still ran
    # (a cancelled create), and recreating it would leave it behind.
    return {**result, CREATE_DEFERRED_KEY: True} if deferred else result


def _on_update(event: Mapping[str, Any], context: Any) -> dict:
    desired = desired_attribution(properties(event))
    old = properties(event, old=True)
    old_name, old_group = old.get("name"), old.get("datasetGroupArn")
    if desired["datasetGroupArn"] != old_group and desired["name"] == old_name:
        raise HandlerError(
            f"metric attribution {old_name!r} cannot move from {old_group} to {desired['datasetGroupArn']}"
            " under the same name: its ARN derives from the name, so the new one would collide with the"
            " old one, which CloudFormation deletes only afterwards. Give the attribution a new name."
        )
    if desired["datasetGroupArn"] == old_group and desired["name"] != old_name:
        raise HandlerError(
            f"metric attribution of {old_group} cannot be renamed from {old_name!r} to {desired['name']!r}:"
            " a dataset group holds one metric attribution only, so a replacement would collide with the"
            " old one. Keep the name."
        )
    # Same group and name: reconciled in place by is_complete. New group and
    # name: a new attribution, so a new physical id; CloudFormation deletes the old.
    arn = personalize_arn(context, RESOURCE_TYPE, desired["name"])
    return _answer(arn, ensure_exists(PersonalizeApi(API_OPERATIONS), arn, desired))


def _on_delete(event: Mapping[str, Any], context: Any) -> dict:
    api = PersonalizeApi(API_OPERATIONS)
    find = owned_by_name(api, event, context, kind="MetricAttribution", resource_type=RESOURCE_TYPE,
                         parse=desired_attribution, same_keys=("datasetGroupArn",))
    return start_delete(
        api,
        event,
        resource_type=RESOURCE_TYPE,
        operation="DeleteMetricAttribution",
        arn_parameter="metricAttributionArn",
        data_key="MetricAttributionArn",
        find=find,
    )


# --- desired state ------------------------------------------------------------


def desired_attribution(request: Mapping[str, Any]) -> dict:
    """The request typed for CreateMetricAttribution, with its limits checked up front."""
    desired = coerce_request("CreateMetricAttribution", contracts.MetricAttribution.from_request(request).request)
    metrics = desired["metrics"]
    if not metrics or len(metrics) > MAX_METRICS:
        raise HandlerError(f"a metric attribution takes 1 to {MAX_METRICS} metrics, got {len(metrics)}")
    for index, metric in enumerate(metrics):
        for key in ("eventType", "metricName", "expression"):
            if not metric.get(key):
                raise HandlerError(f"Request.metrics[{index}].{key} is required")
    keys = [metric_key(metric) for metric in metrics]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        # CloudWatch upper-cases metric names, so names differing only in case collide.
        raise HandlerError(f"metric names must be unique ignoring case; repeated: {', '.join(duplicates)}")
    return desired


def metric_key(metric: Mapping[str, Any]) -> str:
    # Case-insensitive: CloudWatch publishes the upper-cased name, and if
    # Personalize ever normalised case itself an exact compare would loop.
    return cloudwatch_name(metric["metricName"])


def _expression(metric: Mapping[str, Any]) -> str:
    return "".join(metric["expression"].split()).upper()


def same_metric(actual: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    return actual["eventType"] == desired["eventType"] and _expression(actual) == _expression(desired)


def _output_config(config: Mapping[str, Any] | None) -> tuple:
    config = config or {}
    destination = config.get("s3DataDestination") or {}
    path = destination.get("path")
    # Trailing-slash insensitive, in case the service normalises the path (unconfirmed).
    return (config.get("roleArn"), path.rstrip("/") if path else None, destination.get("kmsKeyArn"))


def next_update_step(actual_metrics: list, actual_output: Mapping[str, Any] | None, desired: Mapping) -> dict | None:
    """The next UpdateMetricAttribution arguments, or None when nothing differs.

    Removals go first and alone: a changed metric is removed and then added,
    because it is unconfirmed whether one call may remove and add the same
    name; and removing first keeps the attribution within its 10 metrics.
    """
    wanted = {metric_key(metric): metric for metric in desired["metrics"]}
    present = {metric_key(metric): metric for metric in actual_metrics}
    stale = [
        metric["metricName"]
        for key, metric in present.items()
        if key not in wanted or not same_metric(metric, wanted[key])
    ]
    if stale:
        return {"removeMetrics": stale[:MAX_METRICS_PER_UPDATE]}
    missing = [metric for key, metric in wanted.items() if key not in present]
    if missing:
        return {"addMetrics": missing[:MAX_METRICS_PER_UPDATE]}
    if _output_config(actual_output) != _output_config(desired["metricsOutputConfig"]):
        return {"metricsOutputConfig": desired["metricsOutputConfig"]}
    return None


# --- Personalize steps ------------------------------------------------------------


def ensure_exists(api: PersonalizeApi, arn: str, desired: Mapping[str, Any]) -> bool:
    """Create the attribution unless it exists already (a retried event): then adopt it.
    True when the create is deferred (an earlier stack still deletes one of that name)."""
    existing = _describe(api, arn)
    if existing is None:
        create(api, arn, desired)
        return False
    _check_same_group(existing, desired)
    if is_deleting(existing):
        # An earlier stack is still deleting it; is_complete recreates it once gone.
        log_action("waiting_for_previous_deletion", arn=arn, status=existing.get("status"))
        return True
    log_action("adopted", arn=arn, status=existing.get("status"))
    return False


def create(api: PersonalizeApi, arn: str, desired: Mapping[str, Any]) -> None:
    try:
        api.call("CreateMetricAttribution", **desired)
    except ClientError as exc:
        code = error_code(exc)
        # Which of the two codes the one-per-dataset-group limit uses is
        # unconfirmed; an attribution that exists under our ARN means we only
        # lost a race with a retry of this same event (the next describe adopts it).
        if code == "ResourceAlreadyExistsException" and _describe(api, arn) is not None:
            log_action("already_exists", arn=arn)
            return
        if code in ("ResourceAlreadyExistsException", "LimitExceededException"):
            raise HandlerError(
                f"cannot create metric attribution {desired['name']!r}: {desired['datasetGroupArn']} already"
                f" has one (one per dataset group). Personalize said: {exc}"
            ) from exc
        raise
    log_action("created", arn=arn, metrics=[metric["metricName"] for metric in desired["metrics"]])


def _describe(api: PersonalizeApi, arn: str) -> dict | None:
    return api.describe_or_none("DescribeMetricAttribution", "metricAttribution", metricAttributionArn=arn)


def _check_same_group(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> None:
    if existing.get("datasetGroupArn") != desired["datasetGroupArn"]:
        raise HandlerError(
            f"metric attribution {existing.get('metricAttributionArn')} already exists in dataset group"
            f" {existing.get('datasetGroupArn')}, not {desired['datasetGroupArn']}; names are unique per"
            " account and region, so choose another name or delete that attribution"
        )


def reconcile(api: PersonalizeApi, arn: str, desired: Mapping[str, Any], *, may_create: bool = False) -> bool:
    """One is_complete step towards ``desired``; True once ACTIVE and equal. ``may_create``: the
    create was deferred behind an old deletion (else a missing attribution fails the request)."""
    attribution = _describe(api, arn)
    if attribution is None:
        if not may_create:
            raise HandlerError(
                f"metric attribution {arn} does not exist any more: deleted while this request waited for it"
                " (a rollback after another resource failed, or outside CloudFormation); deploy again to recreate it"
            )
        create(api, arn, desired)
        return False
    _check_same_group(attribution, desired)
    if is_deleting(attribution):
        return False
    if not is_active(attribution, f"metric attribution {arn}"):
        return False
    metrics = api.collect("ListMetricAttributionMetrics", "metrics", metricAttributionArn=arn)
    step = next_update_step(metrics, attribution.get("metricsOutputConfig"), desired)
    if step is None:
        log_action("in_sync", arn=arn)
        return True
    api.call("UpdateMetricAttribution", metricAttributionArn=arn, **step)
    log_action("update_step", arn=arn, **step)
    return False
