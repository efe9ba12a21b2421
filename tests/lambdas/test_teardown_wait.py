"""A dataset group's teardown chain: K waits, deleted one after another, hold the datasets and the
group until no recommender of this app is left in it and no import of this app runs on one of
its datasets, on simulated time with the stateful fake
(requests validated by botocore), the Provider framework's 30 s isComplete interval and its
55-minute total timeout; the exact ListRecommenders and ListDatasetImportJobs requests under the Stubber; the declared
operations proven exact."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from lambdas.personalize_resources import core, teardown_wait
from lambdas.personalize_resources.errors import HandlerError
from harness.provider import ACCOUNT, REGION, OperationRecorder, assert_incomplete_without_data, make_lambda_context, new_client
from harness.fake_recommenders import Durations, FakeRecommenders
from harness.kernel import Clock
from harness.handler_scenarios import Scenarios

QUERY_INTERVAL = dt.timedelta(seconds=30)
PROVIDER_TIMEOUT = dt.timedelta(minutes=55)  # stacks/constructs/teardown.py TEARDOWN_WAIT_TIMEOUT
SHARE = 50 * 60
RECOMMENDED_FOR_YOU = "arn:aws:personalize:::recipe/aws-ecomm-recommended-for-you"


class ProviderTimedOut(AssertionError):
    """The framework's onTimeout: CloudFormation would get FAILED 'Operation timed out'."""


class Group:
    """One dataset group with recommenders, and its chain of waits as CloudFormation deletes it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, recorder: OperationRecorder, *, count: int = 3) -> None:
        self.clock = Clock()
        self.fake = FakeRecommenders(clock=self.clock, durations=Durations(training=dt.timedelta(hours=2), deleting=dt.timedelta(minutes=5)), region=REGION, account=ACCOUNT)
        self.client = self.fake.attach(new_client())
        self.recorder = recorder
        self.count = count
        self.context = make_lambda_context()
        self.arn = self.fake.add_dataset_group("shop")
        self.dataset = self.fake.add_dataset(self.arn)
        self.answers: list[dict] = []
        monkeypatch.setattr(core, "create_client", lambda: self.client)
        monkeypatch.setattr(core, "sleep", lambda seconds: None)
        monkeypatch.setattr(teardown_wait, "now", self.clock.epoch)

    def properties(self, position: int, **overrides: Any) -> dict:
        request = {"datasetGroupArn": self.arn, "datasetArns": [self.dataset], "namePrefix": "shop-", "position": str(position), "count": str(self.count),
                   "shareSeconds": str(SHARE), **overrides}
        return {"Request": request}  # every scalar a string, as CloudFormation sends them

    def recommender(self, name: str, *, trained: bool = False) -> str:
        arn = self.client.create_recommender(name=name, datasetGroupArn=self.arn, recipeArn=RECOMMENDED_FOR_YOU)["recommenderArn"]
        if trained:
            self.clock.advance(hours=2)
            self.client.describe_recommender(recommenderArn=arn)
        return arn

    def running_import(self, name: str, *, polls: int | None) -> str:
        """An import on the dataset that stays CREATE IN_PROGRESS for ``polls`` more observations
        (one per isComplete, every 30 s), or for ever with None (its ACTIVE comes later)."""
        arn = self.client.create_dataset_import_job(jobName=name, datasetArn=self.dataset, dataSource={"dataLocation": "s3://b/i/"},
                                                    roleArn="arn:aws:iam::123456789012:role/r")["datasetImportJobArn"]
        job = self.fake.resources[arn]
        job.status, job.schedule = "CREATE IN_PROGRESS", ([] if polls is None else ["ACTIVE"])
        job.polls_at_status = self.fake.polls_per_status - (polls or 0)
        return arn

    def _invoke(self, function: Callable, event: Mapping) -> dict:
        before = len(self.fake.calls)
        try:
            return function(dict(event), self.context)
        finally:
            self.recorder.add(teardown_wait, {call.operation for call in self.fake.calls[before:]}, function.__name__)

    def event(self, request_type: str, position: int, physical_id: str | None = None, **overrides: Any) -> dict:
        event = {
            "RequestType": request_type, "RequestId": str(uuid.uuid4()), "LogicalResourceId": f"TeardownWait{position}",
            "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/shop/1", "ResourceType": "Custom::PersonalizeTeardownWait",
            "ResourceProperties": {"ServiceToken": "token", **self.properties(position, **overrides)},
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        return event

    def send(self, event: Mapping) -> str:
        """on_event, then isComplete every 30 s until complete or the Provider's total timeout,
        with on_event's answer merged into the request as framework.js does."""
        result = self._invoke(teardown_wait.on_event, event)
        merged = {**event, **result}
        deadline = self.clock.now + PROVIDER_TIMEOUT
        while self.clock.now <= deadline:
            answer = self._invoke(teardown_wait.is_complete, merged)
            self.answers.append(answer)
            if answer["IsComplete"]:
                return merged["PhysicalResourceId"]
            assert_incomplete_without_data(answer)
            self.clock.advance(QUERY_INTERVAL.total_seconds())
        raise ProviderTimedOut(f"wait {event['LogicalResourceId']} incomplete after the Provider's total timeout")

    def create_chain(self) -> list[str]:
        return [self.send(self.event("Create", position)) for position in range(self.count, 0, -1)]

    def delete_chain(self, physical_ids: list[str]) -> None:
        # CloudFormation deletes wait 1 first (the children depend on it), then 2, ...
        for position, physical_id in zip(range(1, self.count + 1), reversed(physical_ids)):
            self.send(self.event("Delete", position, physical_id))

    def left(self) -> list[str]:
        return [r["name"] for r in self.client.list_recommenders(datasetGroupArn=self.arn)["recommenders"]]


