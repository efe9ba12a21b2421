"""CloudFormation played over a synthesized template: create in dependency order (in parallel
where the graph allows), update with its real phases (update/replace, then cleanup of replaced
and removed resources, where a failed delete is a leak and not a failure), rollback of a failed
create or update, and delete in reverse order honouring DeletionPolicy/UpdateReplacePolicy.

Replacement or update in place follows each type's registry schema (harness/schemas.py);
resource Conditions and parameters are evaluated; named resources (S3 buckets, log groups, SSM
parameters...) are unique in the account and outlive a Retain delete (Aws.named)."""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from harness import schemas
from harness.appconfig import PREFIX as APPCONFIG_PREFIX
from harness.appconfig import AppConfigRefused
from harness.aws import HANDLE_HOST, RESPONSE_HOST, RETAINED, Aws, LambdaFunction, WaitHandle
from harness.intrinsics import ACCOUNT, REGION, Resolver, TemplateError, references
from harness.kernel import Future, Kernel, Sleep, wait_any
from harness.provider import custom_resource_event
from harness.states import check_definition

CUSTOM_RESOURCE_TIMEOUT_SECONDS = 3600  # no ServiceTimeout in the templates: CloudFormation's default
# "The total size of the response body ... can't exceed 4096 bytes" (Custom resource response
# objects, https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/crpg-ref-responses.html).
CUSTOM_RESOURCE_RESPONSE_LIMIT_BYTES = 4096
NATIVE_POLL_SECONDS = 10
NATIVE_PERSONALIZE = {
    # type → (operation suffix, ARN property / attribute, create parameters from properties)
    "AWS::Personalize::DatasetGroup": ("DatasetGroup", "DatasetGroupArn"),
    "AWS::Personalize::Schema": ("Schema", "SchemaArn"),
    "AWS::Personalize::Dataset": ("Dataset", "DatasetArn"),
    "AWS::Personalize::EventTracker": ("EventTracker", "EventTrackerArn"),
    "AWS::Personalize::Filter": ("Filter", "FilterArn"),
    "AWS::Personalize::Campaign": ("Campaign", "CampaignArn"),
}


class ResourceFailed(Exception):
    pass


class ResourceCancelled(ResourceFailed):
    """A create or update still in progress when another resource failed (or the operation was
    cancelled): CloudFormation stops waiting for it ("Resource creation cancelled")."""


def generated_physical_id(stack: str, logical_id: str, request_id: str) -> str:
    """The physical id CloudFormation makes up for a custom resource that never answered its
    Create: ``<stack>-<logical id>-<13 characters>`` like its generated names, not the id the
    handler would have returned (aws/aws-cdk#36951 documents it for the Provider framework;
    cloudformation-coverage-roadmap#1814 shows the events)."""
    suffix = hashlib.sha256(request_id.encode()).hexdigest()[:13].upper()
    return f"{stack}-{logical_id}"[:50] + f"-{suffix}"


@dataclass
class Resource:
    logical_id: str
    type: str
    properties: Any
    physical_id: str
    attributes: dict
    policies: dict = field(default_factory=dict)  # DeletionPolicy / UpdateReplacePolicy


