"""Fixtures that run the custom-resource handlers the way CloudFormation and the CDK
Provider framework do, against a real boto3 client wired to ``FakePersonalize``.

``world`` gives a fresh ``World``: the fake (with one dataset group and its
Interactions dataset), the client, a Lambda context, the recorded backoff sleeps
and ``world.resource(handler_module)``, a ``CustomResource`` that plays
CloudFormation for one logical resource (create/update/delete, replacement clean-up).
``world_factory`` builds more worlds that share one ``OperationRecorder``, which maps
each handler module to the Personalize operations its calls reached the fake with.
"""

from __future__ import annotations

import json
import types
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import pytest

from lambdas.personalize_resources import core, environments, import_job, long_waits, poller, recommender, solution_version
from tests.lambdas.fake_personalize import FakePersonalize
from tests.lambdas.fake_recommenders import FakeStepFunctions, RecordingSignals, SimulatedClock

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:personalize-resources"
MAX_POLLS = 60
STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:poller"
POLLED_KINDS = {import_job.RESOURCE_TYPE: import_job, recommender.RESOURCE_TYPE: recommender, solution_version.RESOURCE_TYPE: solution_version}
_STATES_SESSION = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)


def make_lambda_context() -> types.SimpleNamespace:
    return types.SimpleNamespace(invoked_function_arn=FUNCTION_ARN, aws_request_id=str(uuid.uuid4()))


def assert_incomplete_without_data(outcome: Mapping[str, Any]) -> None:
    """The CDK framework throws '"Data" is not allowed if "IsComplete" is "False"' (fatal)."""
    assert outcome["IsComplete"] is False and not outcome.get("Data"), f"incomplete answer carries Data: {outcome}"


class OperationRecorder:
    def __init__(self) -> None:
        self.by_handler: dict[str, set[str]] = defaultdict(set)
        # (module name, function name) → operations: each function runs under its own role.
        self.by_function: dict[tuple[str, str], set[str]] = defaultdict(set)

    def add(self, handler: types.ModuleType, operations: set[str], function: str = "") -> None:
        self.by_handler[handler.__name__] |= operations
        if function:
            self.by_function[(handler.__name__, function)] |= operations


class CustomResource:
    """One logical resource driven through the Provider framework's contract."""

    def __init__(self, world: World, handler: types.ModuleType, logical_id: str) -> None:
        self.world, self.handler, self.logical_id = world, handler, logical_id
        self.physical_id: str | None = None
        self.properties: dict | None = None
        self.data: dict = {}
        self.polls = 0

    def create(self, properties: Mapping[str, Any]) -> str:
        event = self.event("Create", properties)
        self.physical_id, self.data = self.send(event)
        self.properties = dict(properties)
        return self.physical_id

    def update(self, properties: Mapping[str, Any]) -> str:
        event = self.event("Update", properties, old=self.properties)
        old_id, old_properties = self.physical_id, self.properties
        new_id, data = self.send(event)
        self.physical_id, self.properties, self.data = new_id, dict(properties), data
        if new_id != old_id:
            # Replacement: CloudFormation deletes the old resource in its clean-up phase.
            self.send(self.event("Delete", old_properties, physical_id=old_id))
        return new_id

    def delete(self) -> None:
        self.send(self.event("Delete", self.properties))
        self.physical_id = None

    def event(
        self,
        request_type: str,
        properties: Mapping | None,
        *,
        old: Mapping | None = None,
        physical_id: str | None = None,
    ) -> dict:
        event = {
            "RequestType": request_type,
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider-framework-onEvent",
            "ResponseURL": "https://cloudformation-custom-resource-response.example/never-posted",
            "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/personalize/{uuid.uuid4()}",
            "RequestId": str(uuid.uuid4()),
            "LogicalResourceId": self.logical_id,
            "ResourceType": "Custom::Personalize",
            "ResourceProperties": {"ServiceToken": "token", **(properties or {})},
        }
        if request_type != "Create":
            event["PhysicalResourceId"] = physical_id or self.physical_id
        if old is not None:
            event["OldResourceProperties"] = {"ServiceToken": "token", **old}
        return event

    def on_event(self, event: Mapping[str, Any]) -> dict:
        return self.world.invoke(self.handler.on_event, self.handler, event)

    def is_complete(self, event: Mapping[str, Any]) -> dict:
        return self.world.invoke(self.handler.is_complete, self.handler, event)

    def send(self, event: Mapping[str, Any]) -> tuple[str, dict]:
        """on_event, then is_complete until complete, merging results as the framework does."""
        result = self.on_event(event)
        physical_id = result.get("PhysicalResourceId") or event.get("PhysicalResourceId") or event["RequestId"]
        if event["RequestType"] == "Delete":
            assert physical_id == event["PhysicalResourceId"], "Delete must not change the physical id"
        merged = {**event, **result, "PhysicalResourceId": physical_id}
        for _ in range(MAX_POLLS):
            self.polls += 1
            outcome = self.is_complete(merged)
            if outcome["IsComplete"]:
                # CloudFormation's WaitCondition (if any) holds the deploy until the poller signals.
                self.world.settle()
                return physical_id, {**merged.get("Data", {}), **outcome.get("Data", {})}
            assert_incomplete_without_data(outcome)
        raise AssertionError(f"{self.handler.__name__} {event['RequestType']} incomplete after {MAX_POLLS} polls")


