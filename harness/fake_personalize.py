"""A stateful fake of Amazon Personalize behind a real boto3 client.

How it plugs in
---------------
``FakePersonalize(...).attach(client)`` registers two handlers on the client's own
event system (the same hooks ``botocore.stub.Stubber`` uses):

* ``before-parameter-build.personalize.*`` keeps a reference to the call's params;
* ``before-call.personalize.*`` runs *after* botocore validated and serialized the
  request against the real model, and answers with ``(http_response, parsed)``.

So a request the real API would reject client-side fails exactly as in AWS. On top,
the fake enforces what the service checks server-side (``max`` lengths, ``pattern``s,
enums → ``InvalidInputException``) and validates every response it builds against
the operation's output shape, so the fake cannot drift from the model.

State and behaviour
-------------------
Resources live in ``self.resources`` (ARN → ``FakeResource``) with ARNs in the real
format. Statuses advance one step per Describe: ``CREATE PENDING → CREATE
IN_PROGRESS → ACTIVE`` (or ``CREATE FAILED`` with a ``failureReason``), ``UPDATE
PENDING → UPDATE IN_PROGRESS → ACTIVE``, ``DELETE PENDING → DELETE IN_PROGRESS →``
gone (``ResourceNotFoundException``). ``polls_per_status`` slows that down.
Injection: ``fail_next_creation(resource_type, reason)``, ``throttle(operation,
times, code)``, ``inject_error(operation, code, times, message)``. Every call is
recorded in ``self.calls`` as ``Call(operation, params)``.

Extending it with new operations (e.g. recommenders, in another file)
--------------------------------------------------------------------
Subclass and decorate methods with ``@operation("PascalCaseName")``; each takes the
validated params dict and returns the response dict (without ResponseMetadata), or
raises ``FakeError(code, message)``::

    class FakePersonalizeWithRecommenders(FakePersonalize):
        @operation("CreateRecommender")
        def create_recommender(self, params):
            arn = self.arn("recommender", params["name"])
            self.require_absent(arn)
            self.add_resource(arn, "recommender", {"name": params["name"], ...})
            return {"recommenderArn": arn}

        @operation("DescribeRecommender")
        def describe_recommender(self, params):
            resource = self.observe(params["recommenderArn"])  # advances the status
            return {"recommender": resource.view()}

Helpers for that: ``arn``, ``add_resource`` (``CREATE PENDING`` and its schedule),
``observe``, ``get``, ``require_absent``, ``begin_transition``, ``begin_delete``,
``require_settled``, ``now``. One-off handlers can also be added to an instance
with ``fake.register("OperationName", handler)``.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

from lambdas.personalize_resources.address_book import RUNNING_IMPORT_JOBS_QUOTA

GONE = object()  # end of a delete schedule: the resource disappears

CREATING = ("CREATE PENDING", "CREATE IN_PROGRESS")
UPDATING = ("UPDATE PENDING", "UPDATE IN_PROGRESS")
DELETING = ("DELETE PENDING", "DELETE IN_PROGRESS")

MAX_METRICS_PER_ATTRIBUTION = 10
MAX_RUNNING_IMPORT_JOBS = RUNNING_IMPORT_JOBS_QUOTA


def operation(name: str) -> Callable:
    """Mark a FakePersonalize method as the handler of operation ``name``."""

    def mark(method: Callable) -> Callable:
        method.fake_operation = name
        return method

    return mark


class FakeError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class Call:
    operation: str
    params: dict


@dataclass
class FakeResource:
    arn: str
    resource_type: str
    attributes: dict
    status: str
    created: dt.datetime
    updated: dt.datetime
    schedule: list = field(default_factory=list)
    failure_reason: str | None = None
    polls_at_status: int = 0

    def view(self) -> dict:
        """The Describe payload: attributes plus lifecycle fields."""
        payload = {
            **copy.deepcopy(self.attributes),
            "status": self.status,
            "creationDateTime": self.created,
            "lastUpdatedDateTime": self.updated,
        }
        if self.failure_reason and self.status.endswith("FAILED"):
            payload["failureReason"] = self.failure_reason
        return payload


class FakePersonalize:
    def __init__(
        self,
        *,
        partition: str = "aws",
        region: str = "us-east-1",
        account: str = "123456789012",
        polls_per_status: int = 1,
        page_size: int = 100,
    ) -> None:
        self.partition, self.region, self.account = partition, region, account
        self.polls_per_status = polls_per_status
        self.page_size = page_size
        # Which code the real API uses for "the dataset group has one already" is unconfirmed.
        self.one_attribution_per_group_error = "LimitExceededException"
        self.resources: dict[str, FakeResource] = {}
        self.dataset_groups: set[str] = set()
        self.datasets: set[str] = set()
        self.calls: list[Call] = []
        self._clock = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
        self._injected: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self._failing_creations: dict[str, list[str]] = defaultdict(list)
        self._handlers: dict[str, Callable[[dict], dict]] = {}
        for klass in reversed(type(self).__mro__):
            for attribute in vars(klass).values():
                name = getattr(attribute, "fake_operation", None)
                if name:
                    self._handlers[name] = getattr(self, attribute.__name__)

    # --- wiring ---------------------------------------------------------------

    def attach(self, client: Any) -> Any:
        self._model = client.meta.service_model
        client.meta.events.register("before-parameter-build.personalize.*", self._remember_params)
        client.meta.events.register("before-call.personalize.*", self._respond)
        return client

    def register(self, operation_name: str, handler: Callable[[dict], dict]) -> None:
        self._model_operation(operation_name)  # only real operations
        self._handlers[operation_name] = handler

    def _model_operation(self, operation_name: str):
        from botocore.session import get_session

        model = getattr(self, "_model", None) or get_session().get_service_model("personalize")
        return model.operation_model(operation_name)

    @staticmethod
    def _remember_params(params: dict, context: dict, **_: Any) -> None:
        # The same dict is validated and serialized next; before-call only sees the wire form.
        context["fake_personalize_params"] = params

    def _respond(self, model: Any, context: dict, **_: Any) -> tuple[AWSResponse, dict]:
        name = model.name
        params = copy.deepcopy(context["fake_personalize_params"])
        self.calls.append(Call(name, copy.deepcopy(params)))
        try:
            injected = self._injected.get(name)
            if injected:
                code, message = injected.pop(0)
                raise FakeError(code, message)
            handler = self._handlers.get(name)
            if handler is None:
                raise NotImplementedError(f"FakePersonalize has no handler for {name}; see the module docstring")
            _check_server_side_constraints(params, model.input_shape, name)
            body = handler(params) or {}
        except FakeError as error:
            return self._http(error.status), {
                "Error": {"Code": error.code, "Message": error.message},
                "ResponseMetadata": {"HTTPStatusCode": error.status},
            }
        if model.output_shape is not None:
            report = ParamValidator().validate(body, model.output_shape)
            if report.has_errors():
                raise AssertionError(f"fake {name} response does not fit the model: {report.generate_report()}")
        return self._http(200), {**body, "ResponseMetadata": {"HTTPStatusCode": 200}}

    @staticmethod
    def _http(status: int) -> AWSResponse:
        return AWSResponse(None, status, {}, None)

    # --- injection and inspection ------------------------------------------------

    def throttle(self, operation_name: str, times: int = 1, code: str = "ThrottlingException") -> None:
        self.inject_error(operation_name, code, times, "Rate exceeded")

    def inject_error(self, operation_name: str, code: str, times: int = 1, message: str = "injected") -> None:
        self._model_operation(operation_name)
        self._injected[operation_name].extend([(code, message)] * times)

    def fail_next_creation(self, resource_type: str, reason: str) -> None:
        self._failing_creations[resource_type].append(reason)

    def operations(self) -> set[str]:
        return {call.operation for call in self.calls}

    def count(self, operation_name: str) -> int:
        return Counter(call.operation for call in self.calls)[operation_name]

    def params_of(self, operation_name: str) -> list[dict]:
        return [call.params for call in self.calls if call.operation == operation_name]

    def add_dataset_group(self, name: str) -> str:
        arn = self.arn("dataset-group", name)
        self.dataset_groups.add(arn)
        return arn

    def add_dataset(self, dataset_group_arn: str, dataset_type: str = "INTERACTIONS") -> str:
        group_name = dataset_group_arn.rsplit("/", 1)[1]
        arn = self.arn("dataset", f"{group_name}/{dataset_type}")
        self.datasets.add(arn)
        return arn

    # --- lifecycle helpers for operation handlers ---------------------------------------

    def now(self) -> dt.datetime:
        self._clock += dt.timedelta(seconds=1)
        return self._clock

    def arn(self, resource_type: str, name: str) -> str:
        return f"arn:{self.partition}:personalize:{self.region}:{self.account}:{resource_type}/{name}"

    def get(self, arn: str) -> FakeResource:
        resource = self.resources.get(arn)
        if resource is None:
            raise FakeError("ResourceNotFoundException", f"Could not find resource {arn}")
        return resource

    def require_absent(self, arn: str) -> None:
        if arn in self.resources:
            raise FakeError("ResourceAlreadyExistsException", f"Resource {arn} already exists")

    def require_settled(self, resource: FakeResource) -> None:
        """Personalize refuses changes while a resource is mid-transition."""
        if resource.schedule or resource.status in CREATING + UPDATING + DELETING:
            raise FakeError("ResourceInUseException", f"Resource {resource.arn} is {resource.status}")

    def add_resource(self, arn: str, resource_type: str, attributes: dict) -> FakeResource:
        now = self.now()
        failures = self._failing_creations[resource_type]
        reason = failures.pop(0) if failures else None
        resource = FakeResource(
            arn=arn,
            resource_type=resource_type,
            attributes=attributes,
            status="CREATE PENDING",
            created=now,
            updated=now,
            schedule=["CREATE IN_PROGRESS", "CREATE FAILED" if reason else "ACTIVE"],
            failure_reason=reason,
        )
        self.resources[arn] = resource
        return resource

    def begin_transition(self, resource: FakeResource, statuses: Iterable[Any]) -> None:
        first, *rest = statuses
        resource.status, resource.schedule, resource.polls_at_status = first, list(rest), 0
        resource.updated = self.now()

    def begin_delete(self, resource: FakeResource) -> None:
        self.begin_transition(resource, [*DELETING, GONE])

    def observe(self, arn: str) -> FakeResource:
        """The resource as a Describe sees it now; then one step further along."""
        resource = self.get(arn)
        snapshot = copy.deepcopy(resource)
        resource.polls_at_status += 1
        if resource.schedule and resource.polls_at_status >= self.polls_per_status:
            following = resource.schedule.pop(0)
            if following is GONE:
                del self.resources[arn]
            else:
                resource.status, resource.polls_at_status = following, 0
                resource.updated = self.now()
        return snapshot

    def _of_type(self, resource_type: str) -> list[FakeResource]:
        return [resource for resource in self.resources.values() if resource.resource_type == resource_type]

    # --- metric attributions ---------------------------------------------------------

    @operation("CreateMetricAttribution")
    def create_metric_attribution(self, params: dict) -> dict:
        arn = self.arn("metric-attribution", params["name"])
        group = params["datasetGroupArn"]
        if group not in self.dataset_groups:
            raise FakeError("ResourceNotFoundException", f"Could not find dataset group {group}")
        self.require_absent(arn)
        if any(r.attributes["datasetGroupArn"] == group for r in self._of_type("metric-attribution")):
            raise FakeError(
                self.one_attribution_per_group_error, f"Dataset group {group} already has a metric attribution"
            )
        metrics = params["metrics"]
        _check_metric_names(metrics)
        if len(metrics) > MAX_METRICS_PER_ATTRIBUTION:
            raise FakeError("LimitExceededException", f"At most {MAX_METRICS_PER_ATTRIBUTION} metrics")
        self.add_resource(
            arn,
            "metric-attribution",
            {
                "name": params["name"],
                "metricAttributionArn": arn,
                "datasetGroupArn": group,
                "metricsOutputConfig": params["metricsOutputConfig"],
                "metrics": metrics,  # not part of Describe; popped in view
            },
        )
        return {"metricAttributionArn": arn}

    @operation("DescribeMetricAttribution")
    def describe_metric_attribution(self, params: dict) -> dict:
        view = self.observe(params["metricAttributionArn"]).view()
        view.pop("metrics")
        return {"metricAttribution": view}

    @operation("ListMetricAttributionMetrics")
    def list_metric_attribution_metrics(self, params: dict) -> dict:
        arn = params.get("metricAttributionArn")
        if not arn:
            raise FakeError("InvalidInputException", "metricAttributionArn is required")
        metrics = self.get(arn).attributes["metrics"]
        start = int(params.get("nextToken") or 0)
        size = min(params.get("maxResults", 100), self.page_size)
        page = {"metrics": copy.deepcopy(metrics[start : start + size])}
        if start + size < len(metrics):
            page["nextToken"] = str(start + size)
        return page

    @operation("UpdateMetricAttribution")
    def update_metric_attribution(self, params: dict) -> dict:
        arn = params.get("metricAttributionArn")
        if not arn:
            raise FakeError("InvalidInputException", "metricAttributionArn is required")
        resource = self.get(arn)
        self.require_settled(resource)
        adds, removes = params.get("addMetrics", []), params.get("removeMetrics", [])
        if not (adds or removes or "metricsOutputConfig" in params):
            raise FakeError("InvalidInputException", "Nothing to update")
        if len(adds) > MAX_METRICS_PER_ATTRIBUTION:
            raise FakeError("InvalidInputException", f"At most {MAX_METRICS_PER_ATTRIBUTION} metrics to add")
        _check_metric_names(adds)
        # Whether one call may remove and re-add a name is unconfirmed, so the
        # fake refuses it: the handler must never depend on it.
        if {m["metricName"] for m in adds} & set(removes):
            raise FakeError("InvalidInputException", "A metric cannot be removed and added in one update")
        metrics = resource.attributes["metrics"]
        names = {m["metricName"] for m in metrics}
        unknown = sorted(set(removes) - names)
        if unknown:
            raise FakeError("InvalidInputException", f"Metrics not found: {', '.join(unknown)}")
        kept = [m for m in metrics if m["metricName"] not in removes]
        clashing = sorted({m["metricName"] for m in adds} & {m["metricName"] for m in kept})
        if clashing:
            raise FakeError("ResourceAlreadyExistsException", f"Metrics already exist: {', '.join(clashing)}")
        if len(kept) + len(adds) > MAX_METRICS_PER_ATTRIBUTION:
            raise FakeError("LimitExceededException", f"At most {MAX_METRICS_PER_ATTRIBUTION} metrics")
        resource.attributes["metrics"] = kept + adds
        if "metricsOutputConfig" in params:
            resource.attributes["metricsOutputConfig"] = params["metricsOutputConfig"]
        self.begin_transition(resource, [*UPDATING, "ACTIVE"])
        return {"metricAttributionArn": arn}

    @operation("DeleteMetricAttribution")
    def delete_metric_attribution(self, params: dict) -> dict:
        resource = self.get(params["metricAttributionArn"])
        self.require_settled(resource)
        self.begin_delete(resource)
        return {}

    # --- dataset import jobs -------------------------------------------------------------

    @operation("CreateDatasetImportJob")
    def create_dataset_import_job(self, params: dict) -> dict:
        arn = self.arn("dataset-import-job", params["jobName"])
        dataset = params["datasetArn"]
        if dataset not in self.datasets:
            raise FakeError("ResourceNotFoundException", f"Could not find dataset {dataset}")
        self.require_absent(arn)
        jobs = self._of_type("dataset-import-job")
        if sum(job.status in CREATING for job in jobs) >= MAX_RUNNING_IMPORT_JOBS:
            raise FakeError("LimitExceededException", f"More than {MAX_RUNNING_IMPORT_JOBS} resources with PENDING or IN_PROGRESS status.")
        mode = params.get("importMode", "FULL")
        previous = [job for job in jobs if job.attributes["datasetArn"] == dataset and job.status != "CREATE FAILED"]
        if mode == "INCREMENTAL" and not previous:
            raise FakeError("InvalidInputException", "The first import job on a dataset must use FULL import mode")
        attributes = {
            "jobName": params["jobName"],
            "datasetImportJobArn": arn,
            "datasetArn": dataset,
            "dataSource": params["dataSource"],
            "importMode": mode,
            "publishAttributionMetricsToS3": params.get("publishAttributionMetricsToS3", False),
        }
        if "roleArn" in params:
            attributes["roleArn"] = params["roleArn"]
        self.add_resource(arn, "dataset-import-job", attributes)
        return {"datasetImportJobArn": arn}

    @operation("DescribeDatasetImportJob")
    def describe_dataset_import_job(self, params: dict) -> dict:
        return {"datasetImportJob": self.observe(params["datasetImportJobArn"]).view()}

    @operation("DescribeDataset")
    def describe_dataset(self, params: dict) -> dict:
        arn = params["datasetArn"]
        if arn not in self.datasets:
            raise FakeError("ResourceNotFoundException", f"Could not find dataset {arn}")
        name = arn.split(":dataset/", 1)[1]
        return {"dataset": {"datasetArn": arn, "name": name.replace("/", "-"), "datasetType": name.rsplit("/", 1)[1], "status": "ACTIVE"}}

    @operation("CreateDatasetExportJob")
    def create_dataset_export_job(self, params: dict) -> dict:
        arn = self.arn("dataset-export-job", params["jobName"])
        if params["datasetArn"] not in self.datasets:
            raise FakeError("ResourceNotFoundException", f"Could not find dataset {params['datasetArn']}")
        self.require_absent(arn)
        self.add_resource(arn, "dataset-export-job", {
            "jobName": params["jobName"],
            "datasetExportJobArn": arn,
            "datasetArn": params["datasetArn"],
            "ingestionMode": params.get("ingestionMode", "PUT"),
            "roleArn": params["roleArn"],
            "jobOutput": params["jobOutput"],
        })
        return {"datasetExportJobArn": arn}

    @operation("DescribeDatasetExportJob")
    def describe_dataset_export_job(self, params: dict) -> dict:
        return {"datasetExportJob": self.observe(params["datasetExportJobArn"]).view()}

    @operation("ListDatasetImportJobs")
    def list_dataset_import_jobs(self, params: dict) -> dict:
        dataset = params.get("datasetArn")
        if dataset is not None and dataset not in self.datasets:
            raise FakeError("ResourceNotFoundException", f"Could not find dataset {dataset}")
        jobs = [job for job in self._of_type("dataset-import-job") if dataset in (None, job.attributes["datasetArn"])]
        summaries = []
        for job in jobs:
            seen = self.observe(job.arn)  # time passes for the listed jobs as for a Describe
            summaries.append({
                "datasetImportJobArn": seen.arn,
                "jobName": seen.attributes["jobName"],
                "status": seen.status,
                "importMode": seen.attributes["importMode"],
            })
        return {"datasetImportJobs": summaries}


def _check_metric_names(metrics: list[dict]) -> None:
    names = [m["metricName"] for m in metrics]
    if len(names) != len(set(names)):
        raise FakeError("InvalidInputException", "Metric names must be unique")


def _check_server_side_constraints(value: Any, shape: Any, path: str) -> None:
    """What the service validates and botocore does not: max, pattern, enum."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for key, item in value.items():
            _check_server_side_constraints(item, shape.members[key], f"{path}.{key}")
    elif kind == "list" and isinstance(value, list):
        if "max" in shape.metadata and len(value) > shape.metadata["max"]:
            raise FakeError("InvalidInputException", f"{path} has more than {shape.metadata['max']} items")
        for index, item in enumerate(value):
            _check_server_side_constraints(item, shape.member, f"{path}[{index}]")
    elif kind == "string" and isinstance(value, str):
        metadata = shape.metadata
        if "max" in metadata and len(value) > metadata["max"]:
            raise FakeError("InvalidInputException", f"{path} is longer than {metadata['max']}")
        if "enum" in metadata and value not in metadata["enum"]:
            raise FakeError("InvalidInputException", f"{path} must be one of {metadata['enum']}")
        pattern = _compiled(metadata.get("pattern"))
        if pattern is not None and not pattern.fullmatch(value):
            raise FakeError("InvalidInputException", f"{path} {value!r} does not match {metadata['pattern']}")


_PATTERNS: dict[str, re.Pattern | None] = {}


def _compiled(pattern: str | None) -> re.Pattern | None:
    if pattern is None:
        return None
    if pattern not in _PATTERNS:
        try:
            _PATTERNS[pattern] = re.compile(pattern)
        except re.error:
            # Java-only classes such as \p{ASCII}: not checked.
            _PATTERNS[pattern] = None
    return _PATTERNS[pattern]
