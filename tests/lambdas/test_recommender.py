"""The recommender custom resource and its poller, on simulated time.

``Stack`` plays CloudFormation and the CDK Provider framework for one recommender (on_event,
then is_complete every 30 simulated seconds) and ``PollerStateMachine`` plays the poller's
Step Functions execution (Wait 5 minutes → poll_step → Choice). Six hours of training are a
few hundred fast calls, each validated by botocore against the real models.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.personalize_resources import poller
from lambdas.personalize_resources import core, environments, recommender, recommender_poll
from lambdas.personalize_resources.errors import HandlerError
from harness.kernel import Clock
from harness.provider import ACCOUNT, REGION, custom_resource_event, make_lambda_context, new_client, play_custom_resource
from harness.fake_recommenders import (
    Durations,
    FakeRecommenders,
    FakeStepFunctions,
    PollerStateMachine,
    RecordingSignals,
)

STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:recommender-poller"
SIGNAL_URL = (
    "https://cloudformation-waitcondition-us-east-1.s3.amazonaws.com/"
    "arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/shop/1/RecommendedForYouHandleA1"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0123abcd"
)
SECOND_SIGNAL_URL = SIGNAL_URL.replace("HandleA1", "HandleB2")
RECOMMENDED_FOR_YOU = "arn:aws:personalize:::recipe/aws-ecomm-recommended-for-you"
VIEWED_X_ALSO_VIEWED = "arn:aws:personalize:::recipe/aws-ecomm-customers-who-viewed-x-also-viewed"
NAME = "shop-recommended-for-you"
ARN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:recommender/{NAME}"
LOGICAL_ID = "RecommendedForYou"
QUERY_INTERVAL = dt.timedelta(seconds=30)
MAX_IS_COMPLETE_POLLS = 120  # the Provider's total timeout: 1 hour at 30 s


_STATES_SESSION = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)


def new_states_client():
    """A real stepfunctions client (botocore validates every request); one session for speed."""
    return _STATES_SESSION.client("stepfunctions")


STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/shop/1"
# WaitConditionHandle logical id → its URL, as CloudFormation would answer DescribeStackResource.
HANDLE_URLS: dict[str, str] = {}


def handle_of(url: str) -> dict:
    logical_id = "ReadyHandle" + hashlib.sha256(url.encode()).hexdigest()[:8]
    HANDLE_URLS[logical_id] = url
    return {"StackId": STACK_ID, "LogicalResourceId": logical_id}


def properties(*, name: str = NAME, recipe: str = RECOMMENDED_FOR_YOU, config: dict | None = None,
               tags: list | None = None, desired: str | None = "ACTIVE", signal_url: str | None = SIGNAL_URL,
               dataset_group: str | None = None) -> dict:
    """Custom resource properties as CloudFormation sends them: every scalar a string."""
    request: dict[str, Any] = {
        "name": name,
        "datasetGroupArn": dataset_group or f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-group/shop",
        "recipeArn": recipe,
    }
    if config is not None:
        request["recommenderConfig"] = config
    if tags is not None:
        request["tags"] = tags
    result: dict[str, Any] = {"Request": request}
    if desired is not None:
        result["DesiredState"] = desired
    if signal_url is not None:
        # A reference to the handle: the URL itself must never reach logs or execution input.
        result["SignalHandle"] = handle_of(signal_url)
    return result


def cloudformation_event(request_type: str, props: Mapping | None, *, request_id: str,
                         old: Mapping | None = None, physical_id: str | None = None) -> dict:
    return custom_resource_event(request_type, props, logical_id=LOGICAL_ID, request_id=request_id, stack_id=STACK_ID,
                                 resource_type="Custom::PersonalizeRecommender", physical_id=physical_id, old_properties=old)


class Stack:
    """CloudFormation, the Provider framework and the poller for one recommender."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, **fake_options: Any) -> None:
        self.clock = Clock()
        self.fake = FakeRecommenders(clock=self.clock, region=REGION, account=ACCOUNT, **fake_options)
        self.client = self.fake.attach(new_client())
        self.sfn = FakeStepFunctions(self.clock, {STATE_MACHINE_ARN})
        self.states_client = self.sfn.attach(new_states_client())
        self.signals = RecordingSignals()
        self.sleeps: list[float] = []
        self.context = make_lambda_context()
        self.dataset_group_arn = self.fake.add_dataset_group("shop")
        self.handler_operations: set[str] = set()
        self.poller_operations: set[str] = set()
        self.poll_statuses: list[str] = []
        self.handle_lookups: list[str] = []
        self.is_complete_operations: set[str] = set()
        self.physical_id: str | None = None
        self.properties: dict | None = None
        self.data: dict = {}
        monkeypatch.setattr(core, "create_client", lambda: self.client)
        monkeypatch.setattr(core, "sleep", self.sleeps.append)
        monkeypatch.setattr(poller, "create_states_client", lambda: self.states_client)
        monkeypatch.setattr(poller, "send_signal", self.signals)
        monkeypatch.setattr(poller, "handle_url", self.handle_url)
        monkeypatch.setattr(poller, "now", self.clock.epoch)
        monkeypatch.setenv(environments.STATE_MACHINE_ENV, STATE_MACHINE_ARN)
        monkeypatch.delenv(environments.POLLER_TIMEOUT_ENV, raising=False)
        self.machine = PollerStateMachine(self.sfn, self.clock, self.poll_step, make_lambda_context())

    # --- Lambda invocations, with the operations each one reached ---------------------------

    def _invoke(self, function: Callable, event: Mapping, operations: set[str]) -> dict:
        personalize_before, sfn_before = len(self.fake.calls), len(self.sfn.calls)
        try:
            return function(json.loads(json.dumps(event)), self.context)
        finally:
            operations |= {call.operation for call in self.fake.calls[personalize_before:]}
            operations |= {f"states:{call.operation}" for call in self.sfn.calls[sfn_before:]}

    def handle_url(self, handle: Mapping) -> str:
        assert handle["StackId"] == STACK_ID
        self.handle_lookups.append(handle["LogicalResourceId"])
        return HANDLE_URLS[handle["LogicalResourceId"]]

    def on_event(self, event: Mapping) -> dict:
        return self._invoke(recommender.on_event, event, self.handler_operations)

    def is_complete(self, event: Mapping) -> dict:
        return self._invoke(recommender.is_complete, event, self.is_complete_operations)

    def poll_step(self, state: Mapping, context: Any = None) -> dict:
        lookups = len(self.handle_lookups)
        result = self._invoke(recommender_poll.poll_step, state, self.poller_operations)
        if len(self.handle_lookups) > lookups:
            self.poller_operations.add("cloudformation:DescribeStackResource")
        self.poll_statuses.append(result["status"])
        return result

    # --- CloudFormation ------------------------------------------------------------------------

    def event(self, request_type: str, props: Mapping | None, *, old: Mapping | None = None,
              physical_id: str | None = None, request_id: str = "") -> dict:
        return cloudformation_event(
            request_type, props, old=old,
            physical_id=physical_id or (self.physical_id if request_type != "Create" else None),
            request_id=request_id or f"request-{len(self.sfn.calls)}-{len(self.fake.calls)}",
        )

    def send(self, event: Mapping) -> tuple[str, dict]:
        # The Provider's total timeout: MAX_IS_COMPLETE_POLLS at its query interval.
        return play_custom_resource(event, self.on_event, self.is_complete, max_polls=MAX_IS_COMPLETE_POLLS,
                                    between_polls=lambda: self.clock.advance(QUERY_INTERVAL.total_seconds()))

    def create(self, props: Mapping) -> str:
        self.physical_id, self.data = self.send(self.event("Create", props))
        self.properties = dict(props)
        return self.physical_id

    def update(self, props: Mapping) -> str:
        old_id, old_props = self.physical_id, self.properties
        new_id, self.data = self.send(self.event("Update", props, old=old_props))
        self.physical_id, self.properties = new_id, dict(props)
        if new_id != old_id:
            # Replacement: CloudFormation deletes the old resource in its clean-up phase.
            self.send(self.event("Delete", old_props, physical_id=old_id))
        return new_id

    def delete(self) -> None:
        self.send(self.event("Delete", self.properties))

    def settle(self) -> list[dict]:
        """Run every poller execution that is still running to its end."""
        return self.machine.run_pending()

    def status(self, arn: str = ARN) -> str:
        return self.fake.recommender(arn).resource.status


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Stack:
    return Stack(monkeypatch)


