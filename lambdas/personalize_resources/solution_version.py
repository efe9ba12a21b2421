"""Custom resource: one trained version of a solution (``Custom::PersonalizeSolutionVersion``).

CloudFormation has no solution-version type, and training takes from tens of minutes to hours,
past the custom resource's hour. As for import jobs and recommenders, ``on_event`` starts the
training and the shared poller (poller.py) follows it and signals the stack's WaitCondition;
no Lambda sleeps.

Properties: ``{"Request": {"solutionArn", "name", "trainingMode"}, "Version": "<config version>",
"SignalHandle": {StackId, LogicalResourceId}}``. A change of any of them is a new version (new
physical id, the version's ARN): the stack changes ``name`` with the training settings and
``Version``. A retried event adopts the version of that name instead of training twice.

The poll step, once the version is ACTIVE, reads ``GetSolutionMetrics`` and signals SUCCESS with
the offline metrics as compact JSON (the WaitCondition's ``Data``, which stack outputs carry);
``CREATE FAILED`` signals FAILURE with the version's ``failureReason``; a stopped or vanished
version signals FAILURE too.

Delete: Personalize has no DeleteSolutionVersion (versions go with their solution). A version
still training is stopped (StopSolutionVersionCreation) and ``is_complete`` waits until it is
``CREATE STOPPED``, so the solution's own delete that follows is not refused. A Delete whose
physical id CloudFormation made up (a cancelled Create) finds the training by its name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from . import contracts, poller, wait_condition
from .action_log import log_action
from .address_book import TRAINING_POLL_SECONDS, is_personalize_arn
from .coercion import coerce as coerce_request
from .core import IN_USE_ERROR_CODES, NOT_FOUND_ERROR_CODES, THROTTLING_ERROR_CODES, PersonalizeApi
from .errors import HandlerError, error_code
from .import_job import signal_target
from .lifecycle import (
    delete_target,
    dispatch,
    is_complete_result,
    on_event_result,
    request_properties,
    with_delete_target,
)

API_OPERATIONS: tuple[str, ...] = (
    "CreateSolutionVersion",
    "ListSolutionVersions",
    "DescribeSolutionVersion",
    "StopSolutionVersionCreation",
    "GetSolutionMetrics",
    "states:StartExecution",
)
# is_complete runs under its own role: it only watches a stopped training settle.
IS_COMPLETE_API_OPERATIONS: tuple[str, ...] = ("DescribeSolutionVersion",)
# What the shared poller calls when it follows a training.
POLL_API_OPERATIONS: tuple[str, ...] = ("DescribeSolutionVersion", "GetSolutionMetrics")

RESOURCE_TYPE = "solution-version"
TRAINING_STATUSES = frozenset({"CREATE PENDING", "CREATE IN_PROGRESS"})
STOPPING_STATUSES = frozenset({"CREATE STOPPING"})
STOPPED_STATUSES = frozenset({"CREATE STOPPED"})
# A training is followed every five minutes: it takes tens of minutes at least.
POLL_WAIT_SECONDS = TRAINING_POLL_SECONDS
# Offline metrics kept for the stack output (GetSolutionMetrics names; "where present").
REPORTED_METRICS = tuple(
    f"{name}_at_{k}" for name in ("precision", "normalized_discounted_cumulative_gain", "mean_reciprocal_rank") for k in (5, 10, 25)
) + ("coverage",)
# The metrics as a plain string attribute: a WaitCondition's Data is an object to CloudFormation's
# type checks (cfn-lint E6101/E3012 for outputs and parameters), so the stack reads them here
# once the WaitCondition has succeeded. Same provider: one role, one more operation.
METRICS_RESOURCE_TYPE = "Custom::PersonalizeSolutionMetrics"
# WaitCondition signal data is bounded (4 KB per the CloudFormation docs); a handful of figures fits.
METRIC_DIGITS = 4


def on_event(event: Mapping[str, Any], context: Any) -> dict:
    if event.get("ResourceType") == METRICS_RESOURCE_TYPE:
        return dispatch(event, context, create=_read_metrics, update=_read_metrics, delete=_forget_metrics)
    return dispatch(event, context, create=_on_create, update=_on_update, delete=_on_delete)


def is_complete(event: Mapping[str, Any], context: Any) -> dict:
    if event.get("ResourceType") == METRICS_RESOURCE_TYPE:
        return is_complete_result(True, event.get("Data") or {})
    arn = event.get("PhysicalResourceId")
    poller.raise_start_error(event, f"solution version {arn} was started")
    if event["RequestType"] == "Delete":
        target = delete_target(event, "solution")
        if target is None:
            return is_complete_result(True)
        return is_complete_result(training_settled(PersonalizeApi(IS_COMPLETE_API_OPERATIONS), target))
    # The poller follows the training and signals the WaitCondition (training may take hours).
    return is_complete_result(True, {"SolutionVersionArn": arn})


def desired_version(event: Mapping[str, Any], *, old: bool = False) -> dict:
    """The Request typed for CreateSolutionVersion, plus the config's Version."""
    contract = contracts.SolutionVersion.from_event(event, old=old)
    request = coerce_request("CreateSolutionVersion", contract.request)
    request.setdefault("trainingMode", "FULL")
    return {"request": request, "version": str(contract.version if contract.version is not None else "")}


