"""The custom resources' contracts (lambdas/personalize_resources/contracts.py): what every
synthesized custom resource sends is a contract, each of its properties is parsed by the handler,
and every field passed to Personalize is a member of that operation's botocore input shape."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import botocore.session
import pytest

from lambdas.personalize_resources import (
    contracts,
    dataset_export,
    import_job,
    metric_attribution,
    recommender,
    sample_data,
    solution,
    solution_version,
    teardown_wait,
)
from lambdas.personalize_resources.environments import HandlerEnvironment
from lambdas.personalize_resources.errors import HandlerError

CONTRACT_BY_TYPE = {contract.RESOURCE_TYPE: contract for contract in contracts.CONTRACTS}
HANDLE = {"StackId": "arn:aws:cloudformation:us-east-1:111122223333:stack/s/1", "LogicalResourceId": "Handle"}


def resolved(value: Any) -> Any:
    """A template value with its intrinsics replaced the way CloudFormation would, by a stand-in:
    joins joined, every other reference "1" (a string, and a number where the shape wants one)."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(str(resolved(part)) for part in parts)
        if len(value) == 1 and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::")):
            return "1"
        return {key: resolved(item) for key, item in value.items()}
    if isinstance(value, list):
        return [resolved(item) for item in value]
    return value


def sent_properties(synthesized) -> list[tuple[str, str, dict]]:
    """(template, logical id, properties as the handler receives them) of every Personalize custom resource."""
    found = []
    for path in synthesized.template_paths():
        for logical_id, resource in json.loads(path.read_text())["Resources"].items():
            if resource["Type"].startswith("Custom::Personalize"):
                properties = {k: v for k, v in resource["Properties"].items() if k != "ServiceToken"}
                found.append((resource["Type"], f"{path.name}:{logical_id}", resolved(properties)))
    return found


def test_every_custom_resource_type_has_a_contract_and_every_contract_is_synthesized(synthesized):
    synthesized_types = {resource_type for resource_type, _, _ in sent_properties(synthesized)}
    assert synthesized_types == set(CONTRACT_BY_TYPE)


def test_what_each_custom_resource_sends_is_its_contract_exactly(synthesized):
    """Parsed and written back, the properties are unchanged: the handler's parser drops nothing
    the construct sends, and nothing is sent outside a field."""
    for resource_type, where, properties in sent_properties(synthesized):
        contract = CONTRACT_BY_TYPE[resource_type].from_properties(properties)
        assert contract.to_properties() == properties, where


def _request_keys(properties: dict) -> set[str]:
    return set(properties.get(contracts.REQUEST, {}))


def _event(properties: dict) -> dict:
    return {"RequestType": "Create", "RequestId": "r", "LogicalResourceId": "L", "ResourceProperties": properties}


# What each handler makes of the properties it is sent, as the keys it passes on.
HANDLER_READS: dict[str, Callable[[dict], set[str]]] = {
    "Custom::PersonalizeMetricAttribution": lambda p: set(metric_attribution.desired_attribution(p["Request"])),
    "Custom::PersonalizeDatasetImportJob": lambda p: set(import_job.desired_job(p["Request"]))
    | ({contracts.SIGNAL_HANDLE} if import_job.signal_target(_event(p)) else set()),
    "Custom::PersonalizeRecommender": lambda p: set(recommender.desired_recommender(p["Request"]))
    | ({contracts.DESIRED_STATE} if recommender.desired_state(_event(p)) else set())
    | ({contracts.SIGNAL_HANDLE} if recommender.signal_target(_event(p)) else set()),
    "Custom::PersonalizeInteractionsExport": lambda p: set(dataset_export._request(_event(p))),
    "Custom::PersonalizeTeardownWait": lambda p: set(teardown_wait._request(_event(p))),
    "Custom::PersonalizeSolution": lambda p: set(solution.desired_solution(p["Request"])),
    "Custom::PersonalizeSolutionVersion": lambda p: set(solution_version.desired_version(_event(p))["request"])
    | {contracts.VERSION}
    | ({contracts.SIGNAL_HANDLE} if import_job.signal_target(_event(p)) else set()),
    "Custom::PersonalizeSolutionMetrics": lambda p: {"solutionVersionArn"} if contracts.SolutionMetrics.from_properties(p).solution_version_arn else set(),
    "Custom::PersonalizeSampleData": lambda p: _sample_data_reads(p),
}
class _DiscardingS3:
    def put_object(self, **params: Any) -> None:
        pass


def _sample_data_reads(properties: dict) -> set[str]:
    """The properties whose change changes what the sample data handler answers (files and data version)."""

    def answer(changed: dict) -> dict:
        return sample_data.on_event({"RequestType": "Create", "ResourceProperties": changed}, None, s3=_DiscardingS3())

    changes = {"Bucket": "another-bucket", "Prefix": "elsewhere/"}
    baseline = answer(properties)
    return {
        key for key, value in properties.items()
        if answer({**properties, key: changes.get(key) or str(int(value) + 1)}) != baseline
    }  # fmt: skip


# Sent for CloudFormation's ordering only: the Interactions import references the attribution.
NOT_READ = {("Custom::PersonalizeDatasetImportJob", contracts.METRIC_ATTRIBUTION_ARN)}


