"""The handlers' shared modules: ARNs, coercion, throttling, deletes, statuses, dispatch."""

from __future__ import annotations

import json
import logging
import types

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdas.personalize_resources import account, action_log, coercion, core, lifecycle, metric_attribution
from lambdas.personalize_resources.account import AccountContext
from lambdas.personalize_resources.address_book import is_personalize_arn
from lambdas.personalize_resources.core import PersonalizeApi
from lambdas.personalize_resources.errors import HandlerError, OperationNotDeclaredError, ResourceFailedError
from harness.fake_personalize import FakePersonalize, operation

ALL_ATTRIBUTION_OPERATIONS = (
    "CreateMetricAttribution",
    "DescribeMetricAttribution",
    "ListMetricAttributionMetrics",
    "UpdateMetricAttribution",
    "DeleteMetricAttribution",
)
ROLE = "arn:aws:iam::123456789012:role/personalize-metrics"


def context_for(function_arn):
    return types.SimpleNamespace(invoked_function_arn=function_arn)


# --- ARNs ------------------------------------------------------------------------------


def test_account_context_comes_from_the_function_arn():
    context = context_for("arn:aws-cn:lambda:cn-north-1:111122223333:function:handler:live")
    assert account.account_context(context) == AccountContext("aws-cn", "cn-north-1", "111122223333")


@pytest.mark.parametrize("function_arn", [None, "", "not-an-arn", "arn:aws:s3:::bucket"])
def test_account_context_rejects_other_values(function_arn):
    with pytest.raises(HandlerError, match="cannot read partition/region/account"):
        account.account_context(context_for(function_arn))


def test_personalize_arn_is_deterministic(lambda_context):
    assert (
        account.personalize_arn(lambda_context, "recommender", "shop-rfy")
        == "arn:aws:personalize:us-east-1:123456789012:recommender/shop-rfy"
    )
    gov = context_for("arn:aws-us-gov:lambda:us-gov-west-1:111122223333:function:f")
    assert (
        account.personalize_arn(gov, "dataset-import-job", "job-1")
        == "arn:aws-us-gov:personalize:us-gov-west-1:111122223333:dataset-import-job/job-1"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("arn:aws:personalize:us-east-1:123456789012:metric-attribution/shop", True),
        ("arn:aws:personalize:us-east-1:123456789012:recommender/shop", False),
        ("arn:aws:personalize:us-east-1:123456789012:metric-attribution/", False),
        ("2f1e3c4d-request-id", False),
        ("", False),
        (None, False),
    ],
)
def test_is_personalize_arn(value, expected):
    assert is_personalize_arn(value, "metric-attribution") is expected


# --- coerce ------------------------------------------------------------------------------


def test_coerce_walks_nested_shapes():
    request = {
        "name": "shop",
        "datasetGroupArn": "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop",
        "performHPO": "true",
        "performAutoML": "FALSE",
        "solutionConfig": {
            "hpoConfig": {
                "algorithmHyperParameterRanges": {
                    "integerHyperParameterRanges": [{"name": "bptt", "minValue": "2", "maxValue": "32"}],
                    "continuousHyperParameterRanges": [{"name": "lambda", "minValue": "0.5", "maxValue": "1e2"}],
                }
            },
            "algorithmHyperParameters": {"hidden_dimension": "55"},  # a map of strings stays strings
        },
        "unknownKey": "5",
    }
    typed = coercion.coerce("CreateSolution", request)
    assert typed["performHPO"] is True and typed["performAutoML"] is False
    ranges = typed["solutionConfig"]["hpoConfig"]["algorithmHyperParameterRanges"]
    assert ranges["integerHyperParameterRanges"] == [{"name": "bptt", "minValue": 2, "maxValue": 32}]
    assert ranges["continuousHyperParameterRanges"] == [{"name": "lambda", "minValue": 0.5, "maxValue": 100.0}]
    assert typed["solutionConfig"]["algorithmHyperParameters"] == {"hidden_dimension": "55"}
    assert typed["unknownKey"] == "5", "left for botocore's validation to name"
    assert request["performHPO"] == "true", "input not mutated"