def distinct(values: list[str]) -> list[str]:
    return [value for index, value in enumerate(values) if index == 0 or values[index - 1] != value]


# --- create ------------------------------------------------------------------------------------


def test_create_returns_at_once_and_the_poller_signals_after_six_hours_of_training(stack):
    start = stack.clock.now

    physical_id = stack.create(properties())

    assert physical_id == ARN
    assert stack.data == {"RecommenderArn": ARN}
    assert stack.clock.now == start, "on_event and is_complete did not wait for training"
    assert stack.status() == "CREATE PENDING"
    [execution] = stack.sfn.executions
    assert execution.state == {
        "recommenderArn": ARN,
        "desiredState": "ACTIVE",
        "signalHandle": handle_of(SIGNAL_URL),
        "uniqueId": LOGICAL_ID,
        "kind": "recommender",
        "waitSeconds": 60,
        "configUpdateRequested": False,
    }
    assert SIGNAL_URL not in json.dumps(execution.state), "the signal URL stays out of execution input"
    assert stack.signals.sent == []

    [final] = stack.settle()

    assert stack.clock.now - start >= dt.timedelta(hours=6)
    assert distinct(stack.poll_statuses) == ["CREATE IN_PROGRESS", "ACTIVE"]
    assert final["finished"] is True and final["status"] == "ACTIVE"
    assert final["polls"] == len(stack.poll_statuses) >= 6 * 12
    [signal] = stack.signals.sent
    assert (signal.url, signal.status, signal.unique_id, signal.data) == (SIGNAL_URL, "SUCCESS", LOGICAL_ID, ARN)
    assert NAME in signal.reason and "ACTIVE" in signal.reason
    assert stack.status() == "ACTIVE"


def test_create_coerces_cloudformation_strings_to_the_api_types(stack):
    stack.create(properties(config={
        "minRecommendationRequestsPerSecond": "2",
        "enableMetadataWithRecommendations": "true",
        "itemExplorationConfig": {"explorationWeight": "0.3", "explorationItemAgeCutOff": "30"},
    }, tags=[{"tagKey": "project", "tagValue": "impact"}]))

    [params] = stack.fake.params_of("CreateRecommender")
    assert params["recommenderConfig"] == {
        "minRecommendationRequestsPerSecond": 2,
        "enableMetadataWithRecommendations": True,
        "itemExplorationConfig": {"explorationWeight": "0.3", "explorationItemAgeCutOff": "30"},
    }
    assert params["tags"] == [{"tagKey": "project", "tagValue": "impact"}]
    assert stack.fake.recommender(ARN).tags == {"project": "impact"}