@dataclass
class Outcome:
    status: str
    failures: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    minutes: float = 0


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _camel(value: Any) -> Any:
    """CloudFormation's Personalize properties (PascalCase) as API parameters (camelCase)."""
    if isinstance(value, Mapping):
        return {_lower_first(k): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


def _stringify(value: Any) -> Any:
    """Custom resource properties reach the handler with every scalar as a string."""
    if isinstance(value, Mapping):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def dependencies(template: Mapping) -> dict[str, set[str]]:
    resources = template["Resources"]
    graph = {}
    for logical_id, resource in resources.items():
        depends = resource.get("DependsOn") or []
        depends = {depends} if isinstance(depends, str) else set(depends)
        graph[logical_id] = {d for d in depends | references(resource.get("Properties", {})) if d in resources}
    return graph


class Stack:
    def __init__(self, kernel: Kernel, aws: Aws, name: str, asset_root: Path, *, custom_resources: bool = True,
                 reversed_order: bool = False) -> None:
        self.kernel, self.aws, self.name, self.asset_root = kernel, aws, name, asset_root
        # A resource waits for its dependencies in name order, or in reverse name order: the one
        # that wakes it last decides which of the resources ready at one instant starts first.
        # CloudFormation starts independent resources in no fixed order, so an outcome must hold
        # under both (set order would follow PYTHONHASHSEED instead).
        self.reversed_order = reversed_order
        # False for a stack whose custom resources are outside this project (the storage stack's
        # S3 auto-delete): they are recorded, not run.
        self.custom_resources = custom_resources
        self.timings = aws.personalize.timings
        self.template: dict = {"Resources": {}}
        self.resources: dict[str, Resource] = {}
        self.cancel = Future("cancel")
        # Resolved when the forward phase of a create or update must stop: the first failure or
        # a cancel. None outside that phase (rollback requests are never cancelled).
        self._stop: Future | None = None
        self._request_ids = itertools.count(1)
        self.events: list[str] = []
        self._failed_physical: dict[str, str] = {}
        aws.stacks[name] = self
        self._creations = 0
        self._generated = 0
        self.stack_id = ""
        self.parameters: dict[str, str] = {}

    # --- resolution ---------------------------------------------------------------------------

    def resolver(self, template: Mapping, overlay: Mapping[str, Resource] | None = None) -> Resolver:
        resources = {**self.resources, **(overlay or {})}

        def ref(logical_id: str) -> Any:
            if logical_id not in resources:
                raise TemplateError(f"Ref to {logical_id}, which is not created (yet)")
            return resources[logical_id].physical_id

        def get_att(logical_id: str, attribute: str) -> Any:
            resource = resources.get(logical_id)
            if resource is None:
                raise TemplateError(f"GetAtt {logical_id}.{attribute} before it exists")
            if attribute not in resource.attributes:
                raise TemplateError(f"{logical_id} ({resource.type}) has no attribute {attribute}")
            return resource.attributes[attribute]

        def stack_output(stack_name: str, output_name: str) -> Any:
            outputs = self.aws.stack_outputs.get(stack_name)
            if outputs is None or output_name not in outputs:
                raise TemplateError(f"stack {stack_name} has no output {output_name} (deployed: {sorted(self.aws.stack_outputs)})")
            return outputs[output_name]

        return Resolver(template, self.name, self._parameter_values(template), ref, get_att, stack_output=stack_output, stack_id=self.stack_id)

    def _parameter_values(self, template: Mapping) -> dict[str, Any]:
        """Given values, else defaults; an SSM parameter type is read from Parameter Store
        ("SSM parameter types", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html)."""
        values = {}
        for name, spec in (template.get("Parameters") or {}).items():
            value = self.parameters.get(name, spec.get("Default"))
            if str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::Value<"):
                if value not in self.aws.ssm_values:
                    raise TemplateError(f"Unable to fetch parameters [{value}] from parameter store for this account.")
                value = self.aws.ssm_values[value]
            values[name] = value
        return values

    def _effective(self, template: dict) -> dict:
        for name, value in self.parameters.items():
            spec = (template.get("Parameters") or {}).get(name)
            if spec is None:
                raise TemplateError(f"Parameters: [{name}] do not exist in the template")
            if "AllowedValues" in spec and value not in spec["AllowedValues"]:
                raise TemplateError(f"Parameter '{name}' must be one of AllowedValues")
        return apply_conditions(template, self._parameter_values(template), self.name)

    def publish_outputs(self) -> None:
        resolver = self.resolver(self.template)
        self.aws.stack_outputs[self.name] = {
            name: resolver.resolve(output["Value"]) for name, output in (self.template.get("Outputs") or {}).items()}

    def _asset_dir(self, code: Mapping) -> Path:
        key = code.get("S3Key", "").rsplit("/", 1)[-1]  # a release puts its assets under a key prefix
        return self.asset_root / f"asset.{key.removesuffix('.zip')}"

    def _log(self, text: str) -> None:
        self.events.append(f"{self.kernel.clock.minutes:8.1f} min  {text}")

    # --- provisioning one resource ---------------------------------------------------------------

    def _client(self):
        return self.aws.client("personalize")

    def _create(self, logical_id: str, definition: Mapping, properties: Any):
        kind = definition["Type"]
        self._log(f"CREATE {logical_id} {kind}")
        physical, attributes = yield from self._provision(kind, logical_id, "Create", properties, None, None)
        return Resource(logical_id, kind, properties, physical, attributes,
                        {k: definition[k] for k in ("DeletionPolicy", "UpdateReplacePolicy") if k in definition})

    def _physical_name(self, kind: str, logical_id: str, properties: Mapping) -> str:
        """The template's name for the resource, claimed in the account; else one CloudFormation
        generates (stack name, logical id, a random suffix: unique on every creation)."""
        name = schemas.custom_name(kind, properties)
        if name is None:
            self._generated += 1
            suffix = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.stack_id}/{logical_id}#{self._generated}").hex[:12]
            generated = f"{self.name}-{logical_id}"[:50] + f"-{suffix}"
            name = (generated.lower() if kind == "AWS::S3::Bucket" else generated,)
        owner = self.aws.named.get((kind, name))
        if owner is not None:
            where = "retained by an earlier delete" if owner == RETAINED else f"in {owner}"
            raise ResourceFailed(f"{logical_id}: {'|'.join(map(str, name))} already exists ({where})")
        if kind == "AWS::S3::BucketPolicy" and ("AWS::S3::Bucket", name) not in self.aws.named:
            raise ResourceFailed(f"{logical_id}: The specified bucket does not exist ({name[0]})")
        self.aws.named[(kind, name)] = f"{self.name}/{logical_id}"
        return "|".join(map(str, name))

    def _release_name(self, resource: Resource, *, retained: bool) -> None:
        owner, physical = f"{self.name}/{resource.logical_id}", resource.physical_id
        for key in [key for key, value in self.aws.named.items() if value == owner and key[0] == resource.type]:
            name = "|".join(map(str, key[1]))
            if physical == name or physical.endswith((f":{name}", f"/{name}")):  # the name, or an ARN ending in it
                if retained:
                    self.aws.named[key] = RETAINED
                else:
                    del self.aws.named[key]

    def _provision(self, kind: str, logical_id: str, request: str, properties: Any, old: Resource | None, old_properties: Any):
        arn = lambda service, resource: f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"  # noqa: E731
        custom = kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource"
        # Named here: every type whose physical id CloudFormation makes (custom resources that are
        # only recorded included); Personalize's and the handlers' own name theirs.
        named_here = not (kind in NATIVE_PERSONALIZE or kind.startswith("AWS::CloudFormation::Wait") or (custom and self.custom_resources))
        short = ""
        if named_here:
            # In place, the name stays (a state machine's physical id is its ARN, its Name the name).
            short = old.attributes.get("Name", old.physical_id) if request == "Update" and old is not None else self._physical_name(kind, logical_id, properties)
        if kind == "AWS::IAM::Role":
            return short, {"Arn": f"arn:aws:iam::{ACCOUNT}:role/{short}", "RoleId": f"AROASIM{logical_id.upper()[:16]}"}
        if kind == "AWS::IAM::Policy":
            # In force only after IAM's propagation delay; until then the old document applies.
            yield Sleep(self.timings.iam_policy * 60)
            for old_role in (old.properties.get("Roles", []) if old is not None else []):
                self.aws.iam.delete_policy(old_role, logical_id)
            for role in properties.get("Roles", []):
                self.aws.iam.put_policy(role, logical_id, properties["PolicyDocument"])
            return short, {}
        if kind == "AWS::Lambda::Function":
            function_arn = arn("lambda", f"function:{short}")
            self.aws.functions[function_arn] = LambdaFunction(
                function_arn, properties["Runtime"], properties["Handler"], self._asset_dir(properties["Code"]),
                {k: str(v) for k, v in (properties.get("Environment") or {}).get("Variables", {}).items()},
                properties["Role"].rsplit("/", 1)[-1], int(properties.get("Timeout", 3)))
            return short, {"Arn": function_arn}
        if kind == "AWS::StepFunctions::StateMachine":
            machine_arn = arn("states", f"stateMachine:{short}")
            definition = json.loads(properties["DefinitionString"])
            check_definition(definition)  # a definition the simulator cannot run stops the scenario
            self.aws.state_machines[machine_arn] = definition
            return machine_arn, {"Arn": machine_arn, "Name": short}
        if kind == "AWS::CloudFormation::WaitConditionHandle":
            url = f"https://{HANDLE_HOST}/{self.name}/{logical_id}"
            self.aws.handles[url] = WaitHandle(url)
            return url + "?X-Amz-Signature=simulated", {}
        if kind == "AWS::CloudFormation::WaitCondition":
            if request == "Update":
                # The resource reference says "Updates are not supported" (whether CloudFormation
                # fails or ignores such an update is unconfirmed; failing is the safe model).
                raise ResourceFailed(f"{logical_id}: AWS::CloudFormation::WaitCondition does not support updates")
            return (yield from self._wait_condition(logical_id, properties))
        if kind.startswith(APPCONFIG_PREFIX):
            try:
                return self.aws.appconfig.provision(kind, properties, old.physical_id if request == "Update" and old else None)
            except AppConfigRefused as exc:
                raise ResourceFailed(f"{logical_id}: {exc}") from None
        if kind == "AWS::IAM::ManagedPolicy":
            return f"arn:aws:iam::{ACCOUNT}:policy/{properties.get('ManagedPolicyName') or short}", {}
        if kind in NATIVE_PERSONALIZE:
            if request == "Update":
                return (yield from self._native_update(logical_id, kind, properties, old))
            return (yield from self._native_create(kind, properties))
        if custom and self.custom_resources:
            return (yield from self._custom(logical_id, kind, request, properties, old, old_properties))
        if kind == "AWS::SSM::Parameter":
            self.aws.ssm_values[short] = properties.get("Value")
            return short, {"Type": "String", "Value": properties.get("Value")}
        if kind == "AWS::S3::BucketPolicy":
            # Evaluated for the service principals that reach the bucket (Personalize).
            self.aws.iam.put_resource_policy(f"arn:aws:s3:::{properties['Bucket']}", properties["PolicyDocument"])
            return short, {}
        if kind == "AWS::KMS::Key":
            key_arn = arn("kms", f"key/{short}")
            self.aws.iam.put_resource_policy(key_arn, properties.get("KeyPolicy") or {})
            return short, {"Arn": key_arn, "KeyId": short}
        if kind == "AWS::S3::Bucket":
            return short, {"Arn": f"arn:aws:s3:::{short}", "DomainName": f"{short}.s3.amazonaws.com"}
        return short, {"Arn": arn(kind.split("::")[1].lower(), short)}

    def _wait_condition(self, logical_id: str, properties: Mapping):
        url = properties["Handle"].split("?")[0]
        handle = self.aws.handles[url]
        count, timeout = int(properties.get("Count", 1)), float(properties["Timeout"])
        timer = Future("wait condition timeout")
        self.kernel.after(timeout, timer.resolve)
        while True:
            failures = [s for s in handle.signals.values() if s["Status"] == "FAILURE"]
            if failures:
                raise ResourceFailed(f"{logical_id}: WaitCondition received failed message: '{failures[0]['Reason']}'")
            if len(handle.signals) >= count:
                return f"{url}#condition", {"Data": json.dumps({k: s["Data"] for k, s in handle.signals.items()})}
            stop = self._stop or Future("never")
            first = yield wait_any(self.kernel, handle.changed, timer, stop)
            if first is timer:
                raise ResourceFailed(f"{logical_id}: WaitCondition timed out after {timeout / 3600:g} h (received {len(handle.signals)} of {count} signals)")
            if first is stop:
                raise ResourceCancelled(f"{logical_id}: Resource creation cancelled")

    def _native_update(self, logical_id: str, kind: str, properties: Mapping, old: Resource | None):
        """An update in place (the schema said so: no create-only property changed)."""
        assert old is not None
        if kind == "AWS::Personalize::Campaign":
            yield from self._update_campaign(old.physical_id, properties)
        return old.physical_id, old.attributes

    def _update_campaign(self, campaign_arn: str, properties: Mapping):
        client = self._client()
        params = {k: v for k, v in _camel(properties).items() if k in ("solutionVersionArn", "minProvisionedTPS", "campaignConfig")}
        try:
            client.update_campaign(campaignArn=campaign_arn, **params)
        except ClientError as exc:
            raise ResourceFailed(f"UpdateCampaign: {exc}") from None
        while True:  # the native handler waits for the update (*unconfirmed*: its exact wait)
            latest = client.describe_campaign(campaignArn=campaign_arn)["campaign"].get("latestCampaignUpdate") or {}
            if latest.get("status") == "ACTIVE":
                return
            if str(latest.get("status", "")).endswith("FAILED"):
                raise ResourceFailed(f"campaign {campaign_arn} update is {latest['status']}")
            yield Sleep(NATIVE_POLL_SECONDS)

    def _native_create(self, kind: str, properties: Mapping):
        suffix, arn_attribute = NATIVE_PERSONALIZE[kind]
        client = self._client()
        params = _camel(properties)
        if "tags" in params:
            params["tags"] = [{"tagKey": t["key"], "tagValue": t["value"]} for t in params["tags"]]
        if kind == "AWS::Personalize::Dataset":
            params["datasetType"] = params["datasetType"].upper()
            params.pop("datasetImportJob", None)
        try:
            response = getattr(client, f"create_{_snake(suffix)}")(**params)
        except ClientError as exc:
            raise ResourceFailed(f"Create{suffix}: {exc}") from None
        physical = response[_lower_first(arn_attribute)]
        attributes = {arn_attribute: physical}
        if "trackingId" in response:
            attributes["TrackingId"] = response["trackingId"]
        if suffix == "Schema":
            return physical, attributes
        while True:
            described = getattr(client, f"describe_{_snake(suffix)}")(**{_lower_first(arn_attribute): physical})
            status = described[_lower_first(suffix)]["status"]
            if status == "ACTIVE":
                return physical, attributes
            if status.endswith("FAILED"):
                raise ResourceFailed(f"{suffix} {physical} is {status}")
            yield Sleep(NATIVE_POLL_SECONDS)

    def _native_delete(self, kind: str, physical: str):
        suffix, arn_attribute = NATIVE_PERSONALIZE[kind]
        client = self._client()
        key = _lower_first(arn_attribute)
        try:
            getattr(client, f"delete_{_snake(suffix)}")(**{key: physical})
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return
            raise ResourceFailed(f"Delete{suffix} {physical}: {exc}") from None
        if suffix == "Schema":
            return
        while True:
            try:
                getattr(client, f"describe_{_snake(suffix)}")(**{key: physical})
            except ClientError:
                return
            yield Sleep(NATIVE_POLL_SECONDS)

    def _custom(self, logical_id: str, kind: str, request: str, properties: Mapping, old: Resource | None, old_properties: Any):
        token = properties["ServiceToken"]
        request_id = f"{self.name}-{next(self._request_ids):05d}"
        event = custom_resource_event(
            request, _stringify(properties), logical_id=logical_id, request_id=request_id, stack_id=self.stack_id,
            resource_type=kind, service_token=token, response_url=f"https://{RESPONSE_HOST}/{request_id}?X-Amz-Signature=simulated",
            physical_id=old.physical_id if old is not None else None,
            old_properties=_stringify(old_properties) if request == "Update" else None)
        response = self.aws.responses.setdefault(request_id, Future(request_id))
        # CloudFormation invokes the service token's function asynchronously.
        _, error = self.aws.invoke(token, event)
        if error and not response.done:
            raise ResourceFailed(f"{logical_id}: the Provider's onEvent failed without answering: {error[1][:300]}")
        timer = Future("custom resource timeout")
        self.kernel.after(CUSTOM_RESOURCE_TIMEOUT_SECONDS, timer.resolve)
        # Creates and updates of the forward phase are cancelled when another resource fails;
        # the Provider's waiter keeps running and its late answer is ignored.
        stop = (self._stop if request != "Delete" else None) or Future("never")
        first = yield wait_any(self.kernel, response, timer, stop)
        if first is stop and not response.done:
            if request == "Create":
                # The Delete of the rollback carries an id CloudFormation made up (docs/simulator-rules.md).
                self._failed_physical[logical_id] = generated_physical_id(self.name, logical_id, request_id)
                raise ResourceCancelled(f"{logical_id}: Resource creation cancelled")
            raise ResourceCancelled(f"{logical_id}: Resource update cancelled")
        if first is timer:
            raise ResourceFailed(f"{logical_id}: no response within {CUSTOM_RESOURCE_TIMEOUT_SECONDS // 60} min")
        body = response.value
        size = len(json.dumps(body).encode())
        self.aws.largest_response = max(self.aws.largest_response, (size, f"{logical_id} {request}"))
        if size > CUSTOM_RESOURCE_RESPONSE_LIMIT_BYTES:
            raise ResourceFailed(f"{logical_id}: Response object is too long ({size} bytes; CloudFormation accepts {CUSTOM_RESOURCE_RESPONSE_LIMIT_BYTES})")
        if body["Status"] != "SUCCESS":
            # The physical id of a failed Create is what its later Delete is sent with.
            self._failed_physical[logical_id] = body.get("PhysicalResourceId")
            raise ResourceFailed(f"{logical_id} {request} FAILED: {body.get('Reason', '')[:400]}")
        return body["PhysicalResourceId"], dict(body.get("Data") or {})

    def _delete(self, resource: Resource, *, replaced: bool = False):
        policy = resource.policies.get("UpdateReplacePolicy" if replaced else "DeletionPolicy", "Delete")
        if policy in ("Retain", "RetainExceptOnCreate"):
            self._log(f"RETAIN {resource.logical_id} {resource.physical_id}")
            self._release_name(resource, retained=True)
            return
        self._release_name(resource, retained=False)
        self._log(f"DELETE {resource.logical_id} {resource.physical_id}")
        kind = resource.type
        if kind == "AWS::IAM::Policy":
            for role in resource.properties.get("Roles", []):
                self.aws.iam.delete_policy(role, resource.logical_id)
        elif kind == "AWS::S3::BucketPolicy":
            self.aws.iam.delete_resource_policy(f"arn:aws:s3:::{resource.properties['Bucket']}")
        elif kind == "AWS::KMS::Key":
            self.aws.iam.delete_resource_policy(resource.attributes["Arn"])
        elif kind == "AWS::Lambda::Function":
            self.aws.functions.pop(resource.attributes["Arn"], None)
        elif kind == "AWS::StepFunctions::StateMachine":
            self.aws.state_machines.pop(resource.physical_id, None)
        elif kind == "AWS::SSM::Parameter":
            self.aws.ssm_values.pop(resource.physical_id, None)
        elif kind == "AWS::CloudFormation::WaitConditionHandle":
            handle = self.aws.handles.get(resource.physical_id.split("?")[0])
            if handle:
                handle.deleted = True
        elif kind in NATIVE_PERSONALIZE:
            yield from self._native_delete(kind, resource.physical_id)
        elif kind.startswith(APPCONFIG_PREFIX):
            try:
                self.aws.appconfig.delete(kind, resource.physical_id)
            except AppConfigRefused as exc:
                raise ResourceFailed(f"{resource.logical_id}: {exc}") from None
        elif kind.startswith("Custom::") and self.custom_resources:
            yield from self._custom(resource.logical_id, kind, "Delete", resource.properties, resource, None)
        if False:  # pragma: no cover - keeps this a generator for every type
            yield

    # --- walking the graph ------------------------------------------------------------------------

    def _walk(self, nodes: Iterable[str], depends: Mapping[str, set[str]], action: Callable[[str], Any],
              *, stop_on_failure: bool = True):
        """Run ``action(node)`` (a process) for every node once its dependencies finished,
        in parallel; returns {node: error} for the failed ones."""
        nodes = list(nodes)
        done: dict[str, Future] = {node: Future(node) for node in nodes}
        failures: dict[str, str] = {}

        def run(node: str):
            blocked_by = []
            for dependency in sorted(depends.get(node, ()), reverse=self.reversed_order):
                if dependency in done:
                    if not (yield done[dependency]):
                        blocked_by.append(dependency)
            if failures and stop_on_failure:
                done[node].resolve(False)
                return
            if blocked_by:
                # What a resource that could not be deleted still uses is kept (CloudFormation
                # does not delete a dependency of a resource it failed to delete).
                failures[node] = f"kept: {', '.join(sorted(blocked_by))} could not be deleted"
                done[node].resolve(False)
                return
            try:
                yield from action(node)
            except ResourceFailed as exc:
                failures[node] = str(exc)
                self._log(f"FAILED {node}: {exc}")
            except (ClientError, TemplateError) as exc:
                failures[node] = f"{type(exc).__name__}: {exc}"
                self._log(f"FAILED {node}: {exc}")
            if node in failures and stop_on_failure and self._stop is not None:
                # CloudFormation cancels what is still in progress once a resource failed.
                self._stop.resolve()
            done[node].resolve(node not in failures)

        for node in nodes:
            self.kernel.spawn(run(node))
        for node in nodes:
            yield done[node]
        return failures

    # --- stack operations --------------------------------------------------------------------------

    def deploy(self, template: dict, parameters: Mapping[str, str] | None = None):
        """Create the stack, or update it to ``template`` with these parameter values (the others
        take their defaults). Returns an Outcome."""
        started = self.kernel.clock.minutes
        self._failed_physical: dict[str, str] = {}
        self.parameters = dict(parameters or {})
        template = self._effective(template)
        if not self.resources:
            # Every creation of a stack gets a new id (CloudFormation's UUID), deterministic here.
            self._creations += 1
            unique = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.name}#{self._creations}")
            self.stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{self.name}/{unique}"
            outcome = yield from self._create_stack(template)
        else:
            outcome = yield from self._update_stack(template)
        outcome.minutes = self.kernel.clock.minutes - started
        return outcome

    def _forward_phase(self) -> Future:
        """The stop signal of a create or update's forward phase: a failure or a cancel."""
        stop = self._stop = Future("stop")

        def on_cancel():
            yield self.cancel
            stop.resolve()
        self.kernel.spawn(on_cancel())
        return stop

    def _resolved(self, template: Mapping, logical_id: str, overlay: Mapping[str, Resource] | None = None) -> Any:
        return self.resolver(template, overlay).resolve(template["Resources"][logical_id].get("Properties", {}))

    def _create_stack(self, template: dict):
        self.template = template
        graph = dependencies(template)
        failures: dict[str, str] = {}

        def create(logical_id: str):
            definition = template["Resources"][logical_id]
            resource = yield from self._create(logical_id, definition, self._resolved(template, logical_id))
            self.resources[logical_id] = resource

        self._forward_phase()
        failures = yield from self._walk(graph, graph, create)
        self._stop = None
        if not failures:
            self.publish_outputs()
            return Outcome("CREATE_COMPLETE")
        # Rollback: delete what was created, and send the failed custom resources their Delete.
        for logical_id in failures:
            physical = self._failed_physical.get(logical_id)
            if physical and logical_id not in self.resources:
                definition = template["Resources"][logical_id]
                self.resources[logical_id] = Resource(logical_id, definition["Type"], self._safe_resolved(template, logical_id),
                                                      physical, {}, {})
        rollback_failures = yield from self._delete_all(template)
        status = "ROLLBACK_COMPLETE" if not rollback_failures else "ROLLBACK_FAILED"
        return Outcome(status, _roots([*_causes_first(failures), *rollback_failures.values()]))

    def _safe_resolved(self, template: Mapping, logical_id: str) -> Any:
        try:
            return self._resolved(template, logical_id)
        except TemplateError:
            return {}

    def _delete_all(self, template: Mapping, *, which: Iterable[str] | None = None):
        graph = dependencies(template)
        targets = [r for r in (which if which is not None else list(self.resources)) if r in self.resources]
        reverse: dict[str, set[str]] = {node: set() for node in targets}
        for node in targets:
            for dependency in graph.get(node, ()):
                if dependency in reverse:
                    reverse[dependency].add(node)

        def delete(logical_id: str):
            yield from self._delete(self.resources[logical_id])
            self.resources.pop(logical_id, None)

        failures = yield from self._walk(targets, reverse, delete, stop_on_failure=False)
        return failures

    def destroy(self):
        started = self.kernel.clock.minutes
        failures = yield from self._delete_all(self.template)
        status = "DELETE_COMPLETE" if not failures else "DELETE_FAILED"
        return Outcome(status, _roots(failures.values()), minutes=self.kernel.clock.minutes - started)

    def _update_stack(self, new_template: dict):
        old_template = self.template
        old_resources = dict(self.resources)
        graph = dependencies(new_template)
        replaced: dict[str, Resource] = {}   # logical id → the old resource, deleted in cleanup
        created: list[str] = []
        updated: dict[str, Resource] = {}    # logical id → resource before the update
        attempted: dict[str, Any] = {}       # logical id → the properties its update was sent

        def update(logical_id: str):
            definition = new_template["Resources"][logical_id]
            properties = self._resolved(new_template, logical_id)
            current = self.resources.get(logical_id)
            if current is None or current.type != definition["Type"]:
                if current is not None:
                    replaced[logical_id] = current
                resource = yield from self._create(logical_id, definition, properties)
                self.resources[logical_id] = resource
                created.append(logical_id)
                return
            if properties == current.properties:
                return
            kind = definition["Type"]
            if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
                if properties.get("ServiceToken") != current.properties.get("ServiceToken"):
                    # CloudFormation refuses this update ("ServiceToken ... Updates are not
                    # supported", https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-customresource.html).
                    raise ResourceFailed(f"{logical_id}: Modifying service token is not allowed.")
            elif replacing := schemas.replacing_changes(kind, current.properties, properties):
                name = schemas.custom_name(kind, properties)
                if name is not None and name == schemas.custom_name(kind, current.properties):
                    raise ResourceFailed(f"{logical_id}: CloudFormation cannot update a stack when a custom-named resource requires replacing."
                                         f" Rename {'|'.join(map(str, name))} and update the stack again. (create-only: {', '.join(replacing)})")
                self._log(f"REPLACE {logical_id} ({', '.join(replacing)})")
                replaced[logical_id] = current
                updated[logical_id] = current
                self.resources[logical_id] = yield from self._create(logical_id, definition, properties)
                return
            self._log(f"UPDATE {logical_id}")
            updated[logical_id] = current
            attempted[logical_id] = properties
            physical, attributes = yield from self._provision(definition["Type"], logical_id, "Update", properties, current, current.properties)
            self.resources[logical_id] = Resource(logical_id, current.type, properties, physical, attributes,
                                                  {k: definition[k] for k in ("DeletionPolicy", "UpdateReplacePolicy") if k in definition})
            if physical != current.physical_id:
                replaced[logical_id] = current

        self.template = new_template
        self._forward_phase()
        failures = yield from self._walk(graph, graph, update)
        self._stop = None
        if not failures:
            removed = [r for r in old_resources if r not in new_template["Resources"]]
            leaks = yield from self._cleanup(old_template, removed, replaced)
            self.publish_outputs()
            return Outcome("UPDATE_COMPLETE", leaks=leaks)
        # Rollback: old properties re-sent to what was updated (new physical ids are replaced
        # by the old ones), then a cleanup deletes what the failed update created.
        rollback_failures: list[str] = []
        self.template = old_template
        old_graph = dependencies(old_template)

        def restore(logical_id: str):
            previous = updated[logical_id]
            current = self.resources[logical_id]
            if logical_id in replaced:
                return  # the old physical resource comes back; the new one goes in the cleanup
            if current is previous and current.type == "AWS::CloudFormation::WaitCondition":
                return  # its update was refused: nothing changed to roll back
            self._log(f"ROLLBACK UPDATE {logical_id}")
            # Rolled back new → old: ResourceProperties are the old properties and
            # OldResourceProperties the ones the failed update sent (aws/aws-cdk
            # docs/CLOUDFORMATION.md, "Custom Resources"), also to the resource whose update
            # failed or was cancelled (it may have applied part of them; docs/simulator-rules.md F4).
            physical, attributes = yield from self._provision(previous.type, logical_id, "Update", previous.properties, current, attempted[logical_id])
            self.resources[logical_id] = Resource(logical_id, previous.type, previous.properties, physical, attributes, previous.policies)

        restore_failures = yield from self._walk([r for r in old_graph if r in updated], old_graph, restore, stop_on_failure=False)
        rollback_failures += restore_failures.values()
        # The rollback's cleanup deletes what the failed update created: new resources and the
        # new physical resources of replacements.
        doomed = {f"{logical_id}#new": self.resources.pop(logical_id) for logical_id in created if logical_id in self.resources}
        for logical_id, previous in replaced.items():
            new_resource = self.resources.get(logical_id)
            if new_resource is not None and new_resource is not previous:
                doomed[f"{logical_id}#new"] = new_resource
            self.resources[logical_id] = previous
        leaks = yield from self._cleanup(new_template, [], {}, extra=doomed)
        status = "UPDATE_ROLLBACK_COMPLETE" if not rollback_failures and not leaks else "UPDATE_ROLLBACK_FAILED"
        return Outcome(status, _roots([*_causes_first(failures), *rollback_failures]), leaks=leaks)

    def _cleanup(self, template: Mapping, removed: list[str], replaced: Mapping[str, Resource], *, extra: Mapping[str, Resource] | None = None):
        """Cleanup phase: delete removed and replaced resources; a failed delete is a leak."""
        graph = dependencies(template)
        victims = {logical_id: self.resources[logical_id] for logical_id in removed}
        victims.update({f"{logical_id}#old": old for logical_id, old in replaced.items()})
        victims.update(extra or {})
        base = lambda name: name.split("#", 1)[0]  # noqa: E731
        reverse: dict[str, set[str]] = {name: set() for name in victims}
        for name in victims:
            for other in victims:
                if base(name) in graph.get(base(other), ()):
                    reverse[name].add(other)

        def delete(name: str):
            yield from self._delete(victims[name], replaced=name.endswith("#old"))

        failures = yield from self._walk(list(victims), reverse, delete, stop_on_failure=False)
        for name in removed:
            if name not in failures:
                self.resources.pop(name, None)
        return [f"cleanup of {name} failed (left behind): {error}" for name, error in failures.items() if not error.startswith("kept:")]


