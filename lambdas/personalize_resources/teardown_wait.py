"""Custom resource: one link of a dataset group's teardown chain.

Personalize refuses DeleteRecommender while a recommender is still training (CREATE PENDING/
IN_PROGRESS) and offers no way to stop that training; DeleteDatasetGroup is refused while any
child exists, and DeleteDataset while an import on the dataset is CREATE PENDING/IN_PROGRESS
(an import can be neither stopped nor deleted). A rollback or destroy during training or a long
import must still end cleanly, but CloudFormation gives one custom resource at most an hour, and
both take longer. So the recommender's Delete hands the delete to the shared poller and answers
at once, an import job's Delete answers at once (nothing to delete), and a chain of these waits
sits between the group's long-running children and its datasets/group in the dependency graph:
on delete CloudFormation removes the children, then each wait in turn, then datasets and group.

Each wait's Delete is complete when no child of this app (name prefix) that would block
DeleteDatasetGroup is left in the group and no import of this app on one of its datasets is
running, or when its own share of time (``shareSeconds``, under
its Provider's total timeout) has passed since its on_event recorded the Delete: then the next
wait goes on. The last one (``position`` == ``count``) fails instead, naming what is left, so
the stack reports why it could not delete the group (the poller still deletes a recommender
once its training ends; deleting the stack again then completes).

Properties: ``{"Request": {"datasetGroupArn", "datasetArns": [...], "namePrefix": "<name>-",
"position": 1..count, "count", "shareSeconds"}}``. PhysicalResourceId ``<datasetGroupArn>#teardown-wait-<position>``.
Create and Update call nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from . import contracts
from .action_log import log_action
from .core import PersonalizeApi
from .errors import HandlerError, error_code
from .lifecycle import dispatch, is_complete_result, on_event_result

API_OPERATIONS: tuple[str, ...] = ()
# The children that block DeleteDatasetGroup and may outlast a custom resource's hour, each as
# (List operation filtered by datasetGroupArn, result key). The one place to add a kind
# (solutions, whose versions train like recommenders) together with IS_COMPLETE_API_OPERATIONS.
CHILD_LISTINGS: tuple[tuple[str, str], ...] = (("ListRecommenders", "recommenders"),)
# Imports are listed per dataset (ListDatasetImportJobs takes only datasetArn) and block only
# while they run: finished ones go with their dataset.
IMPORT_LISTING = ("ListDatasetImportJobs", "datasetImportJobs")
RUNNING_IMPORT_STATUSES = ("CREATE PENDING", "CREATE IN_PROGRESS")
IS_COMPLETE_API_OPERATIONS: tuple[str, ...] = (*(operation for operation, _ in CHILD_LISTINGS), IMPORT_LISTING[0])

PHYSICAL_MARK = "#teardown-wait-"
# Top-level key of the on_event answer to Delete: the framework passes on_event's result,
# merged into the request, unchanged to every isComplete call of that request.
STARTED_KEY = "TeardownWaitStartedAt"


def now() -> float:
    """Wall-clock seconds; tests replace it."""
    return time.time()


def on_event(event: Mapping[str, Any], context: Any) -> dict:
    return dispatch(event, context, create=_record, update=_record, delete=_start)


def is_complete(event: Mapping[str, Any], context: Any) -> dict:
    if event["RequestType"] != "Delete" or STARTED_KEY not in event:
        return is_complete_result(True)
    request = _request(event)
    api = PersonalizeApi(IS_COMPLETE_API_OPERATIONS)
    left = sorted(
        blocking_children(api, request["datasetGroupArn"], request["namePrefix"])
        + running_imports(api, request["datasetArns"], request["namePrefix"])
    )
    if not left:
        log_action("teardown_clear", dataset_group_arn=request["datasetGroupArn"], position=request["position"])
        return is_complete_result(True)
    waited = int(now() - float(event[STARTED_KEY]))
    if waited < request["shareSeconds"]:
        return is_complete_result(False)
    names = ", ".join(f"{name} ({status})" for name, status in left)
    if request["position"] < request["count"]:
        log_action("teardown_wait_passed_on", position=request["position"], count=request["count"], left=names)
        return is_complete_result(True)
    raise HandlerError(
        f"dataset group {request['datasetGroupArn']} still has {names} after"
        f" {request['count']} waits of {request['shareSeconds'] // 60} minutes; Personalize deletes"
        " none of them before its training or import ends (the poller deletes a recommender then):"
        " delete the stack again once they are gone"
    )


def blocking_children(api: PersonalizeApi, group_arn: str, name_prefix: str) -> list[tuple[str, str]]:
    """(name, status) of every child of this app still in the group, in any status: deleting
    ones block DeleteDatasetGroup too, until they are gone."""
    left = []
    for operation, key in CHILD_LISTINGS:
        for child in api.collect(operation, key, datasetGroupArn=group_arn):
            if str(child.get("name", "")).startswith(name_prefix):
                left.append((child["name"], child.get("status", "UNKNOWN")))
    return sorted(left)


def running_imports(api: PersonalizeApi, dataset_arns: list[str], name_prefix: str) -> list[tuple[str, str]]:
    """(jobName, status) of every import of this app still running on one of the datasets."""
    operation, key = IMPORT_LISTING
    left = []
    for dataset_arn in dataset_arns:
        try:
            jobs = api.collect(operation, key, datasetArn=dataset_arn)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                continue  # the dataset is gone, and its imports with it
            raise
        for job in jobs:
            if str(job.get("jobName", "")).startswith(name_prefix) and job.get("status") in RUNNING_IMPORT_STATUSES:
                left.append((job["jobName"], job["status"]))
    return sorted(left)


def _request(event: Mapping[str, Any]) -> dict:
    contract = contracts.TeardownWait.from_event(event)
    request = contract.request
    request["position"], request["count"], request["shareSeconds"] = contract.counts()
    return request


def _record(event: Mapping[str, Any], context: Any) -> dict:
    request = _request(event)
    return on_event_result(f"{request['datasetGroupArn']}{PHYSICAL_MARK}{request['position']}", {})


def _start(event: Mapping[str, Any], context: Any) -> dict:
    physical_id = event.get("PhysicalResourceId")
    if not isinstance(physical_id, str) or PHYSICAL_MARK not in physical_id:
        log_action("nothing_to_wait_for", physical_id=physical_id)  # e.g. after a failed Create
        return on_event_result(physical_id, {})
    _request(event)  # a malformed request fails here, not in every isComplete
    started = int(now())
    log_action("teardown_wait_started", physical_id=physical_id, started_at=started)
    return {**on_event_result(physical_id, {}), STARTED_KEY: started}