def test_create_with_desired_inactive_trains_then_stops(stack):
    stack.create(properties(desired="INACTIVE"))
    [final] = stack.settle()

    # PENDING statuses last 2 minutes, less than a poll interval: the poller sees IN_PROGRESS.
    assert distinct(stack.poll_statuses) == ["CREATE IN_PROGRESS", "ACTIVE", "STOP IN_PROGRESS", "INACTIVE"]
    assert final["status"] == "INACTIVE"
    assert stack.fake.count("StopRecommender") == 1
    assert [s.status for s in stack.signals.sent] == ["SUCCESS"]
    assert stack.status() == "INACTIVE"


def test_create_failed_reason_reaches_the_failure_signal(stack):
    reason = "Insufficient data: 12 users with at least 2 interactions, 25 required"
    stack.fake.fail_next_creation("recommender", reason)

    stack.create(properties())
    [final] = stack.settle()

    assert final["finished"] is True and final["status"] == "CREATE FAILED"
    [signal] = stack.signals.sent
    assert signal.status == "FAILURE"
    assert reason in signal.reason and "CREATE FAILED" in signal.reason
    # CloudFormation then rolls back: the recommender is deleted from its failed state.
    stack.delete()
    assert ARN not in stack.fake.recommenders


def test_retried_create_adopts_the_recommender_and_starts_one_poller(stack):
    event = stack.event("Create", properties(), request_id="create-1")

    first = stack.on_event(event)
    retried = stack.on_event(event)  # e.g. a Lambda retry after a lost response

    assert first == retried == {"PhysicalResourceId": ARN, "Data": {"RecommenderArn": ARN}}
    assert stack.fake.count("CreateRecommender") == 2
    assert len(stack.sfn.executions) == 1, "same request, same execution name and input"
    stack.settle()

    # A retry after the poller finished: Step Functions says the execution exists; fine.
    assert stack.on_event(event)["PhysicalResourceId"] == ARN
    assert len(stack.sfn.executions) == 1
    assert [s.status for s in stack.signals.sent] == ["SUCCESS"]


def test_create_refuses_to_adopt_a_foreign_recommender_with_the_same_name(stack):
    stack.client.create_recommender(name=NAME, datasetGroupArn=stack.dataset_group_arn,
                                    recipeArn=VIEWED_X_ALSO_VIEWED)

    with pytest.raises(HandlerError, match="already exists with recipeArn"):
        stack.create(properties())
    assert stack.sfn.executions == []


def test_throttling_is_retried_with_backoff(stack):
    stack.fake.throttle("CreateRecommender", times=2)
    stack.create(properties())
    stack.fake.throttle("DescribeRecommender", times=3)
    stack.settle()

    assert stack.fake.count("CreateRecommender") == 3
    assert len(stack.sleeps) == 5
    assert [s.status for s in stack.signals.sent] == ["SUCCESS"]


def test_poller_keeps_polling_when_still_throttled_after_the_retries(stack):
    stack.create(properties())
    # 6 attempts per call in core: the first poll gives up on throttling, the next succeeds.
    stack.fake.throttle("DescribeRecommender", times=6)
    [final] = stack.settle()

    assert stack.poll_statuses[0] == "UNKNOWN"
    assert final["status"] == "ACTIVE"
    assert [s.status for s in stack.signals.sent] == ["SUCCESS"]


# --- update --------------------------------------------------------------------------------------


def test_config_update_is_in_place_and_waits_for_retraining(stack):
    stack.create(properties(config={"minRecommendationRequestsPerSecond": "1"}))
    stack.settle()
    stack.poll_statuses.clear()

    physical_id = stack.update(properties(config={"minRecommendationRequestsPerSecond": "3"},
                                          signal_url=SECOND_SIGNAL_URL))

    assert physical_id == ARN
    assert stack.fake.count("CreateRecommender") == 1
    assert stack.fake.params_of("UpdateRecommender") == [
        {"recommenderArn": ARN, "recommenderConfig": {"minRecommendationRequestsPerSecond": 3}}
    ]
    described = stack.client.describe_recommender(recommenderArn=ARN)["recommender"]
    assert described["status"] == "ACTIVE", "keeps serving the old model while retraining"
    assert described["latestRecommenderUpdate"]["status"] == "CREATE PENDING"
    assert described["recommenderConfig"]["minRecommendationRequestsPerSecond"] == 1
    assert stack.sfn.executions[-1].state["configUpdateRequested"] is True

    [final] = stack.settle()

    assert final["status"] == "ACTIVE" and len(stack.poll_statuses) >= 3 * 12
    assert distinct(stack.poll_statuses)[0] == "ACTIVE (update CREATE IN_PROGRESS)"
    described = stack.client.describe_recommender(recommenderArn=ARN)["recommender"]
    assert described["recommenderConfig"]["minRecommendationRequestsPerSecond"] == 3
    assert described["latestRecommenderUpdate"]["status"] == "ACTIVE"
    assert [(s.url, s.status) for s in stack.signals.sent[1:]] == [(SECOND_SIGNAL_URL, "SUCCESS")]


def test_failed_config_update_reaches_the_failure_signal(stack):
    stack.create(properties())
    stack.settle()
    stack.fake.fail_next_update("Column PRICE is not in the items dataset")

    stack.update(properties(config={"trainingDataConfig": {"excludedDatasetColumns": {"ITEMS": ["PRICE"]}}},
                            signal_url=SECOND_SIGNAL_URL))
    stack.settle()

    signal = stack.signals.sent[-1]
    assert signal.status == "FAILURE"
    assert "configuration update is CREATE FAILED" in signal.reason
    assert "Column PRICE is not in the items dataset" in signal.reason