def _on_create(event: Mapping[str, Any], context: Any) -> dict:
    return _train(event, desired_version(event))


def _on_update(event: Mapping[str, Any], context: Any) -> dict:
    new, old = desired_version(event), desired_version(event, old=True)
    arn = event["PhysicalResourceId"]
    if (new == old or _is_version(PersonalizeApi(API_OPERATIONS), arn, new["request"])) and is_personalize_arn(arn, "solution"):
        if signal_target(event) != signal_target({"ResourceProperties": event.get("OldResourceProperties") or {}}):
            # Same version awaited by a new WaitCondition (e.g. the timeout changed): signal it.
            return _started(event, arn)
        log_action("unchanged", solution_version_arn=arn)
        return on_event_result(arn, {"SolutionVersionArn": arn})
    # Retraining (a new Version, mode or solution): a new version; CloudFormation then sends a
    # Delete for the old one, which stops it if it still trains.
    return _train(event, new)


def _is_version(api: PersonalizeApi, arn: str, request: Mapping[str, Any]) -> bool:
    """True when ``arn`` is already the version ``request`` asks for: a rollback (ResourceProperties
    old, OldResourceProperties those of the failed update) of an update that trained nothing."""
    if not is_personalize_arn(arn, "solution"):
        return False
    version = _describe(api, arn) or {}
    return version.get("name") == request["name"] and version.get("solutionArn") == request["solutionArn"]


def _train(event: Mapping[str, Any], desired: Mapping[str, Any]) -> dict:
    if not signal_target(event):
        raise HandlerError("SignalHandle is required: training outlasts a custom resource's hour, so a WaitCondition awaits it")
    api = PersonalizeApi(API_OPERATIONS)
    arn = create_or_adopt(api, desired["request"])
    return _started(event, arn)


def _started(event: Mapping[str, Any], arn: str) -> dict:
    def start() -> None:
        state = {
            "kind": RESOURCE_TYPE,
            "resourceArn": arn,
            "uniqueId": event.get("LogicalResourceId") or arn.rsplit("/", 1)[-1],
            "waitSeconds": POLL_WAIT_SECONDS,
            **signal_target(event),
        }
        poller.start(poller.execution_name(event["RequestId"], arn), state)

    return poller.start_or_record(on_event_result(arn, {"SolutionVersionArn": arn}), start, arn=arn)


def create_or_adopt(api: PersonalizeApi, request: Mapping[str, Any]) -> str:
    """A version of this name exists already (a retried event): adopt it; else train one.

    Version summaries carry no name, so each version of the solution is described (a solution
    has few); a version that stopped or failed is not adopted."""
    found = find_by_name(api, request)
    if found is not None:
        log_action("solution_version_adopted", solution_version_arn=found)
        return found
    arn = api.call("CreateSolutionVersion", **request)["solutionVersionArn"]
    log_action("training_started", solution_version_arn=arn, training_mode=request["trainingMode"])
    return arn


def find_by_name(api: PersonalizeApi, request: Mapping[str, Any]) -> str | None:
    """The ARN of the solution's version named ``request["name"]`` that did not stop or fail.
    Version summaries carry no name, so each version is described (a solution has few)."""
    try:
        summaries = api.collect("ListSolutionVersions", "solutionVersions", solutionArn=request["solutionArn"])
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND_ERROR_CODES:
            return None
        raise
    for summary in summaries:
        if summary.get("status") in STOPPED_STATUSES | STOPPING_STATUSES or str(summary.get("status", "")).endswith("FAILED"):
            continue
        version = _describe(api, summary["solutionVersionArn"])
        if version is not None and version.get("name") == request["name"]:
            return version["solutionVersionArn"]
    return None


