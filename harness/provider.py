"""Plays CloudFormation and the CDK Provider framework for the handlers' own tests: a real boto3
client wired to ``FakePersonalize``.

``World`` holds the fake (with one dataset group and its Interactions dataset), the client, a
Lambda context, the recorded backoff sleeps and ``world.resource(handler_module)``, a
``CustomResource`` that plays CloudFormation for one logical resource (create/update/delete,
replacement clean-up). Worlds may share one ``OperationRecorder``, which maps each handler module
to the Personalize operations its calls reached the fake with.
"""

from __future__ import annotations

import types
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import boto3

from lambdas.personalize_resources import core, environments, import_job, long_waits, poller, recommender, solution_version
from harness.fake_personalize import FakePersonalize
from harness.fake_recommenders import FakeStepFunctions, PollerStateMachine, RecordingSignals
from harness.kernel import Clock

if TYPE_CHECKING:  # the simulator's CLI plays events too, without pytest
    import pytest

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


PROVIDER_SERVICE_TOKEN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:provider-framework-onEvent"
NEVER_POSTED_RESPONSE_URL = "https://cloudformation-custom-resource-response.example/never-posted"


def custom_resource_event(
    request_type: str,
    properties: Mapping[str, Any] | None,
    *,
    logical_id: str,
    request_id: str,
    stack_id: str,
    resource_type: str = "Custom::Personalize",
    service_token: str = PROVIDER_SERVICE_TOKEN,
    response_url: str = NEVER_POSTED_RESPONSE_URL,
    physical_id: str | None = None,
    old_properties: Mapping[str, Any] | None = None,
) -> dict:
    """The event CloudFormation sends a custom resource's service token: its ResourceProperties
    (and OldResourceProperties, on an update) carry the token too; every request but a Create
    names the physical id."""
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": service_token,
        "ResponseURL": response_url,
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": {"ServiceToken": service_token, **(properties or {})},
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = {"ServiceToken": service_token, **old_properties}
    return event


def play_custom_resource(
    event: Mapping[str, Any],
    on_event: Callable[[Mapping[str, Any]], dict],
    is_complete: Callable[[Mapping[str, Any]], dict],
    *,
    max_polls: int,
    between_polls: Callable[[], object] = lambda: None,
    on_complete: Callable[[], object] = lambda: None,
) -> tuple[str, dict]:
    """One event through a handler as the CDK Provider framework plays it: on_event, then
    is_complete until complete (at most max_polls times, between_polls after each incomplete
    answer), merging the answers as the framework does. Returns the physical id and the Data."""
    result = on_event(event)
    physical_id = result.get("PhysicalResourceId") or event.get("PhysicalResourceId") or event["RequestId"]
    if event["RequestType"] == "Delete":
        assert physical_id == event["PhysicalResourceId"], "Delete must not change the physical id"
    merged = {**event, **result, "PhysicalResourceId": physical_id}
    for _ in range(max_polls):
        outcome = is_complete(merged)
        if outcome["IsComplete"]:
            on_complete()
            return physical_id, {**merged.get("Data", {}), **outcome.get("Data", {})}
        assert_incomplete_without_data(outcome)
        between_polls()
    raise AssertionError(f"{event['LogicalResourceId']} {event['RequestType']} incomplete after {max_polls} polls")


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
        return custom_resource_event(
            request_type, properties, logical_id=self.logical_id, request_id=str(uuid.uuid4()),
            stack_id=f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/personalize/{uuid.uuid4()}",
            physical_id=(physical_id or self.physical_id) if request_type != "Create" else None, old_properties=old,
        )

    def on_event(self, event: Mapping[str, Any]) -> dict:
        return self.world.invoke(self.handler.on_event, self.handler, event)

    def is_complete(self, event: Mapping[str, Any]) -> dict:
        self.polls += 1
        return self.world.invoke(self.handler.is_complete, self.handler, event)

    def send(self, event: Mapping[str, Any]) -> tuple[str, dict]:
        # CloudFormation's WaitCondition (if any) holds the deploy until the poller signals.
        return play_custom_resource(event, self.on_event, self.is_complete, max_polls=MAX_POLLS, on_complete=self.world.settle)


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
        self.sfn = FakeStepFunctions(Clock(), {STATE_MACHINE_ARN})
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
        """Run every poller execution to its end (its Waits change nothing: the fake moves per Describe)."""
        return PollerStateMachine(self.sfn, self.sfn.clock, self._poll_step, self.context, max_polls=max_polls).run_pending()

    def _poll_step(self, state: Mapping[str, Any], context: Any = None) -> dict:
        handler = POLLED_KINDS[state.get("kind", "recommender")]
        lookups = len(self.handle_lookups)
        result = self.invoke(long_waits.poll_step, handler, state, role="poll")
        if len(self.handle_lookups) > lookups:
            self.recorder.add(handler, {"cloudformation:DescribeStackResource"}, "poll")
        return result

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