class World:
    def __init__(self, recorder: OperationRecorder, monkeypatch: pytest.MonkeyPatch, **fake_options: Any) -> None:
        self.recorder = recorder
        self.fake = FakePersonalize(region=REGION, account=ACCOUNT, **fake_options)
        self.client = self.fake.attach(new_client())
        self.context = make_lambda_context()
        self.sleeps: list[float] = []
        self.dataset_group_arn = self.fake.add_dataset_group("shop")
        self.dataset_arn = self.fake.add_dataset(self.dataset_group_arn)
        monkeypatch.setattr(core, "create_client", lambda: self.client)
        monkeypatch.setattr(core, "sleep", self.sleeps.append)
        # The shared poller: a fake Step Functions behind a real client, recorded signals, and
        # WaitConditionHandle logical ids resolved to URLs as DescribeStackResource would.
        self.sfn = FakeStepFunctions(SimulatedClock(), {STATE_MACHINE_ARN})
        self.states_client = self.sfn.attach(_STATES_SESSION.client("stepfunctions"))
        self.signals = RecordingSignals()
        self.handle_lookups: list[str] = []
        monkeypatch.setattr(poller, "create_states_client", lambda: self.states_client)
        monkeypatch.setattr(poller, "send_signal", self.signals)
        monkeypatch.setattr(poller, "handle_url", self._handle_url)
        monkeypatch.setenv(environments.STATE_MACHINE_ENV, STATE_MACHINE_ARN)

    def _handle_url(self, handle: Mapping[str, str]) -> str:
        self.handle_lookups.append(handle["LogicalResourceId"])
        return f"https://cloudformation-waitcondition.example/{handle['LogicalResourceId']}?X-Amz-Signature=s"

    def settle(self, max_polls: int = MAX_POLLS) -> list[dict]:
        """Run every poller execution to its end (no Wait needed: the fake moves per Describe)."""
        finals = []
        for execution in self.sfn.pending():
            state = json.loads(execution.input)
            for _ in range(max_polls):
                handler = POLLED_KINDS[state.get("kind", "recommender")]
                lookups = len(self.handle_lookups)
                state = json.loads(json.dumps(self.invoke(long_waits.poll_step, handler, state, role="poll")))
                if len(self.handle_lookups) > lookups:
                    self.recorder.add(handler, {"cloudformation:DescribeStackResource"}, "poll")
                if state["finished"]:
                    break
            else:
                raise AssertionError(f"poller execution {execution.name} unfinished after {max_polls} polls")
            execution.running, execution.result = False, state
            finals.append(state)
        return finals

    def resource(self, handler: types.ModuleType, logical_id: str = "Resource") -> CustomResource:
        return CustomResource(self, handler, logical_id)

    def invoke(self, function: Callable, handler: types.ModuleType, event: Mapping[str, Any], *, role: str = "") -> dict:
        """Run a handler function; record what it reached under `role` (default: its name)."""
        before, sfn_before = len(self.fake.calls), len(self.sfn.calls)
        try:
            return function(dict(event), self.context)
        finally:
            reached = {call.operation for call in self.fake.calls[before:]}
            reached |= {f"states:{call.operation}" for call in self.sfn.calls[sfn_before:]}
            self.recorder.add(handler, reached, role or function.__name__)


_SESSION: boto3.Session | None = None


def new_client():
    """A real personalize client (full botocore validation); the session is shared for speed."""
    global _SESSION
    if _SESSION is None:
        _SESSION = boto3.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            region_name=REGION,
        )
    return _SESSION.client("personalize")


@pytest.fixture
def world_factory(monkeypatch: pytest.MonkeyPatch) -> Callable[..., World]:
    recorder = OperationRecorder()

    def make(**fake_options: Any) -> World:
        return World(recorder, monkeypatch, **fake_options)

    make.recorder = recorder
    return make


@pytest.fixture
def world(world_factory: Callable[..., World]) -> World:
    return world_factory()


@pytest.fixture
def new_personalize_client() -> Callable[[], Any]:
    """Makes real personalize clients, e.g. for a FakePersonalize subclass to attach to."""
    return new_client


@pytest.fixture
def lambda_context() -> types.SimpleNamespace:
    return make_lambda_context()


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch):
    """A real client under ``botocore.stub.Stubber`` that the handlers will use."""
    from botocore.stub import Stubber

    client = new_client()
    monkeypatch.setattr(core, "create_client", lambda: client)
    monkeypatch.setattr(core, "sleep", lambda seconds: None)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()
