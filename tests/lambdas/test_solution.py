"""Solution custom resource: lifecycles against the stateful fake (harness/fake_solutions.py),
exact requests under botocore's Stubber, and API_OPERATIONS proven exact."""

from __future__ import annotations

import datetime as dt

import pytest

from lambdas.personalize_resources import solution
from lambdas.personalize_resources.errors import HandlerError, ResourceFailedError
from harness.provider import new_client
from harness.fake_solutions import FakeSolutions
from harness.handler_scenarios import Scenarios

USER_PERSONALIZATION = "arn:aws:personalize:::recipe/aws-user-personalization"
USER_PERSONALIZATION_V2 = "arn:aws:personalize:::recipe/aws-user-personalization-v2"
SIMS = "arn:aws:personalize:::recipe/aws-sims"


def props(world, *, name="shop-ratings", recipe=USER_PERSONALIZATION, threshold="3.5", auto="true",
          schedule="rate(3 days)", events=None, tags=None, group=None, hpo=None) -> dict:
    """Properties as CloudFormation sends them: every scalar a string."""
    config: dict = {}
    if threshold is not None:
        config["eventValueThreshold"] = threshold
    if schedule is not None:
        config["autoTrainingConfig"] = {"schedulingExpression": schedule}
    if events is not None:
        config["eventsConfig"] = {"eventParametersList": events}
    request = {"name": name, "datasetGroupArn": group or world.dataset_group_arn, "recipeArn": recipe,
               "eventType": "rating", "performAutoTraining": auto, "solutionConfig": config}
    if hpo is not None:
        request["performHPO"] = hpo
    if tags is not None:
        request["tags"] = tags
    return {"Request": request}


def typed(world, properties) -> dict:
    return solution.desired_solution(properties["Request"])


def arn_for(world, properties) -> str:
    return world.fake.arn("solution", solution.physical_name(typed(world, properties)))


def solutions_world_factory(world_factory):
    """Wraps ``world_factory`` so its worlds run FakeSolutions; keeps ``.recorder`` for the IAM
    proof. Module-level so a cross-handler contract test can run SCENARIOS the same way."""

    def make():
        world = world_factory()
        world.fake = FakeSolutions(region=world.fake.region, account=world.fake.account)
        world.client = world.fake.attach(new_client())  # core.create_client reads world.client lazily
        world.dataset_group_arn = world.fake.add_dataset_group("shop")
        invoke = world.invoke

        def checked_invoke(function, handler, event, **options):
            result = invoke(function, handler, event, **options)
            if function is solution.is_complete and not result["IsComplete"]:
                # The CDK Provider framework fails the resource on Data with IsComplete false.
                assert result == {"IsComplete": False}, result
            return result

        world.invoke = checked_invoke
        return world

    make.recorder = world_factory.recorder
    return make


@pytest.fixture
def solutions_world(world_factory):
    return solutions_world_factory(world_factory)


SCENARIOS = Scenarios()
scenario = SCENARIOS


# --- lifecycles (each also feeds the API_OPERATIONS exactness test) ---------------------------

@scenario
def create_types_the_request_and_waits_for_active(world):
    resource = world.resource(solution, "Ratings")
    properties = props(world, hpo="false")
    arn = resource.create(properties)
    name = arn.rsplit("/", 1)[1]
    assert arn == arn_for(world, properties) and name.startswith("shop-ratings-") and len(name) == len("shop-ratings-") + 8
    assert resource.data == {"SolutionArn": arn, "SolutionName": name}
    (request,) = world.fake.params_of("CreateSolution")
    assert request == {
        "name": name, "datasetGroupArn": world.dataset_group_arn, "recipeArn": USER_PERSONALIZATION,
        "eventType": "rating", "performAutoTraining": True, "performHPO": False,
        "solutionConfig": {"eventValueThreshold": "3.5", "autoTrainingConfig": {"schedulingExpression": "rate(3 days)"}},
    }
    assert world.fake.resources[arn].status == "ACTIVE"
    resource.delete()
    assert arn not in world.fake.resources