def test_an_earlier_failed_update_does_not_fail_a_later_state_change(stack):
    stack.create(properties())
    stack.settle()
    stack.fake.fail_next_update("bad columns")
    stack.update(properties(config={"minRecommendationRequestsPerSecond": "2"}, signal_url=SECOND_SIGNAL_URL))
    stack.settle()

    stack.update(properties(config={"minRecommendationRequestsPerSecond": "2"}, desired="INACTIVE",
                            signal_url=SIGNAL_URL + "3"))
    stack.settle()

    assert [s.status for s in stack.signals.sent] == ["SUCCESS", "FAILURE", "SUCCESS"]
    assert stack.status() == "INACTIVE"


def test_stop_and_start_follow_the_desired_state(stack):
    stack.create(properties())
    stack.settle()

    stack.update(properties(desired="INACTIVE", signal_url=SECOND_SIGNAL_URL))
    stack.settle()
    assert stack.status() == "INACTIVE"
    assert stack.fake.count("StopRecommender") == 1

    stack.update(properties(desired="ACTIVE", signal_url=SIGNAL_URL))
    stack.poll_statuses.clear()
    stack.settle()

    assert distinct(stack.poll_statuses) == ["INACTIVE", "START IN_PROGRESS", "ACTIVE"]
    assert stack.status() == "ACTIVE"
    assert stack.fake.count("StartRecommender") == 1
    assert not {"CreateRecommender", "UpdateRecommender"} & {c.operation for c in stack.fake.calls[1:]}
    assert [(s.url, s.status) for s in stack.signals.sent] == [
        (SIGNAL_URL, "SUCCESS"), (SECOND_SIGNAL_URL, "SUCCESS"), (SIGNAL_URL, "SUCCESS"),
    ]


def test_desired_state_is_case_insensitive_and_defaults_to_active(stack):
    stack.create(properties(desired=None))
    assert stack.sfn.executions[-1].state["desiredState"] == "ACTIVE"
    stack.settle()
    stack.update(properties(desired="inactive"))
    assert stack.sfn.executions[-1].state["desiredState"] == "INACTIVE"


def test_tags_change_in_place(stack):
    stack.create(properties(tags=[{"tagKey": "team", "tagValue": "growth"},
                                  {"tagKey": "cost-center", "tagValue": "42"}]))
    stack.settle()

    physical_id = stack.update(properties(tags=[{"tagKey": "team", "tagValue": "retail"},
                                                {"tagKey": "env", "tagValue": "prod"}]))

    assert physical_id == ARN
    assert stack.fake.params_of("UntagResource") == [{"resourceArn": ARN, "tagKeys": ["cost-center"]}]
    assert stack.fake.params_of("TagResource") == [{"resourceArn": ARN, "tags": [
        {"tagKey": "team", "tagValue": "retail"}, {"tagKey": "env", "tagValue": "prod"},
    ]}]
    assert stack.fake.recommender(ARN).tags == {"team": "retail", "env": "prod"}
    assert stack.fake.count("UpdateRecommender") == 0


def test_recipe_change_with_a_new_name_replaces_the_recommender(stack):
    stack.create(properties())
    stack.settle()

    new_name = "shop-viewed-x-also-viewed"
    new_arn = ARN.replace(NAME, new_name)
    physical_id = stack.update(properties(name=new_name, recipe=VIEWED_X_ALSO_VIEWED,
                                          signal_url=SECOND_SIGNAL_URL))

    assert physical_id == new_arn and stack.data == {"RecommenderArn": new_arn}
    assert ARN not in stack.fake.recommenders, "CloudFormation's clean-up deleted the old one"
    assert stack.sfn.executions[-1].state["recommenderArn"] == new_arn
    stack.settle()
    assert stack.status(new_arn) == "ACTIVE"
    assert stack.signals.sent[-1].data == new_arn


def test_recipe_change_under_the_same_name_is_refused_with_the_reason(stack):
    stack.create(properties())
    stack.settle()

    with pytest.raises(HandlerError, match="changing recipeArn needs a new recommender.*new name"):
        stack.update(properties(recipe=VIEWED_X_ALSO_VIEWED))
    assert stack.fake.count("CreateRecommender") == 1


def test_config_update_while_busy_is_handed_to_the_poller(stack):
    """E.g. a rollback's update arriving while the recommender is still stopping."""
    stack.create(properties())
    stack.settle()
    stack.client.stop_recommender(recommenderArn=ARN)

    stack.update(properties(config={"minRecommendationRequestsPerSecond": "5"}, signal_url=SECOND_SIGNAL_URL))

    state = stack.sfn.executions[-1].state
    assert state["pendingRecommenderConfig"] == {"minRecommendationRequestsPerSecond": 5}
    assert state["configUpdateRequested"] is False
    stack.poll_statuses.clear()
    [final] = stack.settle()

    # Stopped → started (config changes need ACTIVE) → updated and retrained → ACTIVE.
    assert distinct(stack.poll_statuses) == [
        "STOP IN_PROGRESS", "INACTIVE", "START IN_PROGRESS", "ACTIVE",
        "ACTIVE (update CREATE IN_PROGRESS)", "ACTIVE",
    ]
    assert final["configUpdateRequested"] is True and "pendingRecommenderConfig" not in final
    assert stack.fake.recommender(ARN).resource.attributes["recommenderConfig"][
        "minRecommendationRequestsPerSecond"] == 5
    assert stack.signals.sent[-1].status == "SUCCESS"