def apply_conditions(template: dict, parameters: Mapping[str, Any], stack_name: str = "stack") -> dict:
    """The template as a deploy with these parameter values creates it: only the resources and
    outputs whose Condition holds ("Conditions", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/conditions-section-structure.html)."""
    def nothing(*_: Any) -> Any:
        raise TemplateError("a Condition may refer to parameters and pseudo parameters only")

    resolver = Resolver(template, stack_name, parameters, nothing, nothing)
    kept = {logical_id: resource for logical_id, resource in template["Resources"].items()
            if "Condition" not in resource or resolver.condition(resource["Condition"])}
    for logical_id, resource in kept.items():
        depends = resource.get("DependsOn") or []
        for dependency in [depends] if isinstance(depends, str) else depends:
            if dependency not in kept:
                # Stricter than silence: a dependency the conditions leave out is an error.
                raise TemplateError(f"Template format error: Unresolved resource dependencies [{dependency}] of {logical_id}")
    outputs = {name: output for name, output in (template.get("Outputs") or {}).items()
               if "Condition" not in output or resolver.condition(output["Condition"])}
    return {**template, "Resources": kept, "Outputs": outputs}


def _causes_first(failures: Mapping[str, str]) -> list[str]:
    """Failures in the order they happened, what was cancelled because of them after them."""
    return sorted(failures.values(), key=lambda failure: failure.endswith(("creation cancelled", "update cancelled")))


def _roots(failures: Iterable[str]) -> list[str]:
    """The failures themselves, without the resources kept because of them."""
    return [failure for failure in failures if not failure.startswith("kept:")]


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