@scenario
def auto_training_changes_in_place(world):
    resource = world.resource(solution, "Ratings")
    arn = resource.create(props(world))
    assert resource.update(props(world, schedule="rate(14 days)")) == arn
    assert resource.update(props(world, auto="false", schedule=None)) == arn
    assert world.fake.params_of("UpdateSolution") == [
        {"solutionArn": arn, "performAutoTraining": True,
         "solutionUpdateConfig": {"autoTrainingConfig": {"schedulingExpression": "rate(14 days)"}}},
        {"solutionArn": arn, "performAutoTraining": False},
    ]
    live = world.fake.resources[arn].attributes
    assert live["performAutoTraining"] is False
    assert world.fake.updates[arn]["summary"]["status"] == "ACTIVE"
    # Back to the documented default (every 7 days) when the schedule leaves the config.
    resource.update(props(world, schedule=None))
    assert world.fake.params_of("UpdateSolution")[-1]["solutionUpdateConfig"] == {
        "autoTrainingConfig": {"schedulingExpression": "rate(7 days)"}}
    # Same properties again: nothing to do.
    before = world.fake.count("UpdateSolution")
    resource.update(props(world, schedule=None))
    assert world.fake.count("UpdateSolution") == before
    resource.delete()


@scenario
def events_config_changes_in_place(world):
    resource = world.resource(solution, "Weighted")
    first = [{"eventType": "rating", "eventValueThreshold": "3", "weight": "0.8"}]
    arn = resource.create(props(world, recipe=USER_PERSONALIZATION_V2, threshold=None, events=first))
    second = [{"eventType": "rating", "eventValueThreshold": "4", "weight": "0.6"}, {"eventType": "click", "weight": "0.2"}]
    assert resource.update(props(world, recipe=USER_PERSONALIZATION_V2, threshold=None, events=second)) == arn
    (update,) = world.fake.params_of("UpdateSolution")
    assert update["solutionUpdateConfig"]["eventsConfig"] == {"eventParametersList": [
        {"eventType": "rating", "eventValueThreshold": 4.0, "weight": 0.6}, {"eventType": "click", "weight": 0.2}]}
    resource.delete()


@scenario
def create_only_change_replaces_and_cleans_up(world):
    resource = world.resource(solution, "Ratings")
    old_arn = resource.create(props(world))
    new_arn = resource.update(props(world, threshold="4.5"))
    assert new_arn != old_arn and new_arn == arn_for(world, props(world, threshold="4.5"))
    assert old_arn not in world.fake.resources, "CloudFormation's clean-up Delete removed the old solution"
    assert world.fake.resources[new_arn].attributes["solutionConfig"]["eventValueThreshold"] == "4.5"
    assert world.fake.count("UpdateSolution") == 0
    resource.delete()


@scenario
def tags_change_in_place(world):
    resource = world.resource(solution, "Ratings")
    arn = resource.create(props(world, tags=[{"tagKey": "team", "tagValue": "growth"}, {"tagKey": "env", "tagValue": "dev"}]))
    assert resource.update(props(world, tags=[{"tagKey": "team", "tagValue": "search"}])) == arn
    assert world.fake.tags[arn] == {"team": "search"}
    resource.delete()


@scenario
def delete_stops_training_in_progress_first(world):
    resource = world.resource(solution, "Ratings")
    arn = resource.create(props(world))
    pending = world.fake.start_training(arn, polls=50)
    running = world.fake.start_training(arn, polls=50)
    world.fake.observe(running)  # CREATE IN_PROGRESS
    resource.delete()
    stopped = [call["solutionVersionArn"] for call in world.fake.params_of("StopSolutionVersionCreation")]
    assert sorted(stopped) == sorted([pending, running])
    assert arn not in world.fake.resources
    assert world.fake.count("DeleteSolution") >= 1


@scenario
def busy_update_is_retried_by_is_complete(world):
    resource = world.resource(solution, "Ratings")
    arn = resource.create(props(world))
    world.fake.inject_error("UpdateSolution", "ResourceInUseException", times=2, message="solution is busy")
    assert resource.update(props(world, schedule="rate(1 day)")) == arn
    assert world.fake.count("UpdateSolution") == 3
    assert world.fake.updates[arn]["summary"]["solutionUpdateConfig"] == {
        "autoTrainingConfig": {"schedulingExpression": "rate(1 day)"}}
    resource.delete()


