"""Solution version (training) custom resource: lifecycles with the stateful fake and the shared
poller (create, retrain by Version, failed training, destroy while training), exact requests
under botocore's Stubber, and every function's operations proven exact."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from lambdas.personalize_resources import long_waits, poller, solution_version
from lambdas.personalize_resources.errors import HandlerError
from harness.handler_scenarios import Scenarios
from tests.lambdas.test_solution import props as solution_props
from tests.lambdas.test_solution import solutions_world_factory

STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/shop/1"


def trained_solution(world) -> str:
    """An ACTIVE solution (auto-training off) to train versions of."""
    from lambdas.personalize_resources import solution

    resource = world.resource(solution, "Solution")
    return resource.create(solution_props(world, auto="false", schedule=None))


def version_props(solution_arn: str, *, version="1", mode="FULL", name="shop-ratings-a1b2c3", handle="TrainedHandleA1") -> dict:
    """As CloudFormation sends them: every scalar a string."""
    return {
        "Request": {"solutionArn": solution_arn, "name": name, "trainingMode": mode},
        "Version": version,
        "SignalHandle": {"StackId": STACK, "LogicalResourceId": handle},
    }


SCENARIOS = Scenarios()
scenario = SCENARIOS


@scenario
def training_is_followed_by_the_poller_and_signals_the_offline_metrics(world):
    solution_arn = trained_solution(world)
    resource = world.resource(solution_version, "Trained")
    event = resource.event("Create", version_props(solution_arn))
    answer = resource.on_event(event)
    arn = answer["PhysicalResourceId"]
    assert arn.startswith(solution_arn + "/")
    # The custom resource completes at once: the WaitCondition (up to 12 h) waits for training.
    assert resource.is_complete({**event, **answer}) == {"IsComplete": True, "Data": {"SolutionVersionArn": arn}}
    [execution] = world.sfn.pending()
    state = json.loads(execution.input)
    assert state == {"kind": "solution-version", "resourceArn": arn, "uniqueId": "Trained", "waitSeconds": 300,
                     "signalHandle": {"StackId": STACK, "LogicalResourceId": "TrainedHandleA1"}}
    [final] = world.settle()
    assert final["outcome"] == "SUCCESS" and final["polls"] >= 3, "no Lambda slept: one poll per Describe"
    [signal] = world.signals.sent
    assert signal.status == "SUCCESS"
    # Only the reported metrics, compact (the WaitCondition Data the stack outputs carry).
    assert signal.data == ('{"coverage":0.2731,"mean_reciprocal_rank_at_25":0.0923,'
                           '"normalized_discounted_cumulative_gain_at_10":0.1167,"precision_at_10":0.0356,"precision_at_5":0.0412}')
    assert world.fake.params_of("CreateSolutionVersion") == [{"solutionArn": solution_arn, "name": "shop-ratings-a1b2c3", "trainingMode": "FULL"}]
    resource.physical_id, resource.properties = arn, version_props(solution_arn)
    resource.delete()  # nothing trains: nothing to stop
    assert world.fake.count("StopSolutionVersionCreation") == 0 and arn in world.fake.resources


@scenario
def the_metrics_resource_reads_the_trained_version_as_a_string(world):
    solution_arn = trained_solution(world)
    arn = world.resource(solution_version, "Trained").create(version_props(solution_arn))
    reader = world.resource(solution_version, "Metrics")
    event = {**reader.event("Create", {"Request": {"solutionVersionArn": arn}}), "ResourceType": solution_version.METRICS_RESOURCE_TYPE}
    physical_id, data = reader.send(event)
    assert data == {"OfflineMetrics": world.signals.sent[0].data}
    assert world.fake.params_of("GetSolutionMetrics")[-1] == {"solutionVersionArn": arn}
    calls = len(world.fake.calls)
    reader.send({**reader.event("Delete", {"Request": {"solutionVersionArn": arn}}, physical_id=physical_id),
                 "ResourceType": solution_version.METRICS_RESOURCE_TYPE})
    assert len(world.fake.calls) == calls, "deleting a reading calls nothing"


@scenario
def retrain_by_version_trains_a_new_version_and_update_mode(world):
    solution_arn = trained_solution(world)
    resource = world.resource(solution_version, "Trained")
    first = resource.create(version_props(solution_arn))
    second = resource.update(version_props(solution_arn, version="2", mode="UPDATE", name="shop-ratings-d4e5f6", handle="TrainedHandleB2"))
    assert second != first
    assert [p["trainingMode"] for p in world.fake.params_of("CreateSolutionVersion")] == ["FULL", "UPDATE"]
    assert [s.status for s in world.signals.sent] == ["SUCCESS", "SUCCESS"]
    assert world.fake.resources[first].status == "ACTIVE", "the replaced version stays (no DeleteSolutionVersion)"
    # Unchanged properties: nothing trains.
    resource.update(version_props(solution_arn, version="2", mode="UPDATE", name="shop-ratings-d4e5f6", handle="TrainedHandleB2"))
    assert world.fake.count("CreateSolutionVersion") == 2
    resource.delete()


@scenario
def a_retried_create_adopts_the_version_it_started(world):
    solution_arn = trained_solution(world)
    resource = world.resource(solution_version, "Trained")
    event = resource.event("Create", version_props(solution_arn))
    first = resource.on_event(event)
    again = resource.on_event(event)
    assert again["PhysicalResourceId"] == first["PhysicalResourceId"]
    assert world.fake.count("CreateSolutionVersion") == 1
    assert len(world.sfn.pending()) == 1, "the poller execution name is stable per request"
    world.settle()


@scenario
def failed_training_signals_failure_with_its_reason(world):
    solution_arn = trained_solution(world)
    world.fake.fail_next_training("Insufficient data: fewer than 25 users with 2 or more interactions")
    resource = world.resource(solution_version, "Trained")
    resource.create(version_props(solution_arn))  # the custom resource succeeds; the WaitCondition fails
    [signal] = world.signals.sent
    assert signal.status == "FAILURE"
    assert "CREATE FAILED: Insufficient data: fewer than 25 users with 2 or more interactions" in signal.reason


@scenario
def destroy_while_training_stops_it_before_the_solution_goes(world):
    from lambdas.personalize_resources import solution

    world.fake.training_polls = 50
    solution_resource = world.resource(solution, "Solution")
    solution_arn = solution_resource.create(solution_props(world, auto="false", schedule=None))
    resource = world.resource(solution_version, "Trained")
    event = resource.event("Create", version_props(solution_arn))
    arn = resource.on_event(event)["PhysicalResourceId"]
    resource.physical_id, resource.properties = arn, version_props(solution_arn)
    world.fake.observe(arn)  # CREATE IN_PROGRESS
    resource.delete()  # stops the training and waits until it is stopped
    assert world.fake.params_of("StopSolutionVersionCreation") == [{"solutionVersionArn": arn}]
    assert world.fake.resources[arn].status == "CREATE STOPPED"
    solution_resource.delete()
    assert solution_arn not in world.fake.resources
    # The poller that still followed the training ends with FAILURE (nobody waits in a destroy).
    assert not world.sfn.pending()
    [signal] = world.signals.sent
    assert signal.status == "FAILURE" and "its training was stopped" in signal.reason


@scenario
def delete_after_cancelled_create_stops_the_training_found_by_name(world):
    # Another resource failed while this Create waited: the Delete carries a physical id
    # CloudFormation made up; the training it started is found by its name and stopped.
    world.fake.training_polls = 50
    solution_arn = trained_solution(world)
    resource = world.resource(solution_version, "Trained")
    arn = resource.on_event(resource.event("Create", version_props(solution_arn)))["PhysicalResourceId"]
    world.fake.observe(arn)  # CREATE IN_PROGRESS
    made_up = "stack-SolutionsratingsVersion-1A2B3C4D5E6F7"
    answer = resource.on_event(resource.event("Delete", version_props(solution_arn, name="another-name"), physical_id=made_up))
    assert answer == {"PhysicalResourceId": made_up, "Data": {}}
    assert world.fake.count("StopSolutionVersionCreation") == 0, "no version of that name: nothing stopped"
    physical_id, _ = resource.send(resource.event("Delete", version_props(solution_arn), physical_id=made_up))
    assert physical_id == made_up
    assert world.fake.params_of("StopSolutionVersionCreation") == [{"solutionVersionArn": arn}]
    assert world.fake.resources[arn].status == "CREATE STOPPED"


@scenario
def a_version_gone_with_its_solution_deletes_as_done(world):
    solution_arn = trained_solution(world)
    resource = world.resource(solution_version, "Trained")
    arn = resource.create(version_props(solution_arn))
    world.fake.begin_delete(world.fake.resources[solution_arn])
    del world.fake.resources[arn]
    resource.delete()
    placeholder = world.resource(solution_version, "Never")
    placeholder.send(placeholder.event("Delete", version_props(solution_arn), physical_id="5f1c2a7e-request-id"))


@pytest.fixture
def versions_world(world_factory):
    return solutions_world_factory(world_factory)


def test_operations_are_exactly_api_operations(versions_world):
    SCENARIOS.assert_operations_exact(versions_world, solution_version)
    assert set(solution_version.POLL_API_OPERATIONS) <= set(long_waits.POLLER_API_OPERATIONS)


@pytest.mark.parametrize("lifecycle", SCENARIOS, ids=lambda f: f.__name__)
def test_lifecycle(versions_world, lifecycle):
    lifecycle(versions_world())


def test_training_without_a_signal_handle_is_refused(versions_world):
    world = versions_world()
    solution_arn = trained_solution(world)
    resource = world.resource(solution_version, "Trained")
    properties = version_props(solution_arn)
    del properties["SignalHandle"]
    with pytest.raises(HandlerError, match="SignalHandle is required"):
        resource.on_event(resource.event("Create", properties))
    assert world.fake.count("CreateSolutionVersion") == 0


def test_a_poller_that_cannot_start_fails_the_request_but_keeps_the_arn(versions_world, monkeypatch):
    world = versions_world()
    solution_arn = trained_solution(world)
    monkeypatch.setattr(solution_version.poller, "start", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("AccessDenied")))
    resource = world.resource(solution_version, "Trained")
    event = resource.event("Create", version_props(solution_arn))
    answer = resource.on_event(event)
    assert answer["PhysicalResourceId"].startswith(solution_arn + "/")
    with pytest.raises(HandlerError, match="its poller did not start: RuntimeError: AccessDenied"):
        resource.is_complete({**event, **answer})


# --- exact requests under botocore's Stubber -------------------------------------------------------

SOLUTION = "arn:aws:personalize:us-east-1:123456789012:solution/shop-ratings-0a1b2c3d"
VERSION = SOLUTION + "/4f3e2d1c"
NOW = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)


def test_stubbed_create_lists_then_trains(stubbed, lambda_context, monkeypatch):
    started = []
    monkeypatch.setattr(solution_version.poller, "start", lambda name, state: started.append((name, state)))
    stubbed.add_response("list_solution_versions", {"solutionVersions": []}, {"solutionArn": SOLUTION})
    stubbed.add_response("create_solution_version", {"solutionVersionArn": VERSION},
                         {"solutionArn": SOLUTION, "name": "shop-ratings-a1b2c3", "trainingMode": "FULL"})
    event = {"RequestType": "Create", "RequestId": "r-1", "LogicalResourceId": "Trained", "ResourceProperties": version_props(SOLUTION)}
    assert solution_version.on_event(event, lambda_context) == {"PhysicalResourceId": VERSION, "Data": {"SolutionVersionArn": VERSION}}
    [(_, state)] = started
    assert state["kind"] == "solution-version" and state["resourceArn"] == VERSION


def test_stubbed_poll_reads_metrics_once_active(stubbed, monkeypatch):
    sent = []
    monkeypatch.setattr(poller, "handle_url", lambda handle: "https://example/handle")
    monkeypatch.setattr(poller, "send_signal", lambda url, status, reason, unique_id, data="": sent.append((status, data)))
    stubbed.add_response("describe_solution_version", {"solutionVersion": {"solutionVersionArn": VERSION, "status": "ACTIVE"}},
                         {"solutionVersionArn": VERSION})
    stubbed.add_response("get_solution_metrics", {"solutionVersionArn": VERSION, "metrics": {"coverage": 0.31, "precision_at_25": 0.02}},
                         {"solutionVersionArn": VERSION})
    state = {"kind": "solution-version", "resourceArn": VERSION, "uniqueId": "Trained", "polls": 4, "startedAt": 0,
             "signalHandle": {"StackId": STACK, "LogicalResourceId": "H"}}
    monkeypatch.setattr(poller, "now", lambda: 60)
    result = solution_version.poll(state)
    assert result["finished"] and result["outcome"] == "SUCCESS"
    assert sent == [("SUCCESS", '{"coverage":0.31,"precision_at_25":0.02}')]


def test_stubbed_delete_stops_a_training(stubbed, lambda_context):
    stubbed.add_response("describe_solution_version", {"solutionVersion": {"solutionVersionArn": VERSION, "status": "CREATE IN_PROGRESS"}},
                         {"solutionVersionArn": VERSION})
    stubbed.add_response("stop_solution_version_creation", {}, {"solutionVersionArn": VERSION})
    event = {"RequestType": "Delete", "RequestId": "r-2", "LogicalResourceId": "Trained", "PhysicalResourceId": VERSION,
             "ResourceProperties": version_props(SOLUTION)}
    assert solution_version.on_event(event, lambda_context)["PhysicalResourceId"] == VERSION
