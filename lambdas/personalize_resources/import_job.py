"""Custom resource: an Amazon Personalize dataset import job with importMode and
publishAttributionMetricsToS3 (which the native inline import job lacks).

A job is immutable and cannot be deleted, so the resource is a record of "this data
was imported": Create starts a job, an Update that changes what is imported starts a new job
(new physical id). With a ``SignalHandle`` (a WaitConditionHandle's stack id and logical id) the
shared poller (poller.py) follows the job and signals the WaitCondition, so an import may take up
to 12 hours; without one (properties of stacks deployed before) ``is_complete`` waits, within the
custom resource's hour. Delete deletes nothing and answers at once: Personalize has no
DeleteDatasetImportJob and no way to stop an import, and refuses DeleteDataset while one runs,
so the dataset group's teardown waits (teardown_wait.py; the job is registered with
``blocks_teardown``) hold the datasets until no import of this app runs, for longer than the hour.

Properties: ``{"Request": {"jobName", "datasetArn", "dataSource": {"dataLocation"},
"roleArn", "importMode", "publishAttributionMetricsToS3"}, "MetricAttributionArn": ...}``.
``MetricAttributionArn`` exists only so CloudFormation creates the attribution first
(imports made before it exists are not attributed) and is ignored here.
PhysicalResourceId and ``Data.DatasetImportJobArn`` are the job's ARN, built from
``jobName``; the CDK side puts a hash of location, version and mode into ``jobName``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from . import contracts, poller, wait_condition
from .account import personalize_arn
from .action_log import log_action
from .coercion import coerce as coerce_request
from .core import THROTTLING_ERROR_CODES, PersonalizeApi
from .errors import HandlerError, error_code
from .lifecycle import dispatch, is_active, is_complete_result, on_event_result, properties

API_OPERATIONS: tuple[str, ...] = (
    "CreateDatasetImportJob",
    "DescribeDatasetImportJob",
    "states:StartExecution",
)
# is_complete runs under its own role: exactly these.
IS_COMPLETE_API_OPERATIONS: tuple[str, ...] = ("DescribeDatasetImportJob",)
# What the shared poller (poller.py) calls when it follows an import job.
POLL_API_OPERATIONS: tuple[str, ...] = ("DescribeDatasetImportJob",)

RESOURCE_TYPE = "dataset-import-job"
FULL = "FULL"
# A change to any of these means different data imported, hence a new job.
JOB_DEFINING_KEYS = ("jobName", "datasetArn", "dataSource", "importMode", "publishAttributionMetricsToS3")


def on_event(event: Mapping[str, Any], context: Any) -> dict:
    return dispatch(event, context, create=_on_create, update=_on_update, delete=_on_delete)


def is_complete(event: Mapping[str, Any], context: Any) -> dict:
    arn = event.get("PhysicalResourceId")
    if event["RequestType"] == "Delete":
        return is_complete_result(True)  # nothing to delete; the teardown waits wait for running imports
    poller.raise_start_error(event, f"import job {arn} was started")
    if signal_target(event):
        # The poller follows the job and signals the WaitCondition: imports may outlast the hour.
        return is_complete_result(True, {"DatasetImportJobArn": arn})
    if event["RequestType"] == "Update" and not needs_new_job(
        desired_job(properties(event, old=True)), desired_job(properties(event))
    ) and not signal_target(event):
        return is_complete_result(True, {"DatasetImportJobArn": arn})
    # Properties without a signal handle (stacks deployed before): wait here, within the hour.
    job = _describe(PersonalizeApi(IS_COMPLETE_API_OPERATIONS), arn)
    if job is None:
        # Just created; Describe may lag the Create for a moment.
        log_action("not_visible_yet", arn=arn)
        return is_complete_result(False)
    done = is_active(job, f"dataset import job {arn} ({job.get('dataSource', {}).get('dataLocation')})")
    if done:
        log_action("import_finished", arn=arn, import_mode=job.get("importMode"))
    return is_complete_result(done, {"DatasetImportJobArn": arn})


def _on_create(event: Mapping[str, Any], context: Any) -> dict:
    job = desired_job(properties(event))
    if job["importMode"] != FULL:
        log_action(
            "import_mode_overridden",
            job_name=job["jobName"],
            configured=job["importMode"],
            used=FULL,
            reason="the first import a stack runs on a dataset must be FULL",
        )
    arn = start_job(PersonalizeApi(API_OPERATIONS), context, {**job, "importMode": FULL})
    return _started(event, arn)


def _started(event: Mapping[str, Any], arn: str) -> dict:
    """Answer for a job this request started; the poller follows it when there is a handle."""
    result = on_event_result(arn, {"DatasetImportJobArn": arn})
    target = signal_target(event)
    if target:
        poller.start_or_record(result, lambda: start_poller(event, arn, target), arn=arn)
    return result


def signal_target(event: Mapping[str, Any]) -> dict:
    return contracts.signal_target(event.get("ResourceProperties") or {})


def start_poller(event: Mapping[str, Any], arn: str, target: Mapping[str, Any]) -> None:
    state = {
        "kind": RESOURCE_TYPE,
        "resourceArn": arn,
        "uniqueId": event.get("LogicalResourceId") or arn.rsplit("/", 1)[-1],
        "waitSeconds": poller.DEFAULT_WAIT_SECONDS,
        **target,
    }
    poller.start(poller.execution_name(event["RequestId"], arn), state)


def poll(state: dict) -> dict:
    """One poll of an import job for the shared poller: SUCCESS once ACTIVE, FAILURE if it failed."""
    arn = state["resourceArn"]
    try:
        job = _describe(PersonalizeApi(POLL_API_OPERATIONS), arn)
    except ClientError as exc:
        if error_code(exc) in THROTTLING_ERROR_CODES:
            return poller.waiting(state, state.get("status", "UNKNOWN"))
        return poller.finish(state, state.get("status", "UNKNOWN"), wait_condition.FAILURE, f"import job {arn}: {exc}")
    if job is None:
        return poller.waiting(state, "NOT_VISIBLE_YET")
    status = job.get("status", "")
    if status == "ACTIVE":
        log_action("import_finished", arn=arn, import_mode=job.get("importMode"))
        return poller.finish(state, status, wait_condition.SUCCESS, f"import job {arn} is ACTIVE", data=arn)
    if status.endswith("FAILED"):
        reason = job.get("failureReason") or "no failureReason given"
        location = (job.get("dataSource") or {}).get("dataLocation")
        return poller.finish(state, status, wait_condition.FAILURE, f"import job {arn} ({location}) is {status}: {reason}")
    return poller.waiting(state, status)


def _on_update(event: Mapping[str, Any], context: Any) -> dict:
    old, new = desired_job(properties(event, old=True)), desired_job(properties(event))
    if not needs_new_job(old, new):
        arn = event["PhysicalResourceId"]
        log_action("unchanged", arn=arn)
        if signal_target(event) and signal_target(event) != _old_signal_target(event):
            # A new WaitCondition awaits this same job (e.g. first deploy with handles): signal it.
            return _started(event, arn)
        return on_event_result(arn, {"DatasetImportJobArn": arn})
    if new["jobName"] == old["jobName"]:
        changed = [key for key in JOB_DEFINING_KEYS if old.get(key) != new.get(key)]
        raise HandlerError(
            f"import job {new['jobName']!r}: {', '.join(changed)} changed but jobName did not; jobs are"
            " immutable and their names unique, so a new import needs a new jobName"
        )
    arn = start_job(PersonalizeApi(API_OPERATIONS), context, new)
    return _started(event, arn)


def _on_delete(event: Mapping[str, Any], context: Any) -> dict:
    # Import jobs can be neither deleted nor stopped; they go with their dataset.
    log_action("nothing_to_delete", physical_id=event.get("PhysicalResourceId"))
    return on_event_result(event.get("PhysicalResourceId"), {})


def _old_signal_target(event: Mapping[str, Any]) -> dict:
    return signal_target({"ResourceProperties": event.get("OldResourceProperties") or {}})


def desired_job(request: Mapping[str, Any]) -> dict:
    job = coerce_request("CreateDatasetImportJob", contracts.DatasetImportJob.from_request(request).request)
    job.setdefault("importMode", FULL)
    return job


def needs_new_job(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    return any(old.get(key) != new.get(key) for key in JOB_DEFINING_KEYS)


def start_job(api: PersonalizeApi, context: Any, job: Mapping[str, Any]) -> str:
    """Start ``job`` unless a job of that name exists already (a retried event): then adopt it."""
    arn = personalize_arn(context, RESOURCE_TYPE, job["jobName"])
    existing = _describe(api, arn)
    if existing is None:
        try:
            api.call("CreateDatasetImportJob", **job)
        except ClientError as exc:
            existing = _describe(api, arn) if error_code(exc) == "ResourceAlreadyExistsException" else None
            if existing is None:
                raise
        else:
            log_action("import_started", arn=arn, import_mode=job["importMode"], data=job["dataSource"])
            return arn
    _check_same_import(arn, existing, job)
    log_action("adopted", arn=arn, status=existing.get("status"))
    return arn


def _describe(api: PersonalizeApi, arn: str) -> dict | None:
    return api.describe_or_none("DescribeDatasetImportJob", "datasetImportJob", datasetImportJobArn=arn)


def _check_same_import(arn: str, existing: Mapping[str, Any], job: Mapping[str, Any]) -> None:
    # A same-named job importing other data would silently stand in for this one.
    # (Whether jobs outlive a deleted dataset of the same name is unconfirmed;
    # a stack-unique jobName avoids relying on it.)
    if existing.get("datasetArn") != job["datasetArn"] or existing.get("dataSource") != job["dataSource"]:
        raise HandlerError(
            f"import job {arn} already exists for {existing.get('datasetArn')} from"
            f" {existing.get('dataSource', {}).get('dataLocation')}, not {job['datasetArn']} from"
            f" {job['dataSource'].get('dataLocation')}; job names are unique, choose another jobName"
        )
