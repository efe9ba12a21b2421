"""Metric attribution custom resource: lifecycles against the stateful fake, exact
requests under botocore's Stubber, and API_OPERATIONS proven exact."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError

from lambdas.personalize_resources import metric_attribution
from lambdas.personalize_resources.errors import HandlerError, ResourceFailedError
from harness.fake_personalize import FakeError
from harness.handler_scenarios import Scenarios

ROLE = "arn:aws:iam::123456789012:role/personalize-metrics"
OTHER_ROLE = "arn:aws:iam::123456789012:role/personalize-metrics-2"
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VIEWS = {"eventType": "View", "metricName": "countViews", "expression": "SAMPLECOUNT()"}
MARGIN = {"eventType": "Purchase", "metricName": "sumMargin", "expression": "SUM(ITEMS.MARGIN)"}
CARTS = {"eventType": "AddToCart", "metricName": "countCarts", "expression": "SAMPLECOUNT()"}


def attribution(world, *, name="shop-metrics", group=None, metrics=(VIEWS, MARGIN), output=None) -> dict:
    return {
        "Request": {
            "name": name,
            "datasetGroupArn": group or world.dataset_group_arn,
            "metrics": [dict(metric) for metric in metrics],
            "metricsOutputConfig": output
            or {"roleArn": ROLE, "s3DataDestination": {"path": "s3://bucket/attribution/"}},
        }
    }


def arn_of(world, name="shop-metrics") -> str:
    return world.fake.arn("metric-attribution", name)


def live_metrics(world, arn) -> list[dict]:
    return world.fake.resources[arn].attributes["metrics"]


SCENARIOS = Scenarios()
scenario = SCENARIOS


# --- lifecycles (each also feeds the API_OPERATIONS exactness test) -------------------


@scenario
def full_lifecycle_in_place(world):
    resource = world.resource(metric_attribution)
    arn = resource.create(attribution(world))
    assert arn == "arn:aws:personalize:us-east-1:123456789012:metric-attribution/shop-metrics"
    assert resource.data == {"MetricAttributionArn": arn}
    assert world.fake.resources[arn].status == "ACTIVE"
    assert live_metrics(world, arn) == [VIEWS, MARGIN]
    assert world.fake.count("CreateMetricAttribution") == 1
    assert world.fake.count("UpdateMetricAttribution") == 0

    def updates_for(properties):
        before = len(world.fake.params_of("UpdateMetricAttribution"))
        assert resource.update(properties) == arn, "updated in place, same physical id"
        assert world.fake.resources[arn].status == "ACTIVE"
        return [
            {key: value for key, value in params.items() if key != "metricAttributionArn"}
            for params in world.fake.params_of("UpdateMetricAttribution")[before:]
        ]

    assert updates_for(attribution(world, metrics=(VIEWS, MARGIN, CARTS))) == [{"addMetrics": [CARTS]}]
    assert live_metrics(world, arn) == [VIEWS, MARGIN, CARTS]

    assert updates_for(attribution(world, metrics=(VIEWS, MARGIN))) == [{"removeMetrics": ["countCarts"]}]
    assert live_metrics(world, arn) == [VIEWS, MARGIN]

    new_margin = {**MARGIN, "expression": "SUM(INTERACTIONS.EVENT_VALUE)"}
    assert updates_for(attribution(world, metrics=(VIEWS, new_margin))) == [
        {"removeMetrics": ["sumMargin"]},
        {"addMetrics": [new_margin]},
    ]
    assert live_metrics(world, arn) == [VIEWS, new_margin]

    new_output = {"roleArn": OTHER_ROLE, "s3DataDestination": {"path": "s3://bucket/reports/", "kmsKeyArn": KMS}}
    assert updates_for(attribution(world, metrics=(VIEWS, new_margin), output=new_output)) == [
        {"metricsOutputConfig": new_output}
    ]
    assert world.fake.resources[arn].attributes["metricsOutputConfig"] == new_output

    # Same properties again: nothing to do.
    assert updates_for(attribution(world, metrics=(VIEWS, new_margin), output=new_output)) == []

    resource.delete()
    assert arn not in world.fake.resources
    assert world.fake.count("DeleteMetricAttribution") == 1


@scenario
def event_type_change_is_remove_then_add(world):
    resource = world.resource(metric_attribution)
    arn = resource.create(attribution(world))
    changed = {**VIEWS, "eventType": "Click"}
    resource.update(attribution(world, metrics=(changed, MARGIN)))
    steps = world.fake.params_of("UpdateMetricAttribution")
    assert [sorted(step) for step in steps] == [
        ["metricAttributionArn", "removeMetrics"],
        ["addMetrics", "metricAttributionArn"],
    ]
    assert sorted(live_metrics(world, arn), key=lambda m: m["metricName"]) == [changed, MARGIN]


@scenario
def replacing_all_ten_metrics_stays_within_limits(world):
    def metrics(prefix):
        return [{"eventType": "View", "metricName": f"{prefix}{i}", "expression": "SAMPLECOUNT()"} for i in range(10)]

    resource = world.resource(metric_attribution)
    arn = resource.create(attribution(world, metrics=metrics("old")))
    resource.update(attribution(world, metrics=metrics("new")))
    steps = world.fake.params_of("UpdateMetricAttribution")
    assert len(steps) == 2 and len(steps[0]["removeMetrics"]) == 10 and len(steps[1]["addMetrics"]) == 10
    assert live_metrics(world, arn) == metrics("new")


@scenario
def cosmetic_differences_do_not_loop(world):
    resource = world.resource(metric_attribution)
    resource.create(attribution(world))
    # Expression spacing/case, metric-name case and a trailing slash are the same
    # thing to Personalize and CloudWatch: no update, so no endless reconcile.
    resource.update(
        attribution(
            world,
            metrics=({**VIEWS, "metricName": "COUNTVIEWS", "expression": "samplecount( )"}, MARGIN),
            output={"roleArn": ROLE, "s3DataDestination": {"path": "s3://bucket/attribution"}},
        )
    )
    assert world.fake.count("UpdateMetricAttribution") == 0


@scenario
def dataset_group_change_replaces(world):
    resource = world.resource(metric_attribution)
    old_arn = resource.create(attribution(world))
    new_group = world.fake.add_dataset_group("shop-v2")
    new_arn = resource.update(attribution(world, name="shop-v2-metrics", group=new_group))
    assert new_arn == arn_of(world, "shop-v2-metrics") != old_arn
    assert resource.data == {"MetricAttributionArn": new_arn}
    assert world.fake.resources[new_arn].attributes["datasetGroupArn"] == new_group
    assert old_arn not in world.fake.resources, "CloudFormation's clean-up Delete removed the old one"


@scenario
def throttling_is_retried_without_real_sleep(world):
    world.fake.throttle("CreateMetricAttribution", times=2)
    world.fake.throttle("DescribeMetricAttribution", times=2, code="TooManyRequestsException")
    world.fake.throttle("ListMetricAttributionMetrics", times=1, code="ThrottledException")
    resource = world.resource(metric_attribution)
    arn = resource.create(attribution(world))
    assert world.fake.resources[arn].status == "ACTIVE"
    assert world.fake.count("CreateMetricAttribution") == 3
    assert len(world.sleeps) == 5 and all(0 <= delay <= 8 for delay in world.sleeps)


@scenario
def create_failed_reports_reason_then_rollback_deletes(world):
    world.fake.fail_next_creation("metric-attribution", "Role cannot be assumed by Personalize")
    resource = world.resource(metric_attribution)
    event = resource.event("Create", attribution(world))
    with pytest.raises(ResourceFailedError, match="CREATE FAILED: Role cannot be assumed by Personalize"):
        resource.send(event)
    # CloudFormation rolls the failed create back with a Delete of the ARN.
    arn = arn_of(world)
    resource.send(resource.event("Delete", attribution(world), physical_id=arn))
    assert arn not in world.fake.resources


@scenario
def retried_create_adopts_instead_of_duplicating(world):
    resource = world.resource(metric_attribution)
    event = resource.event("Create", attribution(world))
    first = resource.on_event(event)
    second = resource.on_event(event)
    assert first == second
    assert resource.send(event)[0] == first["PhysicalResourceId"]
    assert world.fake.count("CreateMetricAttribution") == 1


@scenario
def retried_update_is_idempotent(world):
    resource = world.resource(metric_attribution)
    resource.create(attribution(world))
    event = resource.event("Update", attribution(world, metrics=(VIEWS, CARTS)), old=resource.properties)
    resource.on_event(event)
    resource.send(event)
    resource.send(event)
    assert sorted(world.fake.params_of("UpdateMetricAttribution"), key=str) == sorted(
        [
            {"metricAttributionArn": arn_of(world), "removeMetrics": ["sumMargin"]},
            {"metricAttributionArn": arn_of(world), "addMetrics": [CARTS]},
        ],
        key=str,
    )


@scenario
def delete_with_a_non_arn_id_and_nothing_of_that_name(world):
    resource = world.resource(metric_attribution)
    for physical_id in (
        "pimpact-default-personalize-CustomMetricAttribution-1A2B3C4D5E6F7",  # made up by CloudFormation
        "arn:aws:s3:::not-personalize",
        "arn:aws:personalize:us-east-1:123456789012:recommender/not-an-attribution",
    ):
        resource.send(resource.event("Delete", attribution(world), physical_id=physical_id))
    # Looked for by name, found nothing: nothing deleted.
    assert world.fake.operations() == {"DescribeMetricAttribution"}


@scenario
def delete_after_cancelled_create_finds_the_attribution_by_name(world):
    # Another resource failed while this Create waited: CloudFormation cancelled it and sends the
    # Delete with a physical id it made up; the attribution the Create made must still go.
    resource = world.resource(metric_attribution)
    created = resource.on_event(resource.event("Create", attribution(world)))
    arn = created["PhysicalResourceId"]
    assert arn in world.fake.resources
    made_up = "pimpact-default-personalize-CustomMetricAttribution-1A2B3C4D5E6F7"
    physical_id, _ = resource.send(resource.event("Delete", attribution(world), physical_id=made_up))
    assert physical_id == made_up, "the framework refuses another physical id on Delete"
    assert arn not in world.fake.resources
    # The cancelled Create's waiter still runs: it must not recreate what the rollback deleted.
    with pytest.raises(HandlerError, match="does not exist any more"):
        resource.is_complete({**resource.event("Create", attribution(world)), **created})
    assert arn not in world.fake.resources


@scenario
def delete_by_name_spares_an_attribution_of_another_group(world):
    # Same name, another dataset group: not what this stack's Create made.
    other_group = world.fake.arn("dataset-group", "other")
    world.fake.dataset_groups.add(other_group)
    world.fake.add_resource(arn_of(world), "metric-attribution", {"name": "shop-metrics", "datasetGroupArn": other_group,
                                                                    "metricAttributionArn": arn_of(world), "metrics": []})
    resource = world.resource(metric_attribution)
    resource.send(resource.event("Delete", attribution(world), physical_id="stack-CustomMetricAttribution-1A2B3C4D5E6F7"))
    assert arn_of(world) in world.fake.resources
    assert world.fake.count("DeleteMetricAttribution") == 0


@scenario
def delete_of_something_already_gone(world):
    resource = world.resource(metric_attribution)
    arn = resource.create(attribution(world))
    event = resource.event("Delete", resource.properties)
    resource.send(event)
    resource.send(event)  # retried Delete
    assert arn not in world.fake.resources
    # The retry's delete met ResourceNotFoundException, which counts as done.
    assert world.fake.count("DeleteMetricAttribution") == 2


@scenario
def delete_waits_while_in_use(world):
    resource = world.resource(metric_attribution)
    event = resource.event("Create", attribution(world))
    arn = resource.on_event(event)["PhysicalResourceId"]  # still CREATE PENDING
    world.fake.inject_error("DeleteMetricAttribution", "ResourceInUseException", times=2)
    resource.send(resource.event("Delete", attribution(world), physical_id=arn))
    assert arn not in world.fake.resources


@scenario
def create_recreates_after_previous_deletion_finishes(world):
    first = world.resource(metric_attribution, "First")
    arn = first.create(attribution(world))
    first.on_event(first.event("Delete", first.properties))  # deletion under way, not finished
    assert world.fake.resources[arn].status == "DELETE PENDING"
    second = world.resource(metric_attribution, "Second")
    assert second.create(attribution(world)) == arn
    assert world.fake.resources[arn].status == "ACTIVE"
    assert world.fake.count("CreateMetricAttribution") == 2


@scenario
def drift_is_repaired_on_update(world):
    resource = world.resource(metric_attribution)
    arn = resource.create(attribution(world))
    del world.fake.resources[arn]  # deleted out of band
    assert resource.update(attribution(world, metrics=(VIEWS,))) == arn
    assert live_metrics(world, arn) == [VIEWS]


@scenario
def paginated_metrics_are_all_compared(world):
    world.fake.page_size = 1
    resource = world.resource(metric_attribution)
    arn = resource.create(attribution(world, metrics=(VIEWS, MARGIN, CARTS)))
    resource.update(attribution(world, metrics=(VIEWS, MARGIN)))
    assert world.fake.params_of("UpdateMetricAttribution") == [
        {"metricAttributionArn": arn, "removeMetrics": ["countCarts"]}
    ]


@pytest.mark.parametrize("lifecycle", SCENARIOS, ids=lambda function: function.__name__)
def test_lifecycle(world, lifecycle):
    lifecycle(world)


def test_api_operations_are_exactly_those_the_lifecycles_call(world_factory):
    SCENARIOS.assert_operations_exact(world_factory, metric_attribution)


def test_create_race_lost_to_a_retry_is_adopted(world):
    create = world.fake.create_metric_attribution

    def racing_create(params):
        create(params)  # a concurrent retry of the same event got there first
        raise FakeError("ResourceAlreadyExistsException", "exists")

    world.fake.register("CreateMetricAttribution", racing_create)
    arn = world.resource(metric_attribution).create(attribution(world))
    assert world.fake.resources[arn].status == "ACTIVE"


# --- failures with clear messages -------------------------------------------------------


def test_throttling_gives_up_after_bounded_attempts(world):
    world.fake.throttle("CreateMetricAttribution", times=6)
    resource = world.resource(metric_attribution)
    with pytest.raises(ClientError, match="ThrottlingException"):
        resource.on_event(resource.event("Create", attribution(world)))
    assert world.fake.count("CreateMetricAttribution") == 6
    assert len(world.sleeps) == 5


@pytest.mark.parametrize("code", ["LimitExceededException", "ResourceAlreadyExistsException"])
def test_second_attribution_in_a_group_is_explained_not_retried(world, code):
    world.fake.one_attribution_per_group_error = code
    world.resource(metric_attribution, "Other").create(attribution(world, name="someone-elses"))
    resource = world.resource(metric_attribution)
    with pytest.raises(HandlerError, match=rf"already has one \(one per dataset group\).*{code}"):
        resource.on_event(resource.event("Create", attribution(world)))
    assert world.sleeps == []


def test_name_taken_in_another_dataset_group(world):
    other_group = world.fake.add_dataset_group("elsewhere")
    world.resource(metric_attribution, "Other").create(attribution(world, group=other_group))
    resource = world.resource(metric_attribution)
    with pytest.raises(HandlerError, match=r"already exists in dataset group .*dataset-group/elsewhere"):
        resource.on_event(resource.event("Create", attribution(world)))


def test_rename_in_same_dataset_group_is_refused(world):
    resource = world.resource(metric_attribution)
    resource.create(attribution(world))
    with pytest.raises(HandlerError, match="cannot be renamed"):
        resource.update(attribution(world, name="renamed"))


def test_dataset_group_change_under_same_name_is_refused(world):
    resource = world.resource(metric_attribution)
    resource.create(attribution(world))
    new_group = world.fake.add_dataset_group("shop-v2")
    with pytest.raises(HandlerError, match="Give the attribution a new name"):
        resource.update(attribution(world, group=new_group))


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ([], "1 to 10 metrics, got 0"),
        ([{**VIEWS, "metricName": f"m{i}"} for i in range(11)], "1 to 10 metrics, got 11"),
        ([VIEWS, {**MARGIN, "metricName": "COUNTVIEWS"}], "repeated: COUNTVIEWS"),
        (
            [VIEWS, {"eventType": "Purchase", "metricName": "sumMargin"}],
            r"Request\.metrics\[1\]\.expression is required",
        ),
    ],
)
def test_invalid_metrics_fail_before_any_call(world, metrics, message):
    resource = world.resource(metric_attribution)
    with pytest.raises(HandlerError, match=message):
        resource.on_event(resource.event("Create", attribution(world, metrics=metrics)))
    assert world.fake.calls == []


def test_missing_property_is_named(world):
    resource = world.resource(metric_attribution)
    properties = attribution(world)
    del properties["Request"]["metricsOutputConfig"]
    with pytest.raises(HandlerError, match=r"Request\.metricsOutputConfig is required"):
        resource.on_event(resource.event("Create", properties))


def test_fake_refuses_remove_and_add_of_one_name_in_one_call(world):
    # Pins the fake's conservative stance that the handler is designed around.
    world.resource(metric_attribution).create(attribution(world))
    with pytest.raises(ClientError, match="removed and added in one update"):
        world.client.update_metric_attribution(
            metricAttributionArn=arn_of(world), removeMetrics=["countViews"], addMetrics=[VIEWS]
        )


# --- exact requests under botocore's Stubber ------------------------------------------------

ARN = "arn:aws:personalize:us-east-1:123456789012:metric-attribution/shop-metrics"
GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"
OUTPUT = {"roleArn": ROLE, "s3DataDestination": {"path": "s3://bucket/attribution/"}}
CREATE_PROPERTIES = {
    "Request": {
        "name": "shop-metrics",
        "datasetGroupArn": GROUP,
        "metrics": [VIEWS, MARGIN],
        "metricsOutputConfig": OUTPUT,
    }
}


def stub_event(request_type, properties=CREATE_PROPERTIES, **extra):
    return {
        "RequestType": request_type,
        "RequestId": "r-1",
        "LogicalResourceId": "Attribution",
        "ResourceProperties": {"ServiceToken": "t", **properties},
        **extra,
    }


def described(status="ACTIVE", metrics_output=OUTPUT):
    when = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return {
        "metricAttribution": {
            "name": "shop-metrics",
            "metricAttributionArn": ARN,
            "datasetGroupArn": GROUP,
            "metricsOutputConfig": metrics_output,
            "status": status,
            "creationDateTime": when,
            "lastUpdatedDateTime": when,
        }
    }


def test_stubbed_create_sends_exact_request(stubbed, lambda_context):
    stubbed.add_client_error(
        "describe_metric_attribution", "ResourceNotFoundException", expected_params={"metricAttributionArn": ARN}
    )
    stubbed.add_response(
        "create_metric_attribution",
        {"metricAttributionArn": ARN},
        {"name": "shop-metrics", "datasetGroupArn": GROUP, "metrics": [VIEWS, MARGIN], "metricsOutputConfig": OUTPUT},
    )
    result = metric_attribution.on_event(stub_event("Create"), lambda_context)
    assert result == {"PhysicalResourceId": ARN, "Data": {"MetricAttributionArn": ARN}}


def test_stubbed_update_step_sends_exact_request(stubbed, lambda_context):
    stubbed.add_response("describe_metric_attribution", described(), {"metricAttributionArn": ARN})
    stubbed.add_response(
        "list_metric_attribution_metrics", {"metrics": [VIEWS, MARGIN, CARTS]}, {"metricAttributionArn": ARN}
    )
    stubbed.add_response(
        "update_metric_attribution",
        {"metricAttributionArn": ARN},
        {"metricAttributionArn": ARN, "removeMetrics": ["countCarts"]},
    )
    event = stub_event("Update", PhysicalResourceId=ARN, OldResourceProperties=CREATE_PROPERTIES)
    assert metric_attribution.is_complete(event, lambda_context) == {"IsComplete": False}


def test_stubbed_delete_sends_exact_request(stubbed, lambda_context):
    stubbed.add_response("delete_metric_attribution", {}, {"metricAttributionArn": ARN})
    stubbed.add_response("describe_metric_attribution", described("DELETE PENDING"), {"metricAttributionArn": ARN})
    stubbed.add_client_error(
        "describe_metric_attribution", "ResourceNotFoundException", expected_params={"metricAttributionArn": ARN}
    )
    event = stub_event("Delete", PhysicalResourceId=ARN)
    assert metric_attribution.on_event(event, lambda_context)["PhysicalResourceId"] == ARN
    assert metric_attribution.is_complete(event, lambda_context)["IsComplete"] is False
    assert metric_attribution.is_complete(event, lambda_context)["IsComplete"] is True
