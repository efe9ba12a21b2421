"""Export of recorded events on Delete (removalPolicy RETAIN): lifecycles against the stateful
fake, the exact request under botocore's Stubber, and the declared operations proven exact."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from lambdas.personalize_resources import dataset_export
from lambdas.personalize_resources.errors import ResourceFailedError
from harness.handler_scenarios import Scenarios

ROLE = "arn:aws:iam::123456789012:role/personalize-service"
PREFIX = "s3://pimpact-data-123456789012-us-east-1/exports/shop/"


def export_properties(world) -> dict:
    return {"Request": {"datasetArn": world.dataset_arn, "roleArn": ROLE, "exportPrefix": PREFIX, "jobNamePrefix": "pimpact-shop-export"}}


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch):
    monkeypatch.setattr(dataset_export, "now", lambda: dt.datetime(2026, 11, 24, 5, 0, 0, tzinfo=dt.UTC))


SCENARIOS = Scenarios()
scenario = SCENARIOS


def exports(world) -> list:
    return [r for r in world.fake.resources.values() if r.resource_type == "dataset-export-job"]


@scenario
def create_and_update_touch_nothing_delete_exports_all_events_and_waits(world):
    resource = world.resource(dataset_export)
    physical_id = resource.create(export_properties(world))
    assert physical_id == world.dataset_arn + "#export-on-delete"
    assert resource.update(export_properties(world)) == physical_id
    assert exports(world) == []
    resource.delete()
    [job] = exports(world)
    assert job.status == "ACTIVE", "the Delete returned only once the export finished"
    assert job.attributes["ingestionMode"] == "ALL"  # bulk imports and PutEvents alike
    path = job.attributes["jobOutput"]["s3DataDestination"]["path"]
    assert re.fullmatch(re.escape(PREFIX) + r"\d{8}T\d{6}Z/", path), path  # exports/<group>/<UTC time>/
    assert job.attributes["roleArn"] == ROLE


@scenario
def a_failed_export_fails_the_delete_so_the_dataset_stays(world):
    resource = world.resource(dataset_export)
    resource.create(export_properties(world))
    world.fake.fail_next_creation("dataset-export-job", "Access denied to the S3 bucket")
    with pytest.raises(ResourceFailedError, match="CREATE FAILED: Access denied to the S3 bucket"):
        resource.delete()


@scenario
def a_retried_delete_adopts_its_export_and_a_gone_dataset_exports_nothing(world):
    resource = world.resource(dataset_export)
    resource.create(export_properties(world))
    event = resource.event("Delete", export_properties(world))
    assert resource.on_event(event) == resource.on_event(event)
    assert len(exports(world)) == 1
    world.fake.datasets.discard(world.dataset_arn)
    resource.delete()
    assert len(exports(world)) == 1
    resource.send(resource.event("Delete", export_properties(world), physical_id="5f0f6a7c-request-id"))


@pytest.mark.parametrize("lifecycle", SCENARIOS, ids=lambda function: function.__name__)
def test_lifecycle(world, lifecycle):
    lifecycle(world)


def test_api_operations_are_exactly_those_the_lifecycles_call(world_factory):
    SCENARIOS.assert_operations_exact(world_factory, dataset_export)


def test_stubbed_export_request(stubbed, lambda_context):
    dataset = "arn:aws:personalize:us-east-1:123456789012:dataset/pimpact-shop/INTERACTIONS"
    properties = {"Request": {"datasetArn": dataset, "roleArn": ROLE, "exportPrefix": PREFIX, "jobNamePrefix": "pimpact-shop-export", "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k"}}
    event = {"RequestType": "Delete", "RequestId": "r-1", "LogicalResourceId": "Export", "PhysicalResourceId": dataset + "#export-on-delete",
             "ResourceProperties": {"ServiceToken": "t", **properties}}
    name = "pimpact-shop-export-" + __import__("hashlib").sha256(b"r-1").hexdigest()[:8]
    arn = f"arn:aws:personalize:us-east-1:123456789012:dataset-export-job/{name}"
    stubbed.add_response("describe_dataset", {"dataset": {"datasetArn": dataset, "status": "ACTIVE"}}, {"datasetArn": dataset})
    stubbed.add_client_error("describe_dataset_export_job", "ResourceNotFoundException", expected_params={"datasetExportJobArn": arn})
    stubbed.add_response("create_dataset_export_job", {"datasetExportJobArn": arn}, {
        "jobName": name, "datasetArn": dataset, "ingestionMode": "ALL", "roleArn": ROLE,
        "jobOutput": {"s3DataDestination": {"path": PREFIX + "20261124T050000Z/", "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k"}},
    })
    assert dataset_export.on_event(event, lambda_context) == {"PhysicalResourceId": dataset + "#export-on-delete", "Data": {"DatasetExportJobArn": arn}}