def test_pending_config_already_in_place_is_not_applied_again(stack):
    stack.create(properties(config={"minRecommendationRequestsPerSecond": "4"}))
    stack.settle()
    state = recommender.poller_input(stack.event("Update", properties()), ARN, config_update_requested=False,
                                     pending_config={"minRecommendationRequestsPerSecond": 4})

    result = stack.poll_step(state)

    assert result["finished"] is True and "pendingRecommenderConfig" not in result
    assert stack.fake.count("UpdateRecommender") == 0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["ACTIVE", "INACTIVE"]), st.integers(min_value=1, max_value=3)),
                min_size=1, max_size=4))
def test_any_sequence_of_deployments_converges_and_signals_success(deployments):
    with pytest.MonkeyPatch.context() as monkeypatch:
        # Shorter training keeps each example fast; the order of events is what matters here.
        stack = Stack(monkeypatch, durations=Durations(training=dt.timedelta(minutes=40),
                                                       retraining=dt.timedelta(minutes=30)))
        for index, (desired, requests_per_second) in enumerate(deployments):
            props = properties(desired=desired, signal_url=f"{SIGNAL_URL}{index}",
                               config={"minRecommendationRequestsPerSecond": str(requests_per_second)})
            stack.create(props) if index == 0 else stack.update(props)
            stack.settle()

            last = stack.signals.sent[-1]
            assert (last.url, last.status) == (f"{SIGNAL_URL}{index}", "SUCCESS")
            state = stack.fake.recommender(ARN)
            assert state.resource.status == desired
            assert state.resource.attributes["recommenderConfig"]["minRecommendationRequestsPerSecond"] == \
                requests_per_second
        assert stack.fake.count("CreateRecommender") == 1


# --- delete --------------------------------------------------------------------------------------


def test_delete_from_active_waits_until_the_recommender_is_gone(stack):
    stack.create(properties())
    stack.settle()

    stack.delete()

    assert stack.fake.count("DeleteRecommender") == 1
    with pytest.raises(stack.client.exceptions.ResourceNotFoundException):
        stack.client.describe_recommender(recommenderArn=ARN)


def test_delete_from_inactive(stack):
    stack.create(properties(desired="INACTIVE"))
    stack.settle()
    assert stack.status() == "INACTIVE"

    stack.delete()

    assert ARN not in stack.fake.recommenders


def test_delete_during_a_transition_is_retried_until_personalize_accepts_it(stack):
    stack.create(properties())
    stack.settle()
    stack.update(properties(desired="INACTIVE", signal_url=SECOND_SIGNAL_URL))
    [execution] = stack.sfn.pending()
    stack.clock.advance(minutes=5)
    stack.poll_step(execution.state)  # the poller asks for the stop...
    assert stack.status() == "STOP PENDING"

    stack.delete()  # ...and the stack is deleted meanwhile

    assert stack.fake.count("DeleteRecommender") > 1, "refused while stopping, then accepted"
    assert ARN not in stack.fake.recommenders


def test_delete_refused_by_on_event_is_completed_by_is_complete(stack):
    stack.create(properties())
    stack.settle()
    stack.fake.inject_error("DeleteRecommender", "ResourceInUseException", message="in use")

    stack.delete()

    assert stack.fake.count("DeleteRecommender") == 2
    assert ARN not in stack.fake.recommenders


def test_delete_of_a_failed_recommender(stack):
    stack.fake.fail_next_creation("recommender", "no data")
    stack.create(properties())
    stack.settle()
    assert stack.status() == "CREATE FAILED"

    stack.delete()

    assert ARN not in stack.fake.recommenders


def test_delete_of_an_already_deleted_recommender_succeeds(stack):
    stack.create(properties())
    stack.settle()
    stack.client.delete_recommender(recommenderArn=ARN)
    stack.clock.advance(hours=1)

    stack.delete()

    assert stack.fake.params_of("DeleteRecommender") == [{"recommenderArn": ARN}] * 2


def test_delete_with_a_made_up_id_and_no_recommender_of_that_name_deletes_nothing(stack):
    calls_before = len(stack.fake.calls)
    stack.send(stack.event("Delete", properties(), physical_id="stack-RecommendedForYou-1A2B3C4D5E6F7"))
    assert {call.operation for call in stack.fake.calls[calls_before:]} == {"DescribeRecommender"}


def test_delete_after_a_cancelled_create_hands_the_training_recommender_to_the_poller(stack):
    # Another resource failed while this Create waited: CloudFormation cancelled it and sends the
    # Delete with a physical id it made up. The recommender (still training) is found by name.
    stack.create(properties())
    assert stack.status() in ("CREATE PENDING", "CREATE IN_PROGRESS")
    made_up = "stack-RecommendedForYou-1A2B3C4D5E6F7"
    physical_id, _ = stack.send(stack.event("Delete", properties(), physical_id=made_up))
    assert physical_id == made_up
    stack.settle()
    assert ARN not in stack.fake.recommenders


def test_delete_by_name_spares_a_recommender_with_another_recipe(stack):
    stack.create(properties())
    stack.settle()
    other = properties(recipe="arn:aws:personalize:::recipe/aws-ecomm-popular-items-by-views")
    stack.send(stack.event("Delete", other, physical_id="stack-RecommendedForYou-1A2B3C4D5E6F7"))
    assert ARN in stack.fake.recommenders
    assert stack.fake.count("DeleteRecommender") == 0


def test_rollback_of_an_unrecorded_replacement_hands_the_replacement_to_the_poller(stack):
    # A recipe change (a new recommender under a new name) cancelled before it answered:
    # CloudFormation rolls back new → old to the old physical id; the replacement must go.
    stack.create(properties())
    stack.settle()
    new = properties(name="shop-also-viewed", recipe=VIEWED_X_ALSO_VIEWED)
    replacement = stack.on_event(stack.event("Update", new, old=properties()))["PhysicalResourceId"]
    assert replacement != ARN and replacement in stack.fake.recommenders
    physical_id, _ = stack.send(stack.event("Update", properties(), old=new, physical_id=ARN))
    assert physical_id == ARN
    stack.settle()
    assert_gone(stack, replacement)
    assert stack.status() == "ACTIVE"


