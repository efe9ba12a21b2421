"""The properties of each custom resource: what its construct sends and its handler reads.

One frozen dataclass per custom-resource type. The construct (``stacks/constructs/``) builds it
and passes ``to_properties()`` to ``CustomResource``; the handler parses the event's
(Old)ResourceProperties with ``from_event`` (or its ``Request`` block with ``from_request``, which
also refuses keys no field names), so a property cannot be renamed on one side only. A field under ``Request`` that the handler hands to a Personalize operation names that
operation's input member (``api``), which tests check against botocore's service model.

CloudFormation sends every scalar as a string: values here are as they arrive; the handlers type
them by the operation's input shape (``coercion.coerce``) or say how they convert.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from .errors import HandlerError


class PreviousRequest(dict[str, Any]):
    """A Request block read from OldResourceProperties. The release that deployed the resource
    wrote it, and may have sent a key this release no longer has: an update or a rollback must
    still read it, so such a key is left out instead of refused."""

REQUEST = "Request"
SIGNAL_HANDLE = "SignalHandle"
SIGNAL_URL = "SignalUrl"
DESIRED_STATE = "DesiredState"
VERSION = "Version"
METRIC_ATTRIBUTION_ARN = "MetricAttributionArn"


def request_field(key: str, *, api: str | None = None, required: bool = True) -> Any:
    """A member of the ``Request`` block; ``api``: ``Operation.member.path`` it is passed as."""
    return field(default=None, metadata={"key": key, "api": api, "required": required, "request": True})


def top_field(key: str, *, required: bool = False) -> Any:
    """A top-level property beside ``Request`` (or the only kind, for a resource without one)."""
    return field(default=None, metadata={"key": key, "api": None, "required": required, "request": False})


@dataclass(frozen=True)
class Contract:
    """Base of every contract: the generic reading and writing of its fields."""

    RESOURCE_TYPE: ClassVar[str]
    # A resource whose properties have no Request block (sample data) reads every field top-level.
    HAS_REQUEST: ClassVar[bool] = True

    def to_properties(self) -> dict[str, Any]:
        """The CustomResource properties: ``Request`` and the top-level fields, None left out."""
        properties: dict[str, Any] = {}
        request: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            (request if item.metadata["request"] else properties)[item.metadata["key"]] = _plain(value)
        if self.HAS_REQUEST:
            properties = {REQUEST: request, **properties}
        return properties

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any] | None, *, where: str = "ResourceProperties") -> Self:
        """The contract in ``properties``; HandlerError names what is missing or malformed."""
        properties = properties or {}
        request: Mapping[str, Any] = {}
        if cls.HAS_REQUEST:
            found = properties.get(REQUEST)
            if not isinstance(found, Mapping):
                raise HandlerError(f"{where}.{REQUEST} is missing")
            request = found
        values = {}
        for item in dataclasses.fields(cls):
            source = request if item.metadata["request"] else properties
            values[item.name] = source.get(item.metadata["key"])
        return cls._checked(values)

    @classmethod
    def _checked(cls, values: dict[str, Any]) -> Self:
        missing = [item.metadata["key"] for item in dataclasses.fields(cls) if item.metadata["required"] and _absent(values.get(item.name))]
        if missing:
            raise HandlerError(cls.missing_message(missing))
        contract = cls(**values)
        contract.check()
        return contract

    @classmethod
    def from_request(cls, request: Mapping[str, Any], **top: Any) -> Self:
        """The contract of a ``Request`` block (keys as sent) and top-level fields (by field
        name), checked: a key no field names is refused, unless the block is a
        `PreviousRequest` (then the key is left out)."""
        keys = {item.metadata["key"]: item.name for item in dataclasses.fields(cls) if item.metadata["request"]}
        unknown = sorted(set(request) - set(keys))
        if unknown and not isinstance(request, PreviousRequest):
            raise HandlerError(f"{REQUEST}.{', Request.'.join(unknown)}: not a property of {cls.RESOURCE_TYPE}")
        return cls._checked({**{keys[key]: value for key, value in request.items() if key in keys}, **top})

    @classmethod
    def from_event(cls, event: Mapping[str, Any], *, old: bool = False) -> Self:
        """The contract in the event's ResourceProperties (OldResourceProperties with ``old``)."""
        where = "OldResourceProperties" if old else "ResourceProperties"
        return cls.from_properties(event.get(where) or {}, where=where)

    @classmethod
    def missing_message(cls, missing: list[str]) -> str:
        return f"{REQUEST}.{missing[0]} is required"

    def check(self) -> None:
        """Checks beyond presence (the handler's own, phrased for CloudFormation)."""

    @property
    def request(self) -> dict[str, Any]:
        """The ``Request`` block as sent, None fields left out."""
        return dict(self.to_properties().get(REQUEST, {}))

    @classmethod
    def api_members(cls) -> dict[str, str]:
        """Property key → ``Operation.member.path`` for the fields passed to Personalize."""
        return {item.metadata["key"]: item.metadata["api"] for item in dataclasses.fields(cls) if item.metadata["api"]}