@scenario
def deleting_what_is_gone_is_done(world):
    resource = world.resource(solution, "Ratings")
    arn = resource.create(props(world))
    world.fake.begin_delete(world.fake.resources[arn])  # deleted out of band
    resource.delete()
    assert arn not in world.fake.resources
    placeholder = world.resource(solution, "Never")
    placeholder.send(placeholder.event("Delete", props(world), physical_id="5f1c2a7e-request-id"))


@scenario
def rollback_of_an_unrecorded_replacement_deletes_it(world):
    # An update replacing the solution was cancelled (another resource failed) before it
    # answered: CloudFormation never learnt the new physical id and rolls back new → old to the
    # old one. The replacement, named after OldResourceProperties, must not stay behind.
    resource = world.resource(solution, "Ratings")
    old_arn = resource.create(props(world))
    new_props = props(world, threshold="4.5")
    replacement = resource.on_event(resource.event("Update", new_props, old=props(world)))["PhysicalResourceId"]
    assert replacement != old_arn and replacement in world.fake.resources
    physical_id, _ = resource.send(resource.event("Update", props(world), old=new_props, physical_id=old_arn))
    assert physical_id == old_arn and old_arn in world.fake.resources
    assert replacement not in world.fake.resources
    # A plain in-place update afterwards deletes nothing.
    deletes = world.fake.count("DeleteSolution")
    assert resource.update(props(world, schedule="rate(1 day)")) == old_arn
    assert world.fake.count("DeleteSolution") == deletes
    resource.delete()


@scenario
def delete_after_cancelled_create_finds_the_solution_by_name(world):
    # Another resource failed while this Create waited: CloudFormation cancelled it and sends the
    # Delete with a physical id it made up. The solution (automatic training on) must still go,
    # its trainings stopped first; a same-named solution of another group is not touched.
    resource = world.resource(solution, "Ratings")
    arn = resource.on_event(resource.event("Create", props(world)))["PhysicalResourceId"]
    training = world.fake.start_training(arn, polls=50)
    made_up = "stack-SolutionsratingsSolution-1A2B3C4D5E6F7"
    other_group = props(world, group=world.fake.add_dataset_group("other"))
    resource.send(resource.event("Delete", other_group, physical_id=made_up))
    assert arn in world.fake.resources and world.fake.count("DeleteSolution") == 0
    physical_id, _ = resource.send(resource.event("Delete", props(world), physical_id=made_up))
    assert physical_id == made_up
    assert [call["solutionVersionArn"] for call in world.fake.params_of("StopSolutionVersionCreation")] == [training]
    assert arn not in world.fake.resources


@scenario
def retried_create_adopts_its_solution_but_not_a_stranger(world):
    resource = world.resource(solution, "Ratings")
    event = resource.event("Create", props(world))
    first = resource.on_event(event)
    assert resource.on_event(event) == first
    assert world.fake.count("CreateSolution") == 2
    other_group = world.fake.add_dataset_group("other")
    world.fake.resources[first["PhysicalResourceId"]].attributes["datasetGroupArn"] = other_group
    with pytest.raises(HandlerError, match="already exists with datasetGroupArn"):
        resource.on_event(event)


@scenario
def training_that_outlives_the_first_stop_is_stopped_by_is_complete(world):
    """The stop on_event asks for is refused (the version is busy): DeleteSolution is refused
    while it trains, so is_complete stops it before deleting."""
    resource = world.resource(solution, "Ratings")
    arn = resource.create(props(world))
    running = world.fake.start_training(arn, polls=50)
    world.fake.observe(running)
    world.fake.inject_error("StopSolutionVersionCreation", "ResourceInUseException", times=1, message="busy")
    resource.delete()
    assert world.fake.count("StopSolutionVersionCreation") >= 2
    assert arn not in world.fake.resources