def test_rollback_of_a_refused_config_update_restores_tags_without_retraining(stack):
    # UpdateRecommender refused: CloudFormation rolls back new → old (ResourceProperties old,
    # OldResourceProperties the failed update's); the live config is still the old one.
    old = properties(config={"minRecommendationRequestsPerSecond": "1"})
    new = properties(config={"minRecommendationRequestsPerSecond": "2"}, tags=[{"tagKey": "environment", "tagValue": "staging"}])
    stack.create(old)
    stack.settle()
    stack.fake.inject_error("UpdateRecommender", "InvalidInputException", 1, "refused")
    with pytest.raises(ClientError, match="refused"):
        stack.on_event(stack.event("Update", new, old=old))
    assert stack.fake.recommenders[ARN].tags.get("environment") == "staging", "tags changed before the refusal"
    updates = stack.fake.count("UpdateRecommender")
    stack.send(stack.event("Update", old, old=new))
    assert stack.fake.recommenders[ARN].tags.get("environment") is None
    assert stack.fake.count("UpdateRecommender") == updates, "nothing to retrain: the old config is in place"


# --- poller edge cases ------------------------------------------------------------------------


def test_signal_not_delivered_is_retried_on_the_next_poll(stack):
    stack.create(properties())
    stack.signals.fail_next(retryable=True)

    [final] = stack.settle()

    assert stack.poll_statuses[-2:] == ["ACTIVE", "ACTIVE"]
    assert final["finished"] is True and "signalError" not in final
    assert [s.status for s in stack.signals.sent] == ["SUCCESS"]


def test_signal_refused_ends_the_poller(stack):
    stack.create(properties())
    stack.signals.fail_next(retryable=False)

    [final] = stack.settle()

    assert final["finished"] is True and "403" in final["signalError"]
    assert stack.signals.sent == []


def test_poller_gives_up_after_its_timeout(stack, monkeypatch):
    monkeypatch.setenv(environments.POLLER_TIMEOUT_ENV, str(2 * 3600))
    stack.create(properties())

    [final] = stack.settle()

    assert final["status"] == "CREATE IN_PROGRESS"
    [signal] = stack.signals.sent
    assert signal.status == "FAILURE"
    assert re.search(r"still CREATE IN_PROGRESS after 12\d minutes", signal.reason)


@pytest.mark.parametrize("deleted_for, status", [(dt.timedelta(0), "DELETE IN_PROGRESS"),
                                                  (dt.timedelta(hours=1), "NOT_FOUND")])
def test_poller_ends_when_the_recommender_is_deleted_under_it(stack, deleted_for, status):
    stack.create(properties())
    stack.settle()
    stack.update(properties(desired="INACTIVE", signal_url=SECOND_SIGNAL_URL))
    stack.client.delete_recommender(recommenderArn=ARN)
    stack.clock.advance(deleted_for.total_seconds())
    stack.signals.fail_next(retryable=True)  # the WaitCondition probably went with the stack

    [final] = stack.settle()

    assert final["finished"] is True and final["status"] == status and final["polls"] == 1
    assert final["outcome"] == "FAILURE"


def test_poller_reports_unexpected_errors_instead_of_waiting_for_the_timeout(stack):
    stack.create(properties())
    # AccessDenied past the core's propagation window (retried a while, then unexpected).
    stack.fake.inject_error("DescribeRecommender", "AccessDeniedException", times=50, message="not authorized")

    [final] = stack.settle()

    assert final["finished"] is True and final["polls"] == 1
    [signal] = stack.signals.sent
    assert signal.status == "FAILURE" and "AccessDeniedException" in signal.reason


def test_without_a_signal_url_the_poller_still_converges(stack):
    stack.create(properties(desired="INACTIVE", signal_url=None))
    [final] = stack.settle()

    assert final["status"] == "INACTIVE"
    assert stack.signals.sent == []


# --- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "props, message",
    [
        (properties(desired="PAUSED"), "DesiredState must be ACTIVE or INACTIVE"),
        ({"Request": {"name": NAME, "recipeArn": RECOMMENDED_FOR_YOU}}, "Request.datasetGroupArn required"),
        (properties(config={"minRecommendationRequestsPerSecond": "many"}), "expected an integer"),
        ({"DesiredState": "ACTIVE"}, "Request is missing"),
        ({**properties(signal_url=None), "SignalUrl": "ftp://example/handle"},
         "SignalUrl must be the WaitConditionHandle's https URL"),
        ({**properties(signal_url=None), "SignalHandle": {"StackId": STACK_ID}}, "SignalHandle must be"),
    ],
)
def test_invalid_properties_fail_before_anything_is_created(stack, props, message):
    with pytest.raises(HandlerError, match=message):
        stack.create(props)
    assert stack.fake.calls == [] and stack.sfn.calls == []


def test_invalid_update_fails_before_anything_changes(stack):
    stack.create(properties())
    stack.settle()
    calls = len(stack.fake.calls)

    with pytest.raises(HandlerError, match="DesiredState must be ACTIVE or INACTIVE"):
        stack.update(properties(config={"minRecommendationRequestsPerSecond": "2"}, desired="STOPPED"))
    assert len(stack.fake.calls) == calls and len(stack.sfn.executions) == 1