def test_coerce_maps_of_doubles_and_typed_values_pass_through():
    typed = coercion.coerce(
        "CreateCampaign",
        {
            "name": "c",
            "solutionVersionArn": "arn:aws:personalize:us-east-1:123456789012:solution/s/1",
            "minProvisionedTPS": 3,
            "campaignConfig": {"rankingInfluence": {"FRESHNESS": "0.25"}, "syncWithLatestSolutionVersion": True},
        },
    )
    assert typed["minProvisionedTPS"] == 3
    assert typed["campaignConfig"] == {"rankingInfluence": {"FRESHNESS": 0.25}, "syncWithLatestSolutionVersion": True}


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            {"recommenderConfig": {"minRecommendationRequestsPerSecond": "one"}},
            "CreateRecommender.recommenderConfig.minRecommendationRequestsPerSecond: expected an integer, got 'one'",
        ),
        ({"recommenderConfig": {"minRecommendationRequestsPerSecond": "1.5"}}, "expected an integer"),
        ({"recommenderConfig": {"minRecommendationRequestsPerSecond": True}}, "expected a number"),
        ({"recommenderConfig": {"enableMetadataWithRecommendations": "yes"}}, "expected true or false, got 'yes'"),
        ({"recommenderConfig": "x"}, "CreateRecommender.recommenderConfig: expected an object"),
        ({"tags": {"tagKey": "a"}}, "CreateRecommender.tags: expected a list"),
    ],
)
def test_coerce_names_the_bad_value(request_, message):
    with pytest.raises(HandlerError, match=message.replace(".", r"\.")):
        coercion.coerce("CreateRecommender", request_)


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_coerce_integers_round_trip_from_strings(number):
    typed = coercion.coerce("CreateRecommender", {"recommenderConfig": {"minRecommendationRequestsPerSecond": str(number)}})
    assert typed["recommenderConfig"]["minRecommendationRequestsPerSecond"] == number


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_coerce_doubles_round_trip_from_strings(number):
    typed = coercion.coerce("CreateCampaign", {"campaignConfig": {"rankingInfluence": {"FRESHNESS": repr(number)}}})
    assert typed["campaignConfig"]["rankingInfluence"]["FRESHNESS"] == number


@settings(deadline=None)  # the first example builds the coercion tables; slow on a loaded machine
@given(st.booleans(), st.sampled_from([str.lower, str.upper, str.title]))
def test_coerce_booleans_in_any_case(value, case):
    typed = coercion.coerce("CreateDatasetImportJob", {"publishAttributionMetricsToS3": case(str(value))})
    assert typed["publishAttributionMetricsToS3"] is value


# --- PersonalizeApi: throttling, guard, describe, collect ----------------------------------


def api_for(world, operations=ALL_ATTRIBUTION_OPERATIONS):
    return PersonalizeApi(operations)


def create_attribution(world, name="shop-metrics"):
    world.client.create_metric_attribution(
        name=name,
        datasetGroupArn=world.dataset_group_arn,
        metrics=[{"eventType": "View", "metricName": f"m{i}", "expression": "SAMPLECOUNT()"} for i in range(5)],
        metricsOutputConfig={"roleArn": ROLE},
    )
    return world.fake.arn("metric-attribution", name)


@pytest.mark.parametrize("code", sorted(core.THROTTLING_ERROR_CODES))
def test_throttling_codes_are_retried_with_bounded_jittered_backoff(world, code):
    arn = create_attribution(world)
    world.fake.throttle("DescribeMetricAttribution", times=5, code=code)
    api = api_for(world)
    described = api.call("DescribeMetricAttribution", metricAttributionArn=arn)
    assert described["metricAttribution"]["name"] == "shop-metrics"
    assert len(world.sleeps) == 5
    for attempt, delay in enumerate(world.sleeps, start=1):
        assert 0 <= delay <= min(api.max_delay, api.base_delay * 2 ** (attempt - 1))


def test_backoff_grows_exponentially_with_full_jitter(world, monkeypatch):
    monkeypatch.setattr(core.random, "uniform", lambda low, high: high)  # the upper bound of each draw
    arn = create_attribution(world)
    world.fake.throttle("DescribeMetricAttribution", times=5)
    api_for(world).call("DescribeMetricAttribution", metricAttributionArn=arn)
    assert world.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0]