def delete_when_trained(group: Group, arn: str) -> None:
    """What the poller does for a recommender whose Delete found it training."""
    def change(at: dt.datetime) -> None:
        group.fake.recommenders[arn].timeline.clear()
        group.fake.recommenders[arn].resource.status = "ACTIVE"
        group.fake.delete_recommender({"recommenderArn": arn})  # the poller, not this handler
    state = group.fake.recommenders[arn]
    training_ends = state.timeline[-1][0]
    state.timeline[-1] = (training_ends, change)


SCENARIOS = Scenarios()
scenario = SCENARIOS


@scenario
def create_and_update_call_nothing_and_name_the_position(group):
    physical_ids = group.create_chain()
    assert physical_ids == [f"{group.arn}#teardown-wait-{p}" for p in (3, 2, 1)]
    event = group.event("Update", 2, physical_ids[1])
    event["OldResourceProperties"] = event["ResourceProperties"]
    assert group.send(event) == physical_ids[1]
    assert group.fake.calls == []


@scenario
def an_empty_group_lets_every_wait_go_at_once(group):
    physical_ids = group.create_chain()
    started = group.clock.now
    group.delete_chain(physical_ids)
    assert group.clock.now == started, "each wait complete at its first isComplete"


@scenario
def the_chain_holds_until_the_poller_deleted_a_recommender_still_training(group):
    physical_ids = group.create_chain()
    arn = group.recommender("shop-recommended-for-you-1a2b")
    group.clock.advance(minutes=30)  # 90 more minutes of training
    delete_when_trained(group, arn)
    started = group.clock.now
    group.delete_chain(physical_ids)
    waited = group.clock.now - started
    assert group.left() == []
    # Wait 1 passed on after its 50 minutes, wait 2 saw the recommender gone (90 min + a 5-minute delete).
    assert dt.timedelta(minutes=90) < waited < dt.timedelta(minutes=100), waited
    assert any(not answer["IsComplete"] for answer in group.answers)


@scenario
def the_last_wait_fails_naming_what_is_left(group):
    physical_ids = group.create_chain()
    group.fake.durations = Durations(training=dt.timedelta(hours=6), deleting=dt.timedelta(minutes=5))
    group.recommender("shop-viewed-x-9f9f")
    with pytest.raises(HandlerError, match=r"still has shop-viewed-x-9f9f \(CREATE (PENDING|IN_PROGRESS)\) after 3 waits of 50 minutes"):
        group.delete_chain(physical_ids)


@scenario
def other_apps_recommenders_do_not_hold_the_chain(group):
    physical_ids = group.create_chain()
    group.recommender("other-app-recommender")
    started = group.clock.now
    group.delete_chain(physical_ids)
    assert group.clock.now == started


@scenario
def the_chain_holds_until_an_import_of_this_app_ends(group):
    # A rollback during a long import: the import job's Delete answered at once; Personalize
    # refuses DeleteDataset until the import ends.
    physical_ids = group.create_chain()
    arn = group.running_import("shop-interactions-1a2b-0123abcd", polls=150)  # 75 minutes of polls
    started = group.clock.now
    group.delete_chain(physical_ids)
    waited = group.clock.now - started
    assert group.fake.resources[arn].status == "ACTIVE"
    # Wait 1 passed on after its 50 minutes, wait 2 saw the import ended.
    assert dt.timedelta(minutes=74) < waited < dt.timedelta(minutes=76), waited
    assert any(not answer["IsComplete"] for answer in group.answers)