def test_missing_state_machine_environment_fails_before_anything_is_created(stack, monkeypatch):
    monkeypatch.delenv(environments.STATE_MACHINE_ENV)
    with pytest.raises(HandlerError, match="POLLER_STATE_MACHINE_ARN is not set"):
        stack.create(properties())
    assert stack.fake.calls == []


def test_execution_names_are_valid_and_stable_per_request():
    name = recommender.execution_name("5d1a-request", ARN)
    assert name == recommender.execution_name("5d1a-request", ARN)
    assert name != recommender.execution_name("another-request", ARN)
    assert name.startswith(NAME + "-") and len(name) <= 80
    assert FakeStepFunctions.NAME.fullmatch(recommender.execution_name("r", ARN.replace(NAME, "x" * 63)))


# --- exact requests ---------------------------------------------------------------------------------


def test_exact_create_and_start_execution_requests(stubbed, monkeypatch):
    states_client = new_states_client()
    monkeypatch.setattr(poller, "create_states_client", lambda: states_client)
    monkeypatch.setenv(environments.STATE_MACHINE_ENV, STATE_MACHINE_ARN)
    stubbed.add_response("create_recommender", {"recommenderArn": ARN}, expected_params={
        "name": NAME,
        "datasetGroupArn": f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-group/shop",
        "recipeArn": RECOMMENDED_FOR_YOU,
        "recommenderConfig": {"minRecommendationRequestsPerSecond": 2, "enableMetadataWithRecommendations": False},
        "tags": [{"tagKey": "project", "tagValue": "impact"}],
    })
    event = cloudformation_event(
        "Create",
        properties(config={"minRecommendationRequestsPerSecond": "2", "enableMetadataWithRecommendations": "false"},
                   tags=[{"tagKey": "project", "tagValue": "impact"}], desired="INACTIVE"),
        request_id="req-1",
    )
    expected_input = json.dumps({
        "configUpdateRequested": False, "desiredState": "INACTIVE", "recommenderArn": ARN,
        "signalHandle": handle_of(SIGNAL_URL), "uniqueId": LOGICAL_ID, "kind": "recommender", "waitSeconds": 60,
    }, sort_keys=True)
    with Stubber(states_client) as sfn_stubber:
        sfn_stubber.add_response(
            "start_execution",
            {"executionArn": f"{STATE_MACHINE_ARN}:x", "startDate": dt.datetime(2024, 3, 1)},
            expected_params={"stateMachineArn": STATE_MACHINE_ARN,
                             "name": recommender.execution_name("req-1", ARN), "input": expected_input},
        )
        result = recommender.on_event(event, make_lambda_context())
        sfn_stubber.assert_no_pending_responses()
    assert result == {"PhysicalResourceId": ARN, "Data": {"RecommenderArn": ARN}}


def test_exact_poller_requests(stubbed, monkeypatch):
    signals = RecordingSignals()
    monkeypatch.setattr(poller, "send_signal", signals)
    monkeypatch.setattr(poller, "now", lambda: 1_700_000_000)
    described = {"recommender": {"recommenderArn": ARN, "name": NAME, "status": "ACTIVE",
                                 "recommenderConfig": {"minRecommendationRequestsPerSecond": 1}}}
    stubbed.add_response("describe_recommender", described, expected_params={"recommenderArn": ARN})
    stubbed.add_response("stop_recommender", {"recommenderArn": ARN}, expected_params={"recommenderArn": ARN})
    state = {"recommenderArn": ARN, "desiredState": "INACTIVE", "signalUrl": SIGNAL_URL, "uniqueId": LOGICAL_ID,
             "configUpdateRequested": False}

    result = recommender_poll.poll_step(state, make_lambda_context())

    assert result == {**state, "finished": False, "status": "ACTIVE", "polls": 1, "startedAt": 1_700_000_000,
                      "lastAction": "StopRecommender", "kind": "recommender", "waitSeconds": 60}
    assert signals.sent == []


# --- delete while training, poller start failures, the poller's catch-all ----------------------


def delete_while_training_is_handed_to_the_poller(stack) -> None:
    arn = stack.create(properties(name="shop-second"))
    # Personalize refuses DeleteRecommender while it trains (6 h here, longer than the Provider's
    # hour): the Delete hands it to the poller and completes at once, so CloudFormation moves on
    # (the dataset group's teardown chain holds the datasets); the poller deletes it after training.
    started = stack.clock.now
    stack.delete()
    assert stack.clock.now == started, "complete at the first isComplete, no Provider retries"
    assert stack.fake.recommender(arn).resource.status in recommender.BUSY_CREATING
    [handed] = [e for e in stack.sfn.executions if json.loads(e.input)["desiredState"] == "DELETED"]
    assert json.loads(handed.input)["recommenderArn"] == arn
    finals = stack.settle()
    deleters = [f for f in finals if f["desiredState"] == "DELETED"]
    assert len(deleters) == 1 and deleters[0]["outcome"] == "SUCCESS"
    assert_gone(stack, arn)


def assert_gone(stack, arn: str) -> None:
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        stack.client.describe_recommender(recommenderArn=arn)


def test_delete_while_training_leaves_nothing_billing(stack):
    delete_while_training_is_handed_to_the_poller(stack)
    # A retried Delete (a second `cdk destroy`) then finds nothing and completes at once.
    stack.delete()