def test_sleep_can_be_injected_per_instance(world):
    arn = create_attribution(world)
    world.fake.throttle("DescribeMetricAttribution", times=2)
    slept = []
    api = PersonalizeApi(ALL_ATTRIBUTION_OPERATIONS, sleep=slept.append)
    api.call("DescribeMetricAttribution", metricAttributionArn=arn)
    assert len(slept) == 2 and world.sleeps == []


def test_access_denied_is_retried_while_a_new_policy_propagates(world):
    arn = create_attribution(world)
    world.fake.inject_error("DescribeMetricAttribution", "AccessDeniedException", times=3)
    described = api_for(world).call("DescribeMetricAttribution", metricAttributionArn=arn)
    assert described["metricAttribution"]["name"] == "shop-metrics"
    assert world.sleeps == [1.0, 2.0, 4.0]


def test_access_denied_fails_once_the_propagation_window_is_used_up(world):
    arn = create_attribution(world)
    world.fake.inject_error("DescribeMetricAttribution", "AccessDeniedException", times=50)
    with pytest.raises(ClientError, match="AccessDeniedException"):
        api_for(world).call("DescribeMetricAttribution", metricAttributionArn=arn)
    assert sum(world.sleeps) == core.ACCESS_DENIED_RETRY_SECONDS and world.sleeps[:4] == [1.0, 2.0, 4.0, 8.0]


def test_throttling_gives_up_after_max_attempts(world):
    arn = create_attribution(world)
    world.fake.throttle("DescribeMetricAttribution", times=3)
    with pytest.raises(ClientError, match="ThrottlingException"):
        PersonalizeApi(ALL_ATTRIBUTION_OPERATIONS, max_attempts=3).call(
            "DescribeMetricAttribution", metricAttributionArn=arn
        )
    assert world.fake.count("DescribeMetricAttribution") == 3 and len(world.sleeps) == 2


@pytest.mark.parametrize("code", ["LimitExceededException", "InvalidInputException", "ResourceInUseException"])
def test_other_errors_are_not_retried(world, code):
    world.fake.inject_error("CreateMetricAttribution", code)
    with pytest.raises(ClientError, match=code):
        api_for(world).call(
            "CreateMetricAttribution",
            name="x",
            datasetGroupArn=world.dataset_group_arn,
            metrics=[],
            metricsOutputConfig={"roleArn": ROLE},
        )
    assert world.sleeps == [] and world.fake.count("CreateMetricAttribution") == 1


def test_undeclared_operation_is_refused_before_any_request(world):
    api = api_for(world, ("DescribeMetricAttribution",))
    with pytest.raises(OperationNotDeclaredError, match="DeleteMetricAttribution is not in this handler's"):
        api.call("DeleteMetricAttribution", metricAttributionArn=world.fake.arn("metric-attribution", "x"))
    assert world.fake.calls == []


def test_describe_or_none(world):
    api = api_for(world)
    missing = world.fake.arn("metric-attribution", "missing")
    assert api.describe_or_none("DescribeMetricAttribution", "metricAttribution", metricAttributionArn=missing) is None
    arn = create_attribution(world)
    found = api.describe_or_none("DescribeMetricAttribution", "metricAttribution", metricAttributionArn=arn)
    assert found["status"] == "CREATE PENDING"
    world.fake.inject_error("DescribeMetricAttribution", "InvalidInputException")
    with pytest.raises(ClientError, match="InvalidInputException"):
        api.describe_or_none("DescribeMetricAttribution", "metricAttribution", metricAttributionArn=arn)


def test_collect_follows_next_tokens(world):
    world.fake.page_size = 2
    arn = create_attribution(world)
    metrics = api_for(world).collect("ListMetricAttributionMetrics", "metrics", metricAttributionArn=arn)
    assert [metric["metricName"] for metric in metrics] == ["m0", "m1", "m2", "m3", "m4"]
    assert world.fake.count("ListMetricAttributionMetrics") == 3


