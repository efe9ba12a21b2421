"""Recommenders for ``FakePersonalize``, a fake Step Functions, and the poller's state machine.

``FakeRecommenders`` extends ``FakePersonalize`` (see its docstring) with CreateRecommender,
DescribeRecommender, UpdateRecommender, StopRecommender, StartRecommender, DeleteRecommender,
TagResource and UntagResource. Unlike the base fake, whose statuses advance per Describe,
recommender statuses follow a ``Clock`` that the test advances: training takes
``durations.training`` (6 simulated hours by default), so a test can walk through a whole
training in a few hundred fast calls. Lifecycle as documented for DescribeRecommender:

    CREATE PENDING → CREATE IN_PROGRESS → ACTIVE | CREATE FAILED
    STOP PENDING → STOP IN_PROGRESS → INACTIVE → START PENDING → START IN_PROGRESS → ACTIVE
    DELETE PENDING → DELETE IN_PROGRESS → gone (ResourceNotFoundException)

An update keeps the recommender ACTIVE and serving the old configuration while
``latestRecommenderUpdate`` goes CREATE PENDING → CREATE IN_PROGRESS → ACTIVE | CREATE FAILED;
the new configuration takes effect when it becomes ACTIVE.

Modelling choices where the service's behaviour is not documented (conservative, so a handler
that works here does not rely on leniency): Update, Stop, Start and Delete are refused with
ResourceInUseException while anything is in transition; Update needs an ACTIVE recommender;
Stop needs ACTIVE, Start needs INACTIVE (InvalidInputException otherwise);
``minRecommendationRequestsPerSecond`` is filled in with its documented default 1.

Failure injection: ``fail_next_creation("recommender", reason)`` (base), ``fail_next_update(reason)``,
``throttle(...)`` and ``inject_error(...)`` (base).

``FakeStepFunctions`` answers ``StartExecution`` on a real ``stepfunctions`` client (validated
by botocore, responses checked against the output shape) with the documented idempotency of
STANDARD workflows. ``PollerStateMachine`` runs an execution the way the CDK state machine does:
Wait(interval) → poll_step → Choice on ``$.finished``. ``RecordingSignals`` stands in for the
WaitCondition signal.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

from lambdas.personalize_resources.wait_condition import SignalError
from harness.fake_personalize import (
    DELETING,
    Call,
    FakeError,
    FakePersonalize,
    FakeResource,
    operation,
)
from harness.kernel import Clock

STOPPING = ("STOP PENDING", "STOP IN_PROGRESS")
STARTING = ("START PENDING", "START IN_PROGRESS")
UPDATE_IN_PROGRESS = ("CREATE PENDING", "CREATE IN_PROGRESS")
MAX_TAGS = 50
Change = Callable[[dt.datetime], None]
RECIPES = frozenset(
    f"arn:aws:personalize:::recipe/{name}"
    for name in (
        "aws-ecomm-popular-items-by-views",
        "aws-ecomm-popular-items-by-purchases",
        "aws-ecomm-frequently-bought-together",
        "aws-ecomm-customers-who-viewed-x-also-viewed",
        "aws-ecomm-recommended-for-you",
        "aws-vod-because-you-watched-x",
        "aws-vod-more-like-x",
        "aws-vod-most-popular",
        "aws-vod-trending-now",
        "aws-vod-top-picks",
    )
)


@dataclass
class Durations:
    pending: dt.timedelta = dt.timedelta(minutes=2)
    training: dt.timedelta = dt.timedelta(hours=6)
    retraining: dt.timedelta = dt.timedelta(hours=3)
    stopping: dt.timedelta = dt.timedelta(minutes=10)
    starting: dt.timedelta = dt.timedelta(minutes=15)
    deleting: dt.timedelta = dt.timedelta(minutes=10)


@dataclass
class RecommenderState:
    resource: FakeResource
    # (due time, change) in order; a change mutates the recommender when its time comes.
    timeline: list[tuple[dt.datetime, Change]] = field(default_factory=list)
    update: dict | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def busy(self) -> bool:
        return bool(self.timeline)


class FakeRecommenders(FakePersonalize):
    def __init__(self, *, clock: Clock, durations: Durations | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.clock = clock
        self.durations = durations or Durations()
        self.recommenders: dict[str, RecommenderState] = {}
        self._failing_updates: list[str] = []

    def fail_next_update(self, reason: str) -> None:
        self._failing_updates.append(reason)

    def recommender(self, arn: str) -> RecommenderState:
        """The recommender as it is now (for assertions)."""
        self._settle()
        return self.recommenders[arn]

    # --- simulated time ------------------------------------------------------------------

    def _settle(self) -> None:
        for arn in list(self.recommenders):
            state = self.recommenders.get(arn)
            while state is not None and state.timeline and state.timeline[0][0] <= self.clock.now:
                due, change = state.timeline.pop(0)
                change(due)

    def _schedule(self, state: RecommenderState, steps: list[tuple[dt.timedelta, Change]]) -> None:
        due = self.clock.now
        for delay, change in steps:
            due += delay
            state.timeline.append((due, change))

    @staticmethod
    def _set_status(state: RecommenderState, status: str, reason: str | None = None) -> Change:
        def change(at: dt.datetime) -> None:
            state.resource.status = status
            state.resource.updated = at
            if reason is not None:
                state.resource.failure_reason = reason

        return change

    def _remove(self, arn: str) -> Change:
        def change(at: dt.datetime) -> None:
            self.recommenders.pop(arn, None)
            self.resources.pop(arn, None)

        return change

    def _get(self, arn: str) -> RecommenderState:
        self._settle()
        state = self.recommenders.get(arn)
        if state is None:
            raise FakeError("ResourceNotFoundException", f"Could not find recommender {arn}")
        return state

    def _require_idle(self, state: RecommenderState) -> None:
        if state.busy:
            update = (state.update or {}).get("status")
            detail = f" (update {update})" if update in UPDATE_IN_PROGRESS else ""
            raise FakeError("ResourceInUseException",
                            f"Recommender {state.resource.arn} is {state.resource.status}{detail}")

    # --- operations ---------------------------------------------------------------------

    @operation("CreateRecommender")
    def create_recommender(self, params: dict) -> dict:
        self._settle()
        arn = self.arn("recommender", params["name"])
        if params["datasetGroupArn"] not in self.dataset_groups:
            raise FakeError("ResourceNotFoundException", f"Could not find dataset group {params['datasetGroupArn']}")
        if params["recipeArn"] not in RECIPES:
            raise FakeError("InvalidInputException", f"Recipe {params['recipeArn']} is not a domain recipe")
        if arn in self.recommenders:
            raise FakeError("ResourceAlreadyExistsException", f"Recommender {arn} already exists")
        tags = params.get("tags", [])
        if len(tags) > MAX_TAGS:
            raise FakeError("TooManyTagsException", f"At most {MAX_TAGS} tags")
        now = self.clock.now
        resource = FakeResource(
            arn=arn,
            resource_type="recommender",
            attributes={
                "recommenderArn": arn,
                "datasetGroupArn": params["datasetGroupArn"],
                "name": params["name"],
                "recipeArn": params["recipeArn"],
                "recommenderConfig": _with_defaults(params.get("recommenderConfig", {})),
            },
            status="CREATE PENDING",
            created=now,
            updated=now,
        )
        self.resources[arn] = resource
        state = RecommenderState(resource, tags={t["tagKey"]: t["tagValue"] for t in tags})
        self.recommenders[arn] = state
        failures = self._failing_creations["recommender"]
        reason = failures.pop(0) if failures else None
        self._schedule(state, [
            (self.durations.pending, self._set_status(state, "CREATE IN_PROGRESS")),
            (self.durations.training,
             self._set_status(state, "CREATE FAILED", reason) if reason else self._set_status(state, "ACTIVE")),
        ])
        return {"recommenderArn": arn}

    @operation("DescribeRecommender")
    def describe_recommender(self, params: dict) -> dict:
        state = self._get(params["recommenderArn"])
        view = state.resource.view()
        if state.update is not None:
            view["latestRecommenderUpdate"] = copy.deepcopy(state.update)
        if view["status"] in ("ACTIVE", "INACTIVE") or view["status"] in STOPPING + STARTING:
            # Null while creating or deleting, per the API reference.
            view["modelMetrics"] = {"coverage": 0.27, "precision_at_25": 0.0612}
        return {"recommender": view}

    @operation("UpdateRecommender")
    def update_recommender(self, params: dict) -> dict:
        state = self._get(params["recommenderArn"])
        self._require_idle(state)
        if state.resource.status != "ACTIVE":
            raise FakeError("ResourceInUseException",
                            f"Recommender {state.resource.arn} is {state.resource.status}; it must be ACTIVE")
        config = _with_defaults(params["recommenderConfig"])
        now = self.clock.now
        update = {"recommenderConfig": config, "creationDateTime": now, "lastUpdatedDateTime": now,
                  "status": "CREATE PENDING"}
        state.update = update
        reason = self._failing_updates.pop(0) if self._failing_updates else None

        def update_status(status: str) -> Change:
            def change(at: dt.datetime) -> None:
                update["status"] = status
                update["lastUpdatedDateTime"] = at
                if status == "CREATE FAILED":
                    update["failureReason"] = reason
                if status == "ACTIVE":
                    state.resource.attributes["recommenderConfig"] = copy.deepcopy(config)
                    state.resource.updated = at

            return change

        self._schedule(state, [
            (self.durations.pending, update_status("CREATE IN_PROGRESS")),
            (self.durations.retraining, update_status("CREATE FAILED" if reason else "ACTIVE")),
        ])
        return {"recommenderArn": state.resource.arn}

    @operation("StopRecommender")
    def stop_recommender(self, params: dict) -> dict:
        state = self._get(params["recommenderArn"])
        self._require_idle(state)
        if state.resource.status != "ACTIVE":
            raise FakeError("InvalidInputException", f"Only an ACTIVE recommender can be stopped, not {state.resource.status}")
        self._set_status(state, "STOP PENDING")(self.clock.now)
        self._schedule(state, [
            (self.durations.pending, self._set_status(state, "STOP IN_PROGRESS")),
            (self.durations.stopping, self._set_status(state, "INACTIVE")),
        ])
        return {"recommenderArn": state.resource.arn}

    @operation("StartRecommender")
    def start_recommender(self, params: dict) -> dict:
        state = self._get(params["recommenderArn"])
        self._require_idle(state)
        if state.resource.status != "INACTIVE":
            raise FakeError("InvalidInputException", f"Only an INACTIVE recommender can be started, not {state.resource.status}")
        self._set_status(state, "START PENDING")(self.clock.now)
        self._schedule(state, [
            (self.durations.pending, self._set_status(state, "START IN_PROGRESS")),
            (self.durations.starting, self._set_status(state, "ACTIVE")),
        ])
        return {"recommenderArn": state.resource.arn}

    @operation("DeleteRecommender")
    def delete_recommender(self, params: dict) -> dict:
        state = self._get(params["recommenderArn"])
        if state.resource.status in DELETING:
            raise FakeError("ResourceInUseException", f"Recommender {state.resource.arn} is {state.resource.status}")
        self._require_idle(state)
        self._set_status(state, "DELETE PENDING")(self.clock.now)
        self._schedule(state, [
            (self.durations.pending, self._set_status(state, "DELETE IN_PROGRESS")),
            (self.durations.deleting, self._remove(state.resource.arn)),
        ])
        return {}

    @operation("ListRecommenders")
    def list_recommenders(self, params: dict) -> dict:
        """Every recommender of the group (all of them without one), in any status, as summaries."""
        self._settle()
        group = params.get("datasetGroupArn")
        keys = ("name", "recommenderArn", "datasetGroupArn", "recipeArn", "recommenderConfig")
        summaries = [
            {**{key: copy.deepcopy(state.resource.attributes[key]) for key in keys}, "status": state.resource.status,
             "creationDateTime": state.resource.created, "lastUpdatedDateTime": state.resource.updated}
            for state in self.recommenders.values() if group in (None, state.resource.attributes["datasetGroupArn"])
        ]
        return {"recommenders": summaries}

    @operation("TagResource")
    def tag_resource(self, params: dict) -> dict:
        state = self._tag_target(params["resourceArn"])
        tags = {**state.tags, **{t["tagKey"]: t["tagValue"] for t in params["tags"]}}
        if len(tags) > MAX_TAGS:
            raise FakeError("TooManyTagsException", f"At most {MAX_TAGS} tags")
        state.tags = tags
        return {}

    @operation("UntagResource")
    def untag_resource(self, params: dict) -> dict:
        state = self._tag_target(params["resourceArn"])
        for key in params["tagKeys"]:
            state.tags.pop(key, None)
        return {}

    def _tag_target(self, arn: str) -> RecommenderState:
        state = self._get(arn)
        if state.resource.status in DELETING:
            raise FakeError("ResourceInUseException", f"Recommender {arn} is {state.resource.status}")
        return state


def _with_defaults(config: Mapping[str, Any]) -> dict:
    return {"minRecommendationRequestsPerSecond": 1, **copy.deepcopy(dict(config))}


# --- Step Functions --------------------------------------------------------------------------------

@dataclass
class Execution:
    arn: str
    state_machine_arn: str
    name: str
    input: str
    start_date: dt.datetime
    running: bool = True
    result: dict | None = None

    @property
    def state(self) -> dict:
        return json.loads(self.input)


class FakeStepFunctions:
    """StartExecution behind a real ``stepfunctions`` client, recorded in ``self.calls``."""

    NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")

    def __init__(self, clock: Clock, state_machine_arns: set[str]) -> None:
        self.clock = clock
        self.state_machine_arns = set(state_machine_arns)
        self.executions: list[Execution] = []
        self.calls: list[Call] = []
        self._injected: list[tuple[str, str]] = []

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-parameter-build.sfn.*", self._remember_params)
        client.meta.events.register("before-call.sfn.*", self._respond)
        return client

    def inject_error(self, code: str, message: str = "injected") -> None:
        self._injected.append((code, message))

    def operations(self) -> set[str]:
        return {f"states:{call.operation}" for call in self.calls}

    def pending(self) -> list[Execution]:
        return [execution for execution in self.executions if execution.running]

    @staticmethod
    def _remember_params(params: dict, context: dict, **_: Any) -> None:
        context["fake_sfn_params"] = params

    def _respond(self, model: Any, context: dict, **_: Any) -> tuple[AWSResponse, dict]:
        params = copy.deepcopy(context["fake_sfn_params"])
        self.calls.append(Call(model.name, copy.deepcopy(params)))
        try:
            if self._injected:
                raise FakeError(*self._injected.pop(0))
            if model.name != "StartExecution":
                raise NotImplementedError(f"FakeStepFunctions has no handler for {model.name}")
            body = self._start_execution(params)
        except FakeError as error:
            return AWSResponse(None, 400, {}, None), {
                "Error": {"Code": error.code, "Message": error.message},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
        report = ParamValidator().validate(body, model.output_shape)
        if report.has_errors():
            raise AssertionError(f"fake {model.name} response does not fit the model: {report.generate_report()}")
        return AWSResponse(None, 200, {}, None), {**body, "ResponseMetadata": {"HTTPStatusCode": 200}}

    def _start_execution(self, params: dict) -> dict:
        machine = params["stateMachineArn"]
        if machine not in self.state_machine_arns:
            raise FakeError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{machine}'")
        name = params.get("name")
        if name is None or not self.NAME.fullmatch(name):
            # The service would invent a name; the handler must always give one (idempotency).
            raise FakeError("InvalidName", f"Invalid Name: '{name}'")
        execution_input = params.get("input", "{}")
        try:
            json.loads(execution_input)
        except ValueError:
            raise FakeError("InvalidExecutionInput", "Invalid execution input") from None
        for execution in self.executions:
            if execution.state_machine_arn == machine and execution.name == name:
                # STANDARD workflows: same name and input while running → the same answer.
                if execution.running and execution.input == execution_input:
                    return {"executionArn": execution.arn, "startDate": execution.start_date}
                raise FakeError("ExecutionAlreadyExists", f"Execution Already Exists: '{execution.arn}'")
        arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
        execution = Execution(arn, machine, name, execution_input, self.clock.now)
        self.executions.append(execution)
        return {"executionArn": arn, "startDate": execution.start_date}


class PollerStateMachine:
    """Wait(interval) → poll_step → Choice on ``$.finished``, against the simulated clock."""

    def __init__(self, sfn: FakeStepFunctions, clock: Clock, poll_step: Callable[[dict, Any], dict],
                 context: Any, *, interval: dt.timedelta = dt.timedelta(minutes=5), max_polls: int = 500) -> None:
        self.sfn, self.clock, self.poll_step, self.context = sfn, clock, poll_step, context
        self.interval, self.max_polls = interval, max_polls

    def run(self, execution: Execution) -> dict:
        state = execution.state
        for _ in range(self.max_polls):
            self.clock.advance(self.interval.total_seconds())
            # Step Functions hands the Lambda its state as JSON and keeps the JSON it returns.
            state = json.loads(json.dumps(self.poll_step(state, self.context)))
            if state["finished"]:
                execution.running, execution.result = False, state
                return state
        raise AssertionError(f"execution {execution.name} unfinished after {self.max_polls} polls: {state}")

    def run_pending(self) -> list[dict]:
        return [self.run(execution) for execution in self.sfn.pending()]


@dataclass(frozen=True)
class Signal:
    url: str
    status: str
    reason: str
    unique_id: str
    data: str


class RecordingSignals:
    """Replaces ``wait_condition.signal``; ``fail_next(retryable)`` makes the next call raise."""

    def __init__(self) -> None:
        self.sent: list[Signal] = []
        self._failures: list[bool] = []

    def fail_next(self, retryable: bool = True, times: int = 1) -> None:
        self._failures.extend([retryable] * times)

    def __call__(self, url: str, status: str, reason: str, unique_id: str, data: str = "") -> int:
        if self._failures:
            retryable = self._failures.pop(0)
            raise SignalError("HTTP Error 503" if retryable else "HTTP Error 403: Forbidden", retryable=retryable)
        self.sent.append(Signal(url, status, reason, unique_id, data))
        return 200