@scenario
def the_last_wait_fails_naming_a_running_import(group):
    physical_ids = group.create_chain()
    group.running_import("shop-items-9f9f-0123abcd", polls=None)
    with pytest.raises(HandlerError, match=r"still has shop-items-9f9f-0123abcd \(CREATE IN_PROGRESS\) after 3 waits of 50 minutes"):
        group.delete_chain(physical_ids)


@scenario
def finished_imports_and_other_apps_imports_do_not_hold_the_chain(group):
    physical_ids = group.create_chain()
    done = group.running_import("shop-interactions-1a2b-0123abcd", polls=0)
    group.fake.observe(done)  # ACTIVE now
    group.running_import("other-app-interactions", polls=None)
    started = group.clock.now
    group.delete_chain(physical_ids)
    assert group.clock.now == started


@scenario
def a_dataset_already_gone_holds_nothing(group):
    physical_ids = group.create_chain()
    group.fake.datasets.discard(group.dataset)
    started = group.clock.now
    group.delete_chain(physical_ids)
    assert group.clock.now == started


@scenario
def a_delete_after_a_failed_create_waits_for_nothing(group):
    assert group.send(group.event("Delete", 1, "5f1c2a7e-request-id")) == "5f1c2a7e-request-id"


@scenario
def malformed_properties_fail_with_the_field(group):
    with pytest.raises(HandlerError, match="Request.datasetArns must be a list of dataset ARNs, got 'arn:x'"):
        group.send(group.event("Create", 1, datasetArns="arn:x"))
    with pytest.raises(HandlerError, match="Request.namePrefix is required"):
        group.send(group.event("Create", 1, namePrefix=""))
    with pytest.raises(HandlerError, match="must be integers"):
        group.send(group.event("Create", 1, shareSeconds="fifty"))
    with pytest.raises(HandlerError, match="position 4 of 3"):
        group.send(group.event("Create", 4))


def group_factory(monkeypatch: pytest.MonkeyPatch, recorder: OperationRecorder | None = None) -> Callable[[], Group]:
    recorder = recorder or OperationRecorder()

    def make() -> Group:
        return Group(monkeypatch, recorder)

    make.recorder = recorder
    return make


@pytest.fixture
def group(monkeypatch) -> Group:
    return group_factory(monkeypatch)()


@pytest.mark.parametrize("lifecycle", SCENARIOS, ids=lambda function: function.__name__)
def test_lifecycle(group, lifecycle):
    lifecycle(group)


def test_api_operations_are_exactly_those_the_lifecycles_call(monkeypatch):
    SCENARIOS.assert_operations_exact(group_factory(monkeypatch), teardown_wait)


def test_each_wait_answers_within_its_provider_timeout():
    # The share must leave the last isComplete (30 s interval) inside the Provider's total timeout.
    assert dt.timedelta(seconds=SHARE) + QUERY_INTERVAL < PROVIDER_TIMEOUT


def test_stubbed_list_requests(stubbed, lambda_context):
    group_arn = "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"
    dataset_arn = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/INTERACTIONS"
    event = {"RequestType": "Delete", "RequestId": "r-1", "LogicalResourceId": "TeardownWait1",
             "PhysicalResourceId": group_arn + "#teardown-wait-1", teardown_wait.STARTED_KEY: 0,
             "ResourceProperties": {"ServiceToken": "t", "Request": {
                 "datasetGroupArn": group_arn, "datasetArns": [dataset_arn], "namePrefix": "shop-", "position": "1", "count": "2", "shareSeconds": "3000"}}}
    stubbed.add_response("list_recommenders", {"recommenders": [
        {"name": "shop-recommended-for-you-1a2b", "status": "DELETE IN_PROGRESS"}], "nextToken": "page-2"}, {"datasetGroupArn": group_arn})
    stubbed.add_response("list_recommenders", {"recommenders": [{"name": "other-app", "status": "ACTIVE"}]},
                         {"datasetGroupArn": group_arn, "nextToken": "page-2"})
    stubbed.add_response("list_dataset_import_jobs", {"datasetImportJobs": [
        {"jobName": "shop-interactions-1a2b-0123abcd", "status": "CREATE IN_PROGRESS"}]}, {"datasetArn": dataset_arn})
    # Epoch 0 is long ago: not the last wait, so it passes on to the next.
    assert teardown_wait.is_complete(event, lambda_context) == {"IsComplete": True, "Data": {}}