def test_request_delete_outcomes(world):
    api = api_for(world)
    arn = create_attribution(world)
    assert api.request_delete("DeleteMetricAttribution", metricAttributionArn=arn) is False, "still creating"
    while world.fake.resources[arn].status != "ACTIVE":
        world.client.describe_metric_attribution(metricAttributionArn=arn)
    assert api.request_delete("DeleteMetricAttribution", metricAttributionArn=arn) is True
    gone = world.fake.arn("metric-attribution", "gone")
    assert api.request_delete("DeleteMetricAttribution", metricAttributionArn=gone) is True
    world.fake.inject_error("DeleteMetricAttribution", "InvalidInputException")
    with pytest.raises(ClientError, match="InvalidInputException"):
        api.request_delete("DeleteMetricAttribution", metricAttributionArn=arn)


def test_converge_deleted_steps_until_gone(world):
    api = api_for(world)
    arn = create_attribution(world)

    def step():
        return api.converge_deleted(
            "DescribeMetricAttribution", "metricAttribution", "DeleteMetricAttribution", metricAttributionArn=arn
        )

    results = [step() for _ in range(8)]
    assert results[-1] is True and results == sorted(results), "False until gone, then True for good"
    assert world.fake.count("DeleteMetricAttribution") >= 1 and arn not in world.fake.resources


def test_create_client_is_a_personalize_client_with_bounded_retries(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    core.create_client.cache_clear()
    client = core.create_client()
    assert core.create_client() is client, "reused by warm invocations"
    core.create_client.cache_clear()
    assert client.meta.service_model.service_name == "personalize"
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}


# --- statuses, events, logging ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("ACTIVE", True),
        ("CREATE PENDING", False),
        ("CREATE IN_PROGRESS", False),
        ("UPDATE IN_PROGRESS", False),
        ("DELETE PENDING", False),
        ("INACTIVE", False),
    ],
)
def test_is_active(status, expected):
    assert lifecycle.is_active({"status": status}, "thing") is expected


@pytest.mark.parametrize("status", ["CREATE FAILED", "UPDATE FAILED", "DELETE FAILED"])
def test_failed_statuses_raise_with_reason(status):
    with pytest.raises(ResourceFailedError, match=f"recommender r is {status}: Not enough interactions"):
        lifecycle.is_active({"status": status, "failureReason": "Not enough interactions"}, "recommender r")
    with pytest.raises(ResourceFailedError, match="no failureReason given"):
        lifecycle.is_active({"status": status}, "recommender r")


def test_is_deleting():
    assert lifecycle.is_deleting({"status": "DELETE PENDING"}) and lifecycle.is_deleting({"status": "DELETE IN_PROGRESS"})
    assert not lifecycle.is_deleting({"status": "ACTIVE"})


def test_dispatch_routes_on_request_type(lambda_context):
    def route(name):
        return lambda event, context: {"route": name, "context": context}

    routes = {name.lower(): route(name) for name in ("Create", "Update", "Delete")}
    for request_type in ("Create", "Update", "Delete"):
        result = lifecycle.dispatch({"RequestType": request_type}, lambda_context, **routes)
        assert result == {"route": request_type, "context": lambda_context}
    with pytest.raises(HandlerError, match="unknown RequestType 'Replace'"):
        lifecycle.dispatch({"RequestType": "Replace"}, lambda_context, **routes)


def test_properties_and_results():
    event = {"ResourceProperties": {"ServiceToken": "t", "Request": {"a": "1"}}, "OldResourceProperties": {}}
    assert lifecycle.properties(event) == {"a": "1"}
    with pytest.raises(HandlerError, match=r"OldResourceProperties\.Request is missing"):
        lifecycle.properties(event, old=True)
    assert lifecycle.on_event_result("id", {"k": "v"}) == {"PhysicalResourceId": "id", "Data": {"k": "v"}}
    assert lifecycle.is_complete_result(False) == {"IsComplete": False}
    # The CDK framework throws on Data with IsComplete false, so data is dropped until done.
    assert lifecycle.is_complete_result(False, {"Arn": "a"}) == {"IsComplete": False}
    assert lifecycle.is_complete_result(True, {"Arn": "a"}) == {"IsComplete": True, "Data": {"Arn": "a"}}