def test_delete_while_a_config_update_retrains_is_handed_to_the_poller(stack):
    # A rollback or destroy right after a configuration update: the recommender is ACTIVE but
    # retraining, and Personalize refuses DeleteRecommender for longer than the Provider's hour.
    old = properties(config={"minRecommendationRequestsPerSecond": "1"})
    stack.create(old)
    stack.settle()
    stack.update(properties(config={"minRecommendationRequestsPerSecond": "2"}))
    assert stack.client.describe_recommender(recommenderArn=ARN)["recommender"]["latestRecommenderUpdate"]["status"] in recommender.BUSY_CREATING
    answer = stack.on_event(stack.event("Delete", old, physical_id=ARN))
    assert answer[recommender.DELETE_HANDED_OFF] is True
    stack.settle()
    assert_gone(stack, ARN)


def test_a_poller_that_cannot_start_fails_the_create_but_keeps_the_arn_for_the_rollback(stack):
    original = recommender.start_poller

    def failing(*args, **kwargs):
        raise RuntimeError("StartExecution: AccessDenied")

    recommender.start_poller = failing
    try:
        event = stack.event("Create", properties())
        result = stack.on_event(event)
    finally:
        recommender.start_poller = original
    assert result["PhysicalResourceId"] == ARN, "the real ARN, not the framework's placeholder"
    with pytest.raises(HandlerError, match="created but its poller did not start: RuntimeError: StartExecution"):
        stack.is_complete({**event, **result})
    # CloudFormation's rollback sends a Delete for that ARN; the recommender is training, so the
    # delete goes to the poller, which removes it once Personalize allows.
    stack.physical_id, stack.properties = ARN, properties()
    stack.delete()  # handed over: complete at once
    assert stack.status() in recommender.BUSY_CREATING
    stack.settle()
    assert_gone(stack, ARN)


def test_the_catch_all_step_signals_failure_with_a_readable_reason(stack):
    stack.create(properties())
    [execution] = stack.sfn.executions
    error = {"Error": "Sandbox.Timedout", "Cause": json.dumps({"errorMessage": "Task timed out after 60.00 seconds"})}
    result = poller.poll_failed({**execution.state, "polls": 3, "error": error}, make_lambda_context())
    assert result["finished"] is True and result["outcome"] == "FAILURE"
    [signal] = stack.signals.sent
    assert signal.status == "FAILURE" and signal.url == SIGNAL_URL
    assert "Sandbox.Timedout" in signal.reason and "Task timed out after 60.00 seconds" in signal.reason
    assert stack.handle_lookups, "the URL was read from the handle reference"


def test_clients_time_out_well_before_the_poll_lambda(monkeypatch):
    from lambdas.personalize_resources import core, wait_condition

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    config = core.create_client.__wrapped__().meta.config
    # Three attempts of connect + read stay well under the poll Lambda's 60 s timeout.
    assert 3 * (config.connect_timeout + config.read_timeout) <= 40
    cfn = wait_condition.CLIENT_CONFIG
    assert 3 * (cfn["connect_timeout"] + cfn["read_timeout"]) < 60


# --- the declared operations ---------------------------------------------------------------------


def test_recorded_operations_are_exactly_the_declared_ones(stack):
    """One deployment history touching every path; IAM is built from these declarations."""
    stack.create(properties(tags=[{"tagKey": "team", "tagValue": "growth"}]))  # Create, StartExecution
    stack.settle()
    stack.on_event(stack.event("Create", properties(), request_id="retry"))  # adopts: Describe
    stack.settle()
    stack.update(properties(tags=[{"tagKey": "env", "tagValue": "prod"}],  # Tag, Untag, Update
                            config={"minRecommendationRequestsPerSecond": "2"}))
    stack.settle()
    stack.update(properties(tags=[{"tagKey": "env", "tagValue": "prod"}], desired="INACTIVE",
                            config={"minRecommendationRequestsPerSecond": "2"}))  # poller: Stop
    stack.settle()
    stack.update(properties(tags=[{"tagKey": "env", "tagValue": "prod"}],  # busy → poller: Start, Update
                            config={"minRecommendationRequestsPerSecond": "3"}))
    stack.settle()
    stack.fake.inject_error("DeleteRecommender", "ResourceInUseException", message="in use")
    stack.delete()  # Delete refused, then is_complete: Describe, Delete, Describe until gone
    delete_while_training_is_handed_to_the_poller(stack)

    assert stack.handler_operations == set(recommender.API_OPERATIONS)
    assert stack.is_complete_operations == set(recommender.IS_COMPLETE_API_OPERATIONS)
    assert stack.poller_operations == set(recommender_poll.POLL_API_OPERATIONS) | set(poller.SIGNAL_ONLY_OPERATIONS)
    assert len(recommender.API_OPERATIONS) == len(set(recommender.API_OPERATIONS))


def test_a_network_timeout_escapes_the_step_for_the_catch_all_which_signals_it(stack):
    from botocore.exceptions import ReadTimeoutError

    stack.create(properties())
    [execution] = stack.sfn.executions

    def time_out(**_):
        raise ReadTimeoutError(endpoint_url="https://personalize.us-east-1.amazonaws.com/")

    stack.client.meta.events.register("before-parameter-build.personalize.DescribeRecommender", time_out)
    # Not swallowed as "still waiting": the Lambda fails, and Step Functions' Catch takes over.
    with pytest.raises(ReadTimeoutError):
        recommender_poll.poll_step(execution.state, make_lambda_context())
    cause = json.dumps({"errorMessage": 'Read timeout on endpoint URL: "https://personalize.us-east-1.amazonaws.com/"',
                        "errorType": "ReadTimeoutError"})
    result = poller.poll_failed({**execution.state, "error": {"Error": "ReadTimeoutError", "Cause": cause}}, make_lambda_context())
    [signal] = stack.signals.sent
    assert result["outcome"] == "FAILURE" and signal.status == "FAILURE"
    assert "ReadTimeoutError" in signal.reason and "Read timeout on endpoint URL" in signal.reason