def test_the_handler_reads_every_property_its_construct_sends(synthesized):
    for resource_type, where, properties in sent_properties(synthesized):
        top = {key for key in properties if key != contracts.REQUEST}
        sent = _request_keys(properties) | top
        read = HANDLER_READS[resource_type](properties)
        unread = {key for key in sent - read if (resource_type, key) not in NOT_READ}
        assert not unread, f"{where}: sent but not read by the handler: {sorted(unread)}"


def sample(contract: type[contracts.Contract]) -> contracts.Contract:
    """A contract with every field set to a value its checks accept."""
    values: dict[str, Any] = {}
    for item in dataclasses.fields(contract):
        kind = str(item.type)
        if item.name == "signal_handle":
            values[item.name] = HANDLE
        elif item.name == "export_prefix":
            values[item.name] = "s3://bucket/exports/"
        elif item.name in ("position", "count", "share_seconds"):
            values[item.name] = "1"
        elif kind.startswith("Sequence"):
            values[item.name] = ["a"]
        elif kind.startswith("Mapping"):
            values[item.name] = {"k": "v"}
        else:
            values[item.name] = f"{item.name}-value"
    return contract(**values)


@pytest.mark.parametrize("contract", contracts.CONTRACTS, ids=lambda c: c.__name__)
def test_every_field_round_trips(contract):
    full = sample(contract)
    properties = full.to_properties()
    assert contract.from_properties(properties) == full
    assert contract.from_properties(json.loads(json.dumps(properties))) == full


@pytest.mark.parametrize("contract", [c for c in contracts.CONTRACTS if c.HAS_REQUEST], ids=lambda c: c.__name__)
def test_a_missing_required_property_is_named(contract):
    required = [item for item in dataclasses.fields(contract) if item.metadata["required"]]
    assert required, "every Request names what it is about"
    properties = sample(contract).to_properties()
    key = required[0].metadata["key"]
    del properties[contracts.REQUEST][key]
    with pytest.raises(HandlerError, match=f"Request\\.{key}"):
        contract.from_properties(properties)
    with pytest.raises(HandlerError, match="ResourceProperties.Request is missing"):
        contract.from_properties({})


def test_a_request_key_without_a_field_is_refused():
    with pytest.raises(HandlerError, match=r"Request\.recipe: not a property of Custom::PersonalizeSolution"):
        contracts.Solution.from_request({"name": "n", "datasetGroupArn": "g", "recipeArn": "r", "recipe": "typo"})


def test_old_properties_with_a_key_this_release_no_longer_sends_are_read():
    """An update or rollback reads OldResourceProperties, written by the release that deployed
    the resource: a key that release sent and this one does not is left out, not refused."""
    from lambdas.personalize_resources.lifecycle import properties
    from lambdas.personalize_resources.solution import desired_solution

    request = {"name": "n", "datasetGroupArn": "g", "recipeArn": "r", "retiredKey": "x"}
    event = {"OldResourceProperties": {"Request": request}, "ResourceProperties": {"Request": request}}
    assert desired_solution(properties(event, old=True)) == {"name": "n", "datasetGroupArn": "g", "recipeArn": "r"}
    with pytest.raises(HandlerError, match=r"Request\.retiredKey: not a property"):
        desired_solution(properties(event))


def _member_shape(model, path: str):
    operation, *members = path.split(".")
    shape = model.operation_model(operation).input_shape
    for member in members:
        assert member in shape.members, f"{path}: {shape.name} has no member {member} (members: {sorted(shape.members)})"
        shape = shape.members[member]
    return shape


# botocore shape type → how a contract field of it is annotated (scalars arrive as strings).
ANNOTATION_OF_SHAPE = {"string": "str", "structure": "Mapping", "map": "Mapping", "list": "Sequence", "boolean": "str", "integer": "str"}


@pytest.mark.parametrize("contract", contracts.CONTRACTS, ids=lambda c: c.__name__)
def test_fields_passed_to_personalize_are_members_of_its_input_shapes(contract):
    model = botocore.session.get_session().get_service_model("personalize")
    fields = {item.metadata["key"]: item for item in dataclasses.fields(contract)}
    for key, path in contract.api_members().items():
        shape = _member_shape(model, path)
        assert path.rsplit(".", 1)[-1] == key, f"{contract.__name__}.{key} is passed as {path}"
        assert ANNOTATION_OF_SHAPE[shape.type_name] in str(fields[key].type), f"{contract.__name__}.{key}: {fields[key].type} for a {shape.type_name}"


def test_the_handler_environment_round_trips():
    environment = HandlerEnvironment(state_machine_arn="arn:aws:states:us-east-1:111122223333:stateMachine:p", poller_timeout_seconds=3600, wait_seconds=300)
    assert HandlerEnvironment.from_variables(environment.to_variables()) == environment
    assert HandlerEnvironment().to_variables() == {}
    with pytest.raises(HandlerError, match="POLLER_WAIT_SECONDS must be whole seconds"):
        HandlerEnvironment.from_variables({"POLLER_WAIT_SECONDS": "5m"})