def _absent(value: Any) -> bool:
    return value is None or value == ""


def _plain(value: Any) -> Any:
    """Tuples (frozen fields) as lists; mappings as dicts: what CloudFormation properties hold."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _require_handle(handle: Any) -> None:
    if handle is not None and not (
        isinstance(handle, Mapping) and all(isinstance(handle.get(key), str) and handle.get(key) for key in ("StackId", "LogicalResourceId"))
    ):
        raise HandlerError(f"{SIGNAL_HANDLE} must be {{StackId, LogicalResourceId}} of a WaitConditionHandle, got {handle!r}")


def signal_target(properties: Mapping[str, Any], *, legacy_url: bool = False) -> dict:
    """Where the poller signals: ``{"signalHandle": {StackId, LogicalResourceId}}`` (a reference;
    the URL itself never enters logs or execution input), with ``legacy_url`` the
    ``{"signalUrl": ...}`` of stacks deployed before handles, or ``{}`` for no signal."""
    handle = properties.get(SIGNAL_HANDLE)
    if handle is not None:
        _require_handle(handle)
        return {"signalHandle": {"StackId": handle["StackId"], "LogicalResourceId": handle["LogicalResourceId"]}}
    url = str(properties.get(SIGNAL_URL) or "") if legacy_url else ""
    if url and not url.startswith("https://"):
        raise HandlerError(f"{SIGNAL_URL} must be the WaitConditionHandle's https URL, got {url!r}")
    return {"signalUrl": url} if url else {}


def _listed_missing(missing: list[str]) -> str:
    return f"{REQUEST}.{', Request.'.join(missing)} required"


@dataclass(frozen=True)
class MetricAttribution(Contract):
    RESOURCE_TYPE = "Custom::PersonalizeMetricAttribution"

    name: str = request_field("name", api="CreateMetricAttribution.name")
    dataset_group_arn: str = request_field("datasetGroupArn", api="CreateMetricAttribution.datasetGroupArn")
    metrics: Sequence[Mapping[str, str]] = request_field("metrics", api="CreateMetricAttribution.metrics")
    metrics_output_config: Mapping[str, Any] = request_field("metricsOutputConfig", api="CreateMetricAttribution.metricsOutputConfig")


@dataclass(frozen=True)
class DatasetImportJob(Contract):
    RESOURCE_TYPE = "Custom::PersonalizeDatasetImportJob"

    job_name: str = request_field("jobName", api="CreateDatasetImportJob.jobName")
    dataset_arn: str = request_field("datasetArn", api="CreateDatasetImportJob.datasetArn")
    data_source: Mapping[str, str] = request_field("dataSource", api="CreateDatasetImportJob.dataSource")
    role_arn: str | None = request_field("roleArn", api="CreateDatasetImportJob.roleArn", required=False)
    import_mode: str | None = request_field("importMode", api="CreateDatasetImportJob.importMode", required=False)
    publish_attribution_metrics_to_s3: str | None = request_field(
        "publishAttributionMetricsToS3", api="CreateDatasetImportJob.publishAttributionMetricsToS3", required=False
    )
    # Not read by the handler: it orders the Interactions import after the attribution.
    metric_attribution_arn: str | None = top_field(METRIC_ATTRIBUTION_ARN)
    signal_handle: Mapping[str, str] | None = top_field(SIGNAL_HANDLE)

    def check(self) -> None:
        _require_handle(self.signal_handle)


@dataclass(frozen=True)
class Recommender(Contract):
    RESOURCE_TYPE = "Custom::PersonalizeRecommender"

    name: str = request_field("name", api="CreateRecommender.name")
    dataset_group_arn: str = request_field("datasetGroupArn", api="CreateRecommender.datasetGroupArn")
    recipe_arn: str = request_field("recipeArn", api="CreateRecommender.recipeArn")
    recommender_config: Mapping[str, Any] | None = request_field("recommenderConfig", api="CreateRecommender.recommenderConfig", required=False)
    tags: Sequence[Mapping[str, str]] | None = request_field("tags", api="CreateRecommender.tags", required=False)
    desired_state: str | None = top_field(DESIRED_STATE)
    signal_handle: Mapping[str, str] | None = top_field(SIGNAL_HANDLE)
    # The handle's URL, as stacks deployed before SignalHandle sent it (still read on their updates).
    signal_url: str | None = top_field(SIGNAL_URL)

    @classmethod
    def missing_message(cls, missing: list[str]) -> str:
        return _listed_missing(missing)


@dataclass(frozen=True)
class InteractionsExport(Contract):
    RESOURCE_TYPE = "Custom::PersonalizeInteractionsExport"

    dataset_arn: str = request_field("datasetArn", api="CreateDatasetExportJob.datasetArn")
    role_arn: str = request_field("roleArn", api="CreateDatasetExportJob.roleArn")
    export_prefix: str = request_field("exportPrefix")
    job_name_prefix: str = request_field("jobNamePrefix")
    kms_key_arn: str | None = request_field("kmsKeyArn", api="CreateDatasetExportJob.jobOutput.s3DataDestination.kmsKeyArn", required=False)

    def check(self) -> None:
        for item in ("dataset_arn", "role_arn", "export_prefix", "job_name_prefix"):
            if not isinstance(getattr(self, item), str):
                raise HandlerError(f"{REQUEST}.{_key(type(self), item)} is required")
        if not self.export_prefix.startswith("s3://") or not self.export_prefix.endswith("/"):
            raise HandlerError(f"{REQUEST}.exportPrefix must be an s3:// prefix ending in '/', got {self.export_prefix!r}")


@dataclass(frozen=True)
class TeardownWait(Contract):
    RESOURCE_TYPE = "Custom::PersonalizeTeardownWait"

    dataset_group_arn: str = request_field("datasetGroupArn", api="ListRecommenders.datasetGroupArn")
    dataset_arns: Sequence[str] = request_field("datasetArns", required=False)
    name_prefix: str = request_field("namePrefix")
    # Integers (CloudFormation sends them as strings): position in the chain, 1..count.
    position: int | str = request_field("position", required=False)
    count: int | str = request_field("count", required=False)
    share_seconds: int | str = request_field("shareSeconds", required=False)

    def check(self) -> None:
        for item in ("dataset_group_arn", "name_prefix"):
            if not isinstance(getattr(self, item), str):
                raise HandlerError(f"{REQUEST}.{_key(type(self), item)} is required")
        arns = self.dataset_arns
        if not isinstance(arns, list) or not all(isinstance(arn, str) and arn for arn in arns):
            raise HandlerError(f"{REQUEST}.datasetArns must be a list of dataset ARNs, got {arns!r}")

    def counts(self) -> tuple[int, int, int]:
        """(position, count, shareSeconds) as integers, checked."""
        try:
            position, count, share = int(self.position), int(self.count), int(self.share_seconds)
        except (TypeError, ValueError) as exc:
            raise HandlerError(f"Request.position, Request.count and Request.shareSeconds must be integers: {exc}") from None
        if not 1 <= position <= count or share <= 0:
            raise HandlerError(f"Request: position {position} of {count}, shareSeconds {share}")
        return position, count, share


@dataclass(frozen=True)
class Solution(Contract):
    RESOURCE_TYPE = "Custom::PersonalizeSolution"

    name: str = request_field("name", api="CreateSolution.name")
    dataset_group_arn: str = request_field("datasetGroupArn", api="CreateSolution.datasetGroupArn")
    recipe_arn: str = request_field("recipeArn", api="CreateSolution.recipeArn")
    perform_hpo: bool | str | None = request_field("performHPO", api="CreateSolution.performHPO", required=False)
    event_type: str | None = request_field("eventType", api="CreateSolution.eventType", required=False)
    perform_auto_training: bool | str | None = request_field("performAutoTraining", api="CreateSolution.performAutoTraining", required=False)
    perform_incremental_update: bool | str | None = request_field(
        "performIncrementalUpdate", api="CreateSolution.performIncrementalUpdate", required=False
    )
    solution_config: Mapping[str, Any] | None = request_field("solutionConfig", api="CreateSolution.solutionConfig", required=False)
    tags: Sequence[Mapping[str, str]] | None = request_field("tags", api="CreateSolution.tags", required=False)

    @classmethod
    def missing_message(cls, missing: list[str]) -> str:
        return _listed_missing(missing)


@dataclass(frozen=True)
class SolutionVersion(Contract):
    RESOURCE_TYPE = "Custom::PersonalizeSolutionVersion"

    solution_arn: str = request_field("solutionArn", api="CreateSolutionVersion.solutionArn")
    name: str = request_field("name", api="CreateSolutionVersion.name")
    training_mode: str | None = request_field("trainingMode", api="CreateSolutionVersion.trainingMode", required=False)
    # The config's training.version: a new value trains again with the same settings.
    version: str | None = top_field(VERSION)
    signal_handle: Mapping[str, str] | None = top_field(SIGNAL_HANDLE)

    def check(self) -> None:
        _require_handle(self.signal_handle)


@dataclass(frozen=True)
class SolutionMetrics(Contract):
    RESOURCE_TYPE = "Custom::PersonalizeSolutionMetrics"

    solution_version_arn: str = request_field("solutionVersionArn", api="GetSolutionMetrics.solutionVersionArn")


@dataclass(frozen=True)
class SampleData(Contract):
    RESOURCE_TYPE = "Custom::PersonalizeSampleData"
    HAS_REQUEST = False

    bucket: str = top_field("Bucket", required=True)
    prefix: str | None = top_field("Prefix")
    # Integers as strings (CloudFormation's form either way); absent means the handler's default.
    seed: str | None = top_field("Seed")
    users: str | None = top_field("Users")
    items: str | None = top_field("Items")
    interactions: str | None = top_field("Interactions")

    @classmethod
    def missing_message(cls, missing: list[str]) -> str:
        return f"{missing[0]} is required"


def _key(contract: type[Contract], name: str) -> str:
    return next(item.metadata["key"] for item in dataclasses.fields(contract) if item.name == name)


CONTRACTS: tuple[type[Contract], ...] = (
    MetricAttribution,
    DatasetImportJob,
    Recommender,
    InteractionsExport,
    TeardownWait,
    Solution,
    SolutionVersion,
    SolutionMetrics,
    SampleData,
)