def test_log_action_writes_one_json_line(caplog):
    with caplog.at_level(logging.INFO, logger="personalize_resources"):
        action_log.log_action("created", arn="arn:x", metrics=["a", "b"])
    (record,) = caplog.records
    assert "\n" not in record.getMessage()
    assert json.loads(record.getMessage()) == {"action": "created", "arn": "arn:x", "metrics": ["a", "b"]}


# --- the fake itself: model-checked, extensible ----------------------------------------------


def test_fake_reports_statuses_one_step_per_describe(world):
    arn = create_attribution(world)
    statuses = [
        world.client.describe_metric_attribution(metricAttributionArn=arn)["metricAttribution"]["status"]
        for _ in range(4)
    ]
    assert statuses == ["CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE", "ACTIVE"]
    world.client.delete_metric_attribution(metricAttributionArn=arn)
    statuses = [
        world.client.describe_metric_attribution(metricAttributionArn=arn)["metricAttribution"]["status"]
        for _ in range(2)
    ]
    assert statuses == ["DELETE PENDING", "DELETE IN_PROGRESS"]
    with pytest.raises(world.client.exceptions.ResourceNotFoundException):
        world.client.describe_metric_attribution(metricAttributionArn=arn)


def test_fake_enforces_server_side_constraints(world):
    with pytest.raises(ClientError, match=r"InvalidInputException.*\.name 'shop\.metrics' does not match"):
        world.client.create_metric_attribution(
            name="shop.metrics",
            datasetGroupArn=world.dataset_group_arn,
            metrics=[],
            metricsOutputConfig={"roleArn": ROLE},
        )
    with pytest.raises(ClientError, match="more than 10 items"):
        world.client.update_metric_attribution(
            metricAttributionArn=world.fake.arn("metric-attribution", "x"), removeMetrics=[f"m{i}" for i in range(11)]
        )


def test_fake_sits_behind_botocore_validation(world):
    with pytest.raises(ParamValidationError, match="Missing required parameter"):
        world.client.create_metric_attribution(name="x")
    assert world.fake.calls == [], "invalid requests never reach the fake"


def test_fake_responses_are_validated_against_the_model(world):
    world.fake.register("DescribeRecipe", lambda params: {"recipe": {"name": 5}})
    with pytest.raises(AssertionError, match="does not fit the model"):
        world.client.describe_recipe(recipeArn="arn:aws:personalize:::recipe/aws-ecomm-recommended-for-you")


def test_fake_is_extended_by_subclassing(new_personalize_client):
    class WithRecipes(FakePersonalize):
        @operation("DescribeRecipe")
        def describe_recipe(self, params):
            return {"recipe": {"name": params["recipeArn"].rsplit("/", 1)[1], "recipeArn": params["recipeArn"]}}

    fake = WithRecipes()
    client = fake.attach(new_personalize_client())
    recipe = client.describe_recipe(recipeArn="arn:aws:personalize:::recipe/aws-ecomm-recommended-for-you")["recipe"]
    assert recipe["name"] == "aws-ecomm-recommended-for-you"
    fake.add_dataset(fake.add_dataset_group("g"))
    client.create_dataset_import_job(
        jobName="j", datasetArn=next(iter(fake.datasets)), dataSource={"dataLocation": "s3://b/k"}
    )  # inherited operations still work
    assert fake.operations() == {"DescribeRecipe", "CreateDatasetImportJob"}
    with pytest.raises(NotImplementedError, match="no handler for DescribeSolution"):
        client.describe_solution(solutionArn="arn:aws:personalize:us-east-1:123456789012:solution/s")


def test_slow_transitions_are_waited_out(world_factory):
    world = world_factory(polls_per_status=4)
    resource = world.resource(metric_attribution)
    properties = {
        "Request": {
            "name": "slow",
            "datasetGroupArn": world.dataset_group_arn,
            "metrics": [{"eventType": "View", "metricName": "views", "expression": "SAMPLECOUNT()"}],
            "metricsOutputConfig": {"roleArn": ROLE},
        }
    }
    arn = resource.create(properties)
    assert resource.polls >= 9 and world.fake.resources[arn].status == "ACTIVE"
    resource.delete()
    assert arn not in world.fake.resources