def test_operations_are_exactly_api_operations(solutions_world):
    SCENARIOS.assert_operations_exact(solutions_world, solution)


@pytest.mark.parametrize("lifecycle", SCENARIOS, ids=lambda function: function.__name__)
def test_lifecycle(solutions_world, lifecycle):
    lifecycle(solutions_world())


# --- failures and refusals -----------------------------------------------------------------------

def test_failed_creation_surfaces_the_reason_and_rollback_deletes_it(solutions_world):
    world = solutions_world()
    world.fake.fail_next_creation("solution", "Invalid recipe configuration")
    resource = world.resource(solution, "Ratings")
    # botocore's Solution shape has no failureReason: the status is all Personalize tells.
    with pytest.raises(ResourceFailedError, match="is CREATE FAILED: no failureReason given"):
        resource.create(props(world))
    arn = arn_for(world, props(world))
    # The framework answered FAILED with the ARN on_event returned; the rollback deletes it.
    resource.send(resource.event("Delete", props(world), physical_id=arn))
    assert arn not in world.fake.resources


def test_failed_update_surfaces_the_reason(solutions_world):
    world = solutions_world()
    resource = world.resource(solution, "Ratings")
    resource.create(props(world))
    world.fake.fail_next_update("schedulingExpression out of range")
    with pytest.raises(ResourceFailedError, match="update is CREATE FAILED: schedulingExpression out of range"):
        resource.update(props(world, schedule="rate(2 days)"))


def test_dataset_group_change_under_the_same_name_is_refused(solutions_world):
    world = solutions_world()
    resource = world.resource(solution, "Ratings")
    resource.create(props(world))
    new_group = world.fake.add_dataset_group("shop-v2")
    with pytest.raises(HandlerError, match="Give the solution a new name"):
        resource.update(props(world, group=new_group))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda request: request.pop("recipeArn"), r"Request\.recipeArn required"),
        (lambda request: request.update(name="n" * 55), "at most 54"),
        (lambda request: request.update(performAutoTraining="maybe"), "expected true or false"),
    ],
)
def test_bad_properties_fail_before_any_call(solutions_world, mutate, message):
    world = solutions_world()
    properties = props(world)
    mutate(properties["Request"])
    resource = world.resource(solution, "Ratings")
    with pytest.raises(HandlerError, match=message):
        resource.on_event(resource.event("Create", properties))
    assert world.fake.calls == []


def test_physical_name_ignores_in_place_settings_and_is_stable():
    base = {"name": "shop-ratings", "datasetGroupArn": "g", "recipeArn": SIMS, "solutionConfig": {}}
    name = solution.physical_name(base)
    assert name == solution.physical_name({**base, "datasetGroupArn": "other", "performAutoTraining": False,
                                           "tags": [{"tagKey": "a", "tagValue": "b"}],
                                           "solutionConfig": {"autoTrainingConfig": {"schedulingExpression": "rate(2 days)"}}})
    assert name != solution.physical_name({**base, "eventType": "click"})
    assert name != solution.physical_name({**base, "solutionConfig": {"eventsConfig": {"eventParametersList": []}}})
    assert name == "shop-ratings-" + solution.physical_name(base).rsplit("-", 1)[1]
    assert len(solution.physical_name({**base, "name": "n" * solution.BASE_NAME_MAX})) == solution.NAME_MAX


# --- exact requests under botocore's Stubber ------------------------------------------------------

GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"
REQUEST = {"name": "shop-sims", "datasetGroupArn": GROUP, "recipeArn": SIMS, "performAutoTraining": "false"}
NAME = solution.physical_name(solution.desired_solution(REQUEST))
ARN = f"arn:aws:personalize:us-east-1:123456789012:solution/{NAME}"
VERSION_ARN = f"{ARN}/4a2b9c1d"
WHEN = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def stub_event(request_type, request=REQUEST, **extra):
    return {"RequestType": request_type, "RequestId": "r-1", "LogicalResourceId": "Sims",
            "ResourceProperties": {"ServiceToken": "t", "Request": request}, **extra}


