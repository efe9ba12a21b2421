"""Custom resource: keep the recorded events of an Interactions dataset when the stack lets it go.

Events sent with PutEvents live only inside the Personalize dataset. When the config says
``removalPolicy: RETAIN``, this resource stands next to the Interactions dataset and, on Delete
(``cdk destroy``, a removed dataset group, a ``name`` change that replaces the dataset), exports
the whole dataset (``ingestionMode`` ALL: bulk imports and PutEvents) to the data bucket under
``<exportPrefix><timestamp>/`` and waits for the export before CloudFormation deletes the dataset.
Export jobs bill nothing once done and block no names (each Delete uses a fresh job name).

A failed export fails the Delete: the dataset then stays (CloudFormation reports DELETE_FAILED
and keeps it), so recorded events are never lost silently. The wait is bounded by the Provider's
hour; exports of very large datasets that take longer fail the same way, and a repeated
``cdk destroy`` finds the finished export and completes.

Properties: ``{"Request": {"datasetArn", "roleArn", "exportPrefix": "s3://bucket/exports/<group>/",
"jobNamePrefix": "<name>-<group>-export", "kmsKeyArn"?}}``. PhysicalResourceId: ``<datasetArn>#export-on-delete``
(a new dataset means a new resource, and the old one exports the old dataset). Create and Update
touch nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from . import contracts
from .account import personalize_arn
from .action_log import log_action
from .core import PersonalizeApi
from .errors import error_code
from .lifecycle import dispatch, is_active, is_complete_result, on_event_result

API_OPERATIONS: tuple[str, ...] = ("CreateDatasetExportJob", "DescribeDatasetExportJob", "DescribeDataset")
IS_COMPLETE_API_OPERATIONS: tuple[str, ...] = ("DescribeDatasetExportJob",)

RESOURCE_TYPE = "dataset-export-job"
PHYSICAL_SUFFIX = "#export-on-delete"
JOB_ARN_KEY = "DatasetExportJobArn"


def now() -> dt.datetime:
    """UTC now; tests replace it."""
    return dt.datetime.now(dt.UTC)


def on_event(event: Mapping[str, Any], context: Any) -> dict:
    return dispatch(event, context, create=_record, update=_record, delete=_export)


def is_complete(event: Mapping[str, Any], context: Any) -> dict:
    job_arn = (event.get("Data") or {}).get(JOB_ARN_KEY)
    if event["RequestType"] != "Delete" or not job_arn:
        return is_complete_result(True, {})
    job = PersonalizeApi(IS_COMPLETE_API_OPERATIONS).describe_or_none(
        "DescribeDatasetExportJob", "datasetExportJob", datasetExportJobArn=job_arn
    )
    if job is None:
        return is_complete_result(False)  # Describe may lag the Create for a moment
    # A FAILED export raises: the Delete fails and the dataset, with its events, stays.
    done = is_active(job, f"dataset export job {job_arn} to {job.get('jobOutput', {}).get('s3DataDestination', {}).get('path')}")
    if done:
        log_action("events_exported", job_arn=job_arn, path=job["jobOutput"]["s3DataDestination"]["path"])
    return is_complete_result(done, {JOB_ARN_KEY: job_arn})


def _request(event: Mapping[str, Any]) -> dict:
    return contracts.InteractionsExport.from_event(event).request


def _record(event: Mapping[str, Any], context: Any) -> dict:
    request = _request(event)
    return on_event_result(request["datasetArn"] + PHYSICAL_SUFFIX, {})


def _export(event: Mapping[str, Any], context: Any) -> dict:
    physical_id = event.get("PhysicalResourceId")
    if not isinstance(physical_id, str) or not physical_id.endswith(PHYSICAL_SUFFIX):
        log_action("nothing_to_export", physical_id=physical_id)  # e.g. after a failed Create
        return on_event_result(physical_id, {})
    request = _request(event)
    api = PersonalizeApi(API_OPERATIONS)
    dataset = request["datasetArn"]
    if api.describe_or_none("DescribeDataset", "dataset", datasetArn=dataset) is None:
        log_action("nothing_to_export", dataset_arn=dataset, reason="dataset is gone")
        return on_event_result(physical_id, {})
    # One job per Delete request: a retried on_event adopts the job it started.
    suffix = hashlib.sha256(str(event.get("RequestId")).encode()).hexdigest()[:8]
    name = f"{request['jobNamePrefix']}-{suffix}"[:63]
    arn = personalize_arn(context, RESOURCE_TYPE, name)
    if api.describe_or_none("DescribeDatasetExportJob", "datasetExportJob", datasetExportJobArn=arn) is None:
        path = f"{request['exportPrefix']}{now().strftime('%Y%m%dT%H%M%SZ')}/"
        destination = {"path": path, **({"kmsKeyArn": request["kmsKeyArn"]} if request.get("kmsKeyArn") else {})}
        try:
            api.call(
                "CreateDatasetExportJob",
                jobName=name,
                datasetArn=dataset,
                ingestionMode="ALL",
                roleArn=request["roleArn"],
                jobOutput={"s3DataDestination": destination},
            )
        except ClientError as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
        log_action("export_started", job_arn=arn, dataset_arn=dataset, path=path)
    return on_event_result(physical_id, {JOB_ARN_KEY: arn})
