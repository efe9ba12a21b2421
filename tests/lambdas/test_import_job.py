"""Dataset import job custom resource: lifecycles against the stateful fake, exact
requests under botocore's Stubber, and API_OPERATIONS proven exact."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from botocore.exceptions import ClientError

from lambdas.personalize_resources import import_job
from lambdas.personalize_resources.errors import HandlerError, ResourceFailedError
from harness.fake_personalize import FakeError
from harness.handler_scenarios import Scenarios

ROLE = "arn:aws:iam::123456789012:role/personalize-import"
ATTRIBUTION = "arn:aws:personalize:us-east-1:123456789012:metric-attribution/shop-metrics"


def job(
    world,
    *,
    name="interactions-v1-a1b2c3",
    location="s3://bucket/interactions/v1/",
    mode="INCREMENTAL",
    publish="true",
    dataset=None,
    role=ROLE,
) -> dict:
    # As CloudFormation sends them: every scalar a string.
    return {
        "Request": {
            "jobName": name,
            "datasetArn": dataset or world.dataset_arn,
            "dataSource": {"dataLocation": location},
            "roleArn": role,
            "importMode": mode,
            "publishAttributionMetricsToS3": publish,
        },
        "MetricAttributionArn": ATTRIBUTION,
    }


def live(world, arn) -> dict:
    return world.fake.resources[arn].attributes


SCENARIOS = Scenarios()
scenario = SCENARIOS


@scenario
def first_import_is_full_then_incremental_honoured(world):
    resource = world.resource(import_job)
    first = resource.create(job(world, mode="INCREMENTAL"))
    assert first == "arn:aws:personalize:us-east-1:123456789012:dataset-import-job/interactions-v1-a1b2c3"
    assert resource.data == {"DatasetImportJobArn": first}
    assert live(world, first)["importMode"] == "FULL"
    assert live(world, first)["publishAttributionMetricsToS3"] is True
    assert world.fake.resources[first].status == "ACTIVE"

    second = resource.update(job(world, name="interactions-v2-d4e5f6", location="s3://bucket/interactions/v2/"))
    assert second == world.fake.arn("dataset-import-job", "interactions-v2-d4e5f6") != first
    assert live(world, second)["importMode"] == "INCREMENTAL"
    assert live(world, second)["dataSource"] == {"dataLocation": "s3://bucket/interactions/v2/"}
    assert first in world.fake.resources, "the old job stays: jobs cannot be deleted"

    resource.delete()
    assert world.fake.count("CreateDatasetImportJob") == 2


@scenario
def full_mode_on_update_is_honoured(world):
    resource = world.resource(import_job)
    resource.create(job(world, mode="FULL"))
    arn = resource.update(job(world, name="interactions-v1-full2", mode="FULL", publish="false"))
    assert live(world, arn)["importMode"] == "FULL"
    assert live(world, arn)["publishAttributionMetricsToS3"] is False


@scenario
def unchanged_update_keeps_the_job(world):
    resource = world.resource(import_job)
    arn = resource.create(job(world))
    calls = len(world.fake.calls)
    changed_elsewhere = job(world, role="arn:aws:iam::123456789012:role/other")
    changed_elsewhere["MetricAttributionArn"] = ATTRIBUTION + "-2"
    assert resource.update(changed_elsewhere) == arn
    assert resource.data == {"DatasetImportJobArn": arn}
    assert world.fake.calls[calls:] == []


@scenario
def create_failed_reports_reason(world):
    world.fake.fail_next_creation("dataset-import-job", "Insufficient privileges for accessing data in S3")
    resource = world.resource(import_job)
    with pytest.raises(ResourceFailedError, match="CREATE FAILED: Insufficient privileges for accessing data in S3"):
        resource.create(job(world))


@scenario
def retried_create_adopts(world):
    resource = world.resource(import_job)
    event = resource.event("Create", job(world))
    first = resource.on_event(event)
    assert resource.on_event(event) == first
    assert resource.send(event)[0] == first["PhysicalResourceId"]
    assert world.fake.count("CreateDatasetImportJob") == 1


@scenario
def retried_update_adopts(world):
    resource = world.resource(import_job)
    resource.create(job(world))
    event = resource.event(
        "Update", job(world, name="interactions-v2", location="s3://bucket/v2/"), old=resource.properties
    )
    assert resource.on_event(event) == resource.on_event(event)
    resource.send(event)
    assert world.fake.count("CreateDatasetImportJob") == 2


@scenario
def throttling_is_retried(world):
    world.fake.throttle("CreateDatasetImportJob", times=2)
    world.fake.throttle("DescribeDatasetImportJob", times=3, code="TooManyRequestsException")
    arn = world.resource(import_job).create(job(world))
    assert world.fake.resources[arn].status == "ACTIVE"
    assert len(world.sleeps) == 5


@scenario
def delete_answers_at_once_while_the_import_runs(world):
    # A rollback during a long import: nothing to delete (Personalize has no DeleteDatasetImportJob
    # nor a way to stop an import), so the Delete ends at once; the teardown waits hold the dataset.
    resource = world.resource(import_job)
    event = resource.event("Create", job(world))
    arn = resource.on_event(event)["PhysicalResourceId"]
    assert world.fake.resources[arn].status == "CREATE PENDING"
    resource.physical_id, resource.properties = arn, job(world)
    calls, polls = len(world.fake.calls), resource.polls
    resource.delete()
    assert world.fake.calls[calls:] == [], "the Delete calls nothing"
    assert resource.polls - polls == 1, "complete at the first isComplete"
    assert world.fake.resources[arn].status == "CREATE PENDING", "the import goes on (no way to stop it)"


@scenario
def delete_of_a_request_that_created_nothing_answers_at_once(world):
    resource = world.resource(import_job)
    calls = len(world.fake.calls)
    resource.send(resource.event("Delete", job(world), physical_id="5f0f6a7c-request-id"))
    assert world.fake.calls[calls:] == []


@scenario
def delete_after_the_dataset_is_gone_completes(world):
    resource = world.resource(import_job)
    resource.create(job(world))
    world.fake.datasets.discard(world.dataset_arn)
    resource.delete()


STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/shop/1"


def awaited(properties: dict, handle: str = "ImportHandleA1") -> dict:
    """Properties as the stack now sends them: a WaitCondition awaits the job through the poller."""
    return {**properties, "SignalHandle": {"StackId": STACK, "LogicalResourceId": handle}}


@scenario
def the_poller_follows_the_job_past_the_custom_resource_hour(world):
    resource = world.resource(import_job)
    event = resource.event("Create", awaited(job(world)))
    answer = resource.on_event(event)
    arn = answer["PhysicalResourceId"]
    # is_complete answers at once: the WaitCondition (up to 12 h) waits, not the custom resource.
    assert resource.is_complete({**event, **answer}) == {"IsComplete": True, "Data": {"DatasetImportJobArn": arn}}
    [execution] = world.sfn.pending()
    state = json.loads(execution.input)
    assert state == {"kind": "dataset-import-job", "resourceArn": arn, "uniqueId": "Resource", "waitSeconds": 60,
                     "signalHandle": {"StackId": STACK, "LogicalResourceId": "ImportHandleA1"}}
    [final] = world.settle()
    assert final["outcome"] == "SUCCESS" and world.fake.resources[arn].status == "ACTIVE"
    [signal] = world.signals.sent
    assert (signal.status, signal.unique_id, signal.data) == ("SUCCESS", "Resource", arn)
    assert signal.url.startswith("https://") and signal.url not in json.dumps(state)


@scenario
def a_failed_import_reaches_the_failure_signal(world):
    world.fake.fail_next_creation("dataset-import-job", "Insufficient privileges for accessing data in S3")
    resource = world.resource(import_job)
    resource.create(awaited(job(world)))  # the custom resource succeeds; the WaitCondition fails
    [signal] = world.signals.sent
    assert signal.status == "FAILURE" and "CREATE FAILED: Insufficient privileges for accessing data in S3" in signal.reason


@scenario
def a_new_job_on_update_gets_a_new_handle_and_signal(world):
    resource = world.resource(import_job)
    resource.create(awaited(job(world)))
    second = resource.update(awaited(job(world, name="interactions-v2", location="s3://bucket/v2/"), "ImportHandleB2"))
    assert [s.data for s in world.signals.sent] == [world.fake.arn("dataset-import-job", "interactions-v1-a1b2c3"), second]
    # The same job awaited by a new handle (stacks deployed before handles existed): signalled.
    resource.update(awaited(job(world, name="interactions-v2", location="s3://bucket/v2/"), "ImportHandleC3"))
    assert len(world.signals.sent) == 3 and world.fake.count("CreateDatasetImportJob") == 2


def test_a_poller_that_cannot_start_fails_the_request_but_keeps_the_arn(world, monkeypatch):
    monkeypatch.setattr(import_job.poller, "start", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("AccessDenied")))
    resource = world.resource(import_job)
    event = resource.event("Create", awaited(job(world)))
    answer = resource.on_event(event)
    assert answer["PhysicalResourceId"] == world.fake.arn("dataset-import-job", "interactions-v1-a1b2c3")
    with pytest.raises(HandlerError, match="its poller did not start: RuntimeError: AccessDenied"):
        resource.is_complete({**event, **answer})


@pytest.mark.parametrize("lifecycle", SCENARIOS, ids=lambda function: function.__name__)
def test_lifecycle(world, lifecycle):
    lifecycle(world)


def test_api_operations_are_exactly_those_the_lifecycles_call(world_factory):
    SCENARIOS.assert_operations_exact(world_factory, import_job)


def test_full_override_is_logged(world, caplog):
    with caplog.at_level(logging.INFO, logger="personalize_resources"):
        world.resource(import_job).create(job(world, mode="INCREMENTAL"))
    overrides = [json.loads(r.getMessage()) for r in caplog.records if "import_mode_overridden" in r.getMessage()]
    assert overrides == [
        {
            "action": "import_mode_overridden",
            "configured": "INCREMENTAL",
            "job_name": "interactions-v1-a1b2c3",
            "reason": "the first import a stack runs on a dataset must be FULL",
            "used": "FULL",
        }
    ]


def test_fake_rejects_incremental_first_import(world):
    # What the FULL override protects against.
    with pytest.raises(ClientError, match="must use FULL"):
        world.client.create_dataset_import_job(
            jobName="direct",
            datasetArn=world.dataset_arn,
            dataSource={"dataLocation": "s3://b/k"},
            importMode="INCREMENTAL",
        )


def test_changed_data_under_same_job_name_is_refused(world):
    resource = world.resource(import_job)
    resource.create(job(world))
    with pytest.raises(HandlerError, match="dataSource changed but jobName did not"):
        resource.update(job(world, location="s3://bucket/interactions/v2/"))


def test_same_job_name_with_other_data_is_not_adopted(world):
    world.resource(import_job, "Other").create(job(world, location="s3://elsewhere/"))
    resource = world.resource(import_job)
    with pytest.raises(HandlerError, match=r"already exists .* from s3://elsewhere/"):
        resource.create(job(world))


def test_create_race_lost_to_a_retry_is_adopted(world):
    create = world.fake.create_dataset_import_job

    def racing_create(params):
        create(params)
        raise FakeError("ResourceAlreadyExistsException", "exists")

    world.fake.register("CreateDatasetImportJob", racing_create)
    arn = world.resource(import_job).create(job(world))
    assert world.fake.resources[arn].status == "ACTIVE"


def test_already_exists_without_a_job_to_adopt_fails(world):
    world.fake.inject_error("CreateDatasetImportJob", "ResourceAlreadyExistsException")
    with pytest.raises(ClientError, match="ResourceAlreadyExistsException"):
        world.resource(import_job).create(job(world))


def test_missing_dataset_is_reported(world):
    resource = world.resource(import_job)
    missing = world.fake.arn("dataset", "gone/INTERACTIONS")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        resource.create(job(world, dataset=missing))


def test_bad_boolean_is_named(world):
    resource = world.resource(import_job)
    with pytest.raises(HandlerError, match="publishAttributionMetricsToS3: expected true or false, got 'yes'"):
        resource.create(job(world, publish="yes"))
    assert world.fake.calls == []


# --- exact requests under botocore's Stubber ------------------------------------------------

DATASET = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/INTERACTIONS"
ARN = "arn:aws:personalize:us-east-1:123456789012:dataset-import-job/interactions-v1"
PROPERTIES = {
    "Request": {
        "jobName": "interactions-v1",
        "datasetArn": DATASET,
        "dataSource": {"dataLocation": "s3://b/v1/"},
        "roleArn": ROLE,
        "importMode": "INCREMENTAL",
        "publishAttributionMetricsToS3": "true",
    },
    "MetricAttributionArn": ATTRIBUTION,
}


def stub_event(request_type, **extra):
    return {
        "RequestType": request_type,
        "RequestId": "r-1",
        "LogicalResourceId": "Import",
        "ResourceProperties": {"ServiceToken": "t", **PROPERTIES},
        **extra,
    }


def test_stubbed_create_sends_exact_request(stubbed, lambda_context):
    stubbed.add_client_error(
        "describe_dataset_import_job", "ResourceNotFoundException", expected_params={"datasetImportJobArn": ARN}
    )
    stubbed.add_response(
        "create_dataset_import_job",
        {"datasetImportJobArn": ARN},
        {
            "jobName": "interactions-v1",
            "datasetArn": DATASET,
            "dataSource": {"dataLocation": "s3://b/v1/"},
            "roleArn": ROLE,
            "importMode": "FULL",
            "publishAttributionMetricsToS3": True,
        },
    )
    assert import_job.on_event(stub_event("Create"), lambda_context) == {
        "PhysicalResourceId": ARN,
        "Data": {"DatasetImportJobArn": ARN},
    }


def test_stubbed_is_complete_reads_the_job(stubbed, lambda_context):
    when = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    described = {
        "jobName": "interactions-v1",
        "datasetImportJobArn": ARN,
        "datasetArn": DATASET,
        "dataSource": {"dataLocation": "s3://b/v1/"},
        "creationDateTime": when,
        "lastUpdatedDateTime": when,
        "importMode": "FULL",
    }
    for status in ("CREATE IN_PROGRESS", "ACTIVE"):
        stubbed.add_response(
            "describe_dataset_import_job",
            {"datasetImportJob": {**described, "status": status}},
            {"datasetImportJobArn": ARN},
        )
    event = stub_event("Create", PhysicalResourceId=ARN)
    assert import_job.is_complete(event, lambda_context)["IsComplete"] is False
    assert import_job.is_complete(event, lambda_context) == {"IsComplete": True, "Data": {"DatasetImportJobArn": ARN}}


def test_stubbed_delete_calls_nothing_and_is_complete_at_once(stubbed, lambda_context):
    # No response queued: any call to Personalize would fail under the Stubber.
    event = stub_event("Delete", PhysicalResourceId=ARN)
    assert import_job.on_event(event, lambda_context) == {"PhysicalResourceId": ARN, "Data": {}}
    assert import_job.is_complete(event, lambda_context) == {"IsComplete": True, "Data": {}}
    stubbed.assert_no_pending_responses()