def described(status="ACTIVE", latest=None):
    body = {"name": NAME, "solutionArn": ARN, "datasetGroupArn": GROUP, "recipeArn": SIMS, "status": status,
            "performAutoTraining": False, "creationDateTime": WHEN, "lastUpdatedDateTime": WHEN}
    if latest is not None:
        body["latestSolutionUpdate"] = latest
    return {"solution": body}


def test_stubbed_create_sends_exact_request(stubbed, lambda_context):
    stubbed.add_response("create_solution", {"solutionArn": ARN},
                         {"name": NAME, "datasetGroupArn": GROUP, "recipeArn": SIMS, "performAutoTraining": False})
    assert solution.on_event(stub_event("Create"), lambda_context) == {"PhysicalResourceId": ARN, "Data": {"SolutionArn": ARN}}
    stubbed.add_response("describe_solution", described("CREATE IN_PROGRESS"), {"solutionArn": ARN})
    stubbed.add_response("describe_solution", described(), {"solutionArn": ARN})
    event = stub_event("Create", PhysicalResourceId=ARN)
    assert solution.is_complete(event, lambda_context) == {"IsComplete": False}
    assert solution.is_complete(event, lambda_context) == {"IsComplete": True, "Data": {"SolutionArn": ARN, "SolutionName": NAME}}


def test_stubbed_update_sends_exact_request_and_waits_for_the_update(stubbed, lambda_context):
    new = {**REQUEST, "performAutoTraining": "true", "solutionConfig": {"autoTrainingConfig": {"schedulingExpression": "rate(5 days)"}}}
    wanted = {"performAutoTraining": True, "solutionUpdateConfig": {"autoTrainingConfig": {"schedulingExpression": "rate(5 days)"}}}
    stubbed.add_response("update_solution", {"solutionArn": ARN}, {"solutionArn": ARN, **wanted})
    event = stub_event("Update", new, PhysicalResourceId=ARN,
                       OldResourceProperties={"ServiceToken": "t", "Request": REQUEST})
    assert solution.on_event(event, lambda_context) == {"PhysicalResourceId": ARN, "Data": {"SolutionArn": ARN}}
    summary = {**wanted, "creationDateTime": WHEN, "lastUpdatedDateTime": WHEN}
    stubbed.add_response("describe_solution", described(latest={**summary, "status": "CREATE IN_PROGRESS"}), {"solutionArn": ARN})
    stubbed.add_response("describe_solution", described(latest={**summary, "status": "ACTIVE"}), {"solutionArn": ARN})
    assert solution.is_complete(event, lambda_context) == {"IsComplete": False}
    assert solution.is_complete(event, lambda_context)["IsComplete"] is True


def test_stubbed_delete_stops_training_then_deletes(stubbed, lambda_context):
    training = {"solutionVersionArn": VERSION_ARN, "status": "CREATE IN_PROGRESS", "creationDateTime": WHEN,
                "lastUpdatedDateTime": WHEN}
    stubbed.add_response("list_solution_versions", {"solutionVersions": [training]}, {"solutionArn": ARN})
    stubbed.add_response("stop_solution_version_creation", {}, {"solutionVersionArn": VERSION_ARN})
    stubbed.add_client_error("delete_solution", "ResourceInUseException", expected_params={"solutionArn": ARN})
    event = stub_event("Delete", PhysicalResourceId=ARN)
    assert solution.on_event(event, lambda_context) == {"PhysicalResourceId": ARN, "Data": {"SolutionArn": ARN}}
    stubbed.add_response("describe_solution", described(), {"solutionArn": ARN})
    stubbed.add_response("list_solution_versions", {"solutionVersions": [{**training, "status": "CREATE STOPPED"}]},
                         {"solutionArn": ARN})
    stubbed.add_response("delete_solution", {}, {"solutionArn": ARN})
    stubbed.add_client_error("describe_solution", "ResourceNotFoundException", expected_params={"solutionArn": ARN})
    assert solution.is_complete(event, lambda_context) == {"IsComplete": False}
    assert solution.is_complete(event, lambda_context) == {"IsComplete": True, "Data": {}}