def _on_delete(event: Mapping[str, Any], context: Any) -> dict:
    physical_id = event.get("PhysicalResourceId")
    api = PersonalizeApi(API_OPERATIONS)
    if is_personalize_arn(physical_id, "solution"):
        arn = physical_id
    else:
        # A create cancelled before it answered: CloudFormation made the physical id up
        # (lifecycle.delete_target); the training it started is found by its name.
        desired = request_properties(event, lambda request: desired_version(event)["request"])
        arn = find_by_name(api, desired) if desired is not None else None
        log_action("delete_by_name" if arn else "nothing_to_delete", physical_id=physical_id, found=arn)
        if arn is None:
            return on_event_result(physical_id, {})
    version = _describe(api, arn)
    if version is not None and version.get("status") in TRAINING_STATUSES:
        try:
            api.call("StopSolutionVersionCreation", solutionVersionArn=arn)
            log_action("training_stopped", solution_version_arn=arn, status=version.get("status"))
        except ClientError as exc:
            # Finished or stopping in between: is_complete looks again.
            if error_code(exc) not in IN_USE_ERROR_CODES | NOT_FOUND_ERROR_CODES:
                raise
    return with_delete_target(on_event_result(physical_id, {}), arn)


def training_settled(api: PersonalizeApi, arn: str) -> bool:
    """True once the version no longer trains or stops (or is gone with its solution)."""
    version = _describe(api, arn)
    if version is None:
        return True
    status = version.get("status")
    if status in TRAINING_STATUSES | STOPPING_STATUSES:
        log_action("delete_waits_for_training", solution_version_arn=arn, status=status)
        return False
    return True


def _describe(api: PersonalizeApi, arn: str) -> dict | None:
    return api.describe_or_none("DescribeSolutionVersion", "solutionVersion", solutionVersionArn=arn)


def offline_metrics(metrics: Mapping[str, float]) -> str:
    """Compact JSON of the reported metrics that are present, rounded (the WaitCondition Data)."""
    kept = {name: round(float(metrics[name]), METRIC_DIGITS) for name in REPORTED_METRICS if name in metrics}
    return json.dumps(kept, separators=(",", ":"), sort_keys=True)


def _read_metrics(event: Mapping[str, Any], context: Any) -> dict:
    """`Custom::PersonalizeSolutionMetrics` (after the training's WaitCondition): Data
    ``OfflineMetrics`` = the same compact JSON the WaitCondition got."""
    arn = contracts.SolutionMetrics.from_event(event).solution_version_arn
    if not is_personalize_arn(arn, "solution"):
        raise HandlerError(f"Request.solutionVersionArn must be a solution version ARN, got {arn!r}")
    metrics = PersonalizeApi(API_OPERATIONS).call("GetSolutionMetrics", solutionVersionArn=arn).get("metrics") or {}
    return on_event_result(f"{arn}/offline-metrics", {"OfflineMetrics": offline_metrics(metrics)})


def _forget_metrics(event: Mapping[str, Any], context: Any) -> dict:
    return on_event_result(event.get("PhysicalResourceId"), {})  # a reading; nothing to delete


def poll(state: dict) -> dict:
    """One poll of a training for the shared poller."""
    arn = state["resourceArn"]
    api = PersonalizeApi(POLL_API_OPERATIONS)
    try:
        version = _describe(api, arn)
    except ClientError as exc:
        if error_code(exc) in THROTTLING_ERROR_CODES:
            return poller.waiting(state, state.get("status", "UNKNOWN"))
        return poller.finish(state, state.get("status", "UNKNOWN"), wait_condition.FAILURE, f"solution version {arn}: {exc}")
    if version is None:
        if state.get("status") in (None, "NOT_VISIBLE_YET") and int(state.get("polls", 0)) <= 2:
            return poller.waiting(state, "NOT_VISIBLE_YET")
        return poller.finish(state, "DELETED", wait_condition.FAILURE, f"solution version {arn} was deleted (with its solution?) before it was ACTIVE")
    status = version.get("status", "")
    if status == "ACTIVE":
        metrics = api.call("GetSolutionMetrics", solutionVersionArn=arn).get("metrics") or {}
        data = offline_metrics(metrics)
        log_action("training_finished", solution_version_arn=arn, training_hours=version.get("trainingHours"), metrics=data)
        return poller.finish(state, status, wait_condition.SUCCESS, f"solution version {arn} is ACTIVE", data=data)
    if status.endswith("FAILED"):
        reason = version.get("failureReason") or "no failureReason given"
        return poller.finish(state, status, wait_condition.FAILURE, f"solution version {arn} is {status}: {reason}")
    if status in STOPPED_STATUSES | STOPPING_STATUSES:
        return poller.finish(state, status, wait_condition.FAILURE, f"solution version {arn} is {status}: its training was stopped")
    return poller.waiting(state, status)
