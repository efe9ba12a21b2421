"""The AWS the handlers see during a simulation: Lambda functions (Python handlers imported
from the synthesized asset, Node ones run by the Provider framework bridge), every boto3 call
routed through botocore's validation to the fakes after an IAM check of the calling role's
policy as it is at that moment, Step Functions executions and WaitCondition handle URLs."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import importlib
import io
import json
import os
import subprocess
import sys
import traceback
import types
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import botocore.session
import botocore.useragent
from botocore.awsrequest import AWSResponse

from harness import states
from harness.appconfig import FakeAppConfig
from harness.fake_service import StackFakePersonalize
from stacks.iam_reference import PERSONALIZE_PRINCIPAL, action as reference_action
from harness.iam import Iam, Request
from harness.intrinsics import ACCOUNT, REGION
from harness.kernel import Future, Kernel

BRIDGE = Path(__file__).with_name("bridge.js")
HANDLE_HOST = "cloudformation-waitcondition-us-east-1.s3.amazonaws.com"
RESPONSE_HOST = "cloudformation-custom-resource-response-useast1.s3.amazonaws.com"

# botocore's loader of service models, shared by every run's session: it caches the models each
# new session would otherwise read and decompress again.
_SERVICE_MODELS = botocore.session.get_session().get_component("data_loader")
_caller: contextvars.ContextVar[str | None] = contextvars.ContextVar("caller", default=None)
# Seconds the running Python handler has slept (backoffs) in this invocation.
_slept: contextvars.ContextVar[float] = contextvars.ContextVar("slept", default=0.0)
# IAM's service prefix where it is not botocore's endpoint prefix.
IAM_PREFIXES = {"monitoring": "cloudwatch"}
# The SDK's Lambda FunctionActiveV2 waiter CDK's framework uses after a failed Invoke (seconds).
FUNCTION_WAITER_MIN_DELAY, FUNCTION_WAITER_MAX_DELAY, FUNCTION_WAITER_MAX_WAIT = 1.0, 120.0, 300.0
# What every simulated call carries: the SDK and the services call over TLS.
REQUEST_CONTEXT = {"aws:SecureTransport": "true"}


def _role_arns(params: Any) -> list[str]:
    """Every `roleArn` in a request, nested ones too (metricsOutputConfig.roleArn)."""
    if isinstance(params, Mapping):
        return [v for k, v in params.items() if k == "roleArn" and isinstance(v, str)] + [a for v in params.values() for a in _role_arns(v)]
    if isinstance(params, list):
        return [a for v in params for a in _role_arns(v)]
    return []
# The owner of a named resource that a Retain delete left in the account (Aws.named).
RETAINED = "(no stack: retained)"


def _stack_name(name_or_arn: str) -> str:
    return name_or_arn.split(":stack/", 1)[1].split("/", 1)[0] if ":stack/" in name_or_arn else name_or_arn




@dataclass
class LambdaFunction:
    arn: str
    runtime: str
    handler: str
    asset_dir: Path
    environment: dict[str, str]
    role: str
    timeout: int


@dataclass
class WaitHandle:
    url: str
    signals: dict[str, dict] = field(default_factory=dict)
    changed: Future = field(default_factory=Future)
    deleted: bool = False


class FrameworkBridge:
    """One long-lived Node process running the asset's framework.js (see bridge.js)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(["node", str(BRIDGE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self._ids = 0

    def run(self, asset_dir: Path, handler: str, env: Mapping[str, str], event: Any,
            answer: Callable[[str, Any], Any]) -> tuple[Any, dict | None]:
        self._ids += 1
        message = {"id": self._ids, "assetDir": str(asset_dir), "handler": handler, "env": dict(env), "event": event}
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("the Node framework bridge exited")
            reply = json.loads(line)
            if "done" in reply:
                return reply.get("result"), reply.get("error")
            try:
                result, error = answer(reply["call"], reply["body"]), None
            except Exception as exc:  # reported to the framework code as the SDK would throw
                result, error = None, f"{type(exc).__name__}: {exc}"
            self.process.stdin.write(json.dumps({"cid": reply["cid"], "result": result, "error": error}, default=str) + "\n")
            self.process.stdin.flush()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


@dataclass
class Faults:
    """Failures a scenario injects."""

    start_execution_errors: int = 0          # StartExecution refused (for an input that mentions:)
    start_execution_match: str = "recommender"
    poll_lambda_timeouts: int = 0            # the poller's Lambda times out
    throttle_burst: int = 0                  # every Personalize operation throttled this many times in a row


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `values` set, restored on exit: only those keys, where mock.patch.dict
    would copy and rewrite the whole environment (a third of an invocation's cost)."""
    previous = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Aws:
    def __init__(self, kernel: Kernel, personalize: StackFakePersonalize, iam: Iam, bridge: FrameworkBridge) -> None:
        self.kernel, self.personalize, self.iam, self.bridge = kernel, personalize, iam, bridge
        self.functions: dict[str, LambdaFunction] = {}
        self.state_machines: dict[str, dict] = {}
        self.executions: dict[str, states.Execution] = {}
        self.handles: dict[str, WaitHandle] = {}
        self.responses: dict[str, Future] = {}
        self.s3_objects: dict[str, int] = {}
        self.faults = Faults()
        self.calls: Counter[str] = Counter()
        self.handler_errors: list[str] = []
        self.denied_calls: list[str] = []
        self.stack_outputs: dict[str, dict[str, Any]] = {}
        self.service_role_refusals: list[str] = []
        self.stacks: dict[str, Any] = {}  # stack name → cloudformation.Stack
        self.propagation_denials: list[str] = []  # denied only while a new policy propagated
        # IAM sees a handler's backoff sleeps pass (the kernel clock stands still within a call).
        iam.offset = _slept.get
        # (type, custom name) → "stack/logical id" or RETAINED: names are unique in the account
        # (S3 bucket names globally), and a retained resource keeps its name after its stack is gone.
        self.named: dict[tuple[str, tuple], str] = {}
        self.largest_response: tuple[int, str] = (0, "")  # bytes, which custom resource answered it
        # Parameter Store: the account is bootstrapped (the CDK's default synthesizer checks it).
        self.ssm_values: dict[str, Any] = {"/cdk-bootstrap/hnb659fds/version": "30"}
        self.appconfig = FakeAppConfig()

    # --- the boto3 side -----------------------------------------------------------------------

    @contextlib.contextmanager
    def patched(self, modules: Mapping[str, Any]) -> Iterator[None]:
        core_session = botocore.session.get_session()
        core_session.register_component("data_loader", _SERVICE_MODELS)
        session = boto3.Session(aws_access_key_id="simulated", aws_secret_access_key="simulated", region_name=REGION,
                                botocore_session=core_session)
        session.events.register("before-parameter-build.*.*", self._remember_params)
        session.events.register("before-call.*.*", self._respond)
        self._clients: dict[str, Any] = {}
        core = modules["core"]
        # Cached clients (a warm Lambda's) belong to the previous scenario's world: drop them.
        caches = [value for module in modules.values() for value in vars(module).values() if hasattr(value, "cache_clear")]
        for cache in caches:
            cache.cache_clear()
        with contextlib.ExitStack() as stack:
            stack.enter_context(mock.patch.object(boto3, "DEFAULT_SESSION", session))
            # No request leaves the process, so no User-Agent is read: building one per call
            # was 6% of the CPU of playing a scenario.
            stack.enter_context(mock.patch.object(botocore.useragent.UserAgentString, "to_string", lambda _: "simulator"))
            stack.enter_context(mock.patch.object(core, "sleep", lambda seconds: _slept.set(_slept.get() + seconds)))
            clock = self.kernel.clock
            for module in modules.values():
                if callable(getattr(module, "now", None)):
                    # The handlers' wall clock ("now()", replaceable by design) is the simulated
                    # one, in the type each module's now() returns (epoch seconds or a datetime).
                    simulated = (lambda: clock.now) if isinstance(module.now(), dt.datetime) else clock.epoch
                    stack.enter_context(mock.patch.object(module, "now", simulated))
            stack.enter_context(mock.patch("urllib.request.urlopen", self._urlopen))
            stack.enter_context(mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}))
            try:
                yield
            finally:
                for cache in caches:
                    cache.cache_clear()

    def client(self, service: str) -> Any:
        """The account's own client of a service (CloudFormation's calls), made once per run."""
        if service not in self._clients:
            self._clients[service] = boto3.client(service)
        return self._clients[service]

    @staticmethod
    def _remember_params(params: dict, context: dict, **_: Any) -> None:
        context["fake_personalize_params"] = params
        context["simulator_params"] = params

    def _error(self, code: str, message: str, status: int = 400) -> tuple[AWSResponse, dict]:
        return AWSResponse(None, status, {}, None), {"Error": {"Code": code, "Message": message},
                                                     "ResponseMetadata": {"HTTPStatusCode": status}}

    def _respond(self, model: Any, context: dict, **_: Any) -> tuple[AWSResponse, dict]:
        service = model.service_model.endpoint_prefix
        params = context["simulator_params"]
        role = _caller.get()
        self.calls[f"{service}:{model.name}"] += 1
        for request in self._requests(service, model.name, params):
            if role is not None and not (decision := self.iam.authorize(role, request)).allowed:
                self.iam.denied.append(decision.reason)
                denials = self.propagation_denials if decision.propagating else self.denied_calls
                denials.append(f"{model.name}: {decision.reason}")
                return self._error("AccessDeniedException", f"User: {role} is not authorized: {decision.reason}")
        if service == "personalize" and (refusal := self._service_role_refusal(model.name, params)):
            return self._error("InvalidInputException", refusal)
        if service == "personalize":
            if self.faults.throttle_burst and role is not None:
                self._throttled = getattr(self, "_throttled", 0) + 1
                if self._throttled % (self.faults.throttle_burst + 1):
                    return self._error("ThrottlingException", "Rate exceeded")
            return self.personalize._respond(model=model, context=context)
        if service == "states" and model.name == "StartExecution":
            return self._start_execution(params)
        if service == "s3" and model.name == "PutObject":
            if ("AWS::S3::Bucket", (params["Bucket"],)) not in self.named:
                return self._error("NoSuchBucket", "The specified bucket does not exist", 404)
            body = params.get("Body", b"")
            self.s3_objects[f"s3://{params['Bucket']}/{params['Key']}"] = len(body) if hasattr(body, "__len__") else 0
            return AWSResponse(None, 200, {}, None), {"ResponseMetadata": {"HTTPStatusCode": 200}}
        if service == "cloudformation" and model.name == "DescribeStackResource":
            return self._describe_stack_resource(params)
        raise NotImplementedError(f"the simulator has no fake for {service}:{model.name}")

    def _describe_stack_resource(self, params: Mapping) -> tuple[AWSResponse, dict]:
        name = _stack_name(params["StackName"])
        stack = self.stacks.get(name)
        resource = stack.resources.get(params["LogicalResourceId"]) if stack else None
        if resource is None:
            return self._error("ValidationError", f"Resource {params['LogicalResourceId']} does not exist for stack {params['StackName']}")
        detail = {"StackName": name, "StackId": stack.stack_id, "LogicalResourceId": resource.logical_id,
                  "PhysicalResourceId": resource.physical_id, "ResourceType": resource.type,
                  "LastUpdatedTimestamp": self.kernel.clock.now, "ResourceStatus": "CREATE_COMPLETE"}
        return AWSResponse(None, 200, {}, None), {"StackResourceDetail": detail, "ResponseMetadata": {"HTTPStatusCode": 200}}

    def _service_role_refusal(self, operation: str, params: Mapping) -> str | None:
        """Personalize checks at once that it can do, with the role it is handed, what it will do
        with it: the role's policy AND the bucket's or key's own policy must let it (Developer
        Guide, "Giving Amazon Personalize access to Amazon S3 resources" and "... to your AWS KMS key")."""
        for role_arn, request, owner in self._service_accesses(operation, params):
            role = role_arn.rsplit("/", 1)[-1]
            decisions = [self.iam.authorize(role, request), self.iam.resource_policy_allows(owner, PERSONALIZE_PRINCIPAL, request)]
            for decision in decisions:
                if not decision.allowed:
                    self.service_role_refusals.append(f"{operation}: {decision.reason}")
                    return f"Amazon Personalize cannot {request.action} {request.resource} with role {role_arn}: {decision.reason}"
        return None

    def _service_accesses(self, operation: str, params: Mapping) -> list[tuple[str, Request, str]]:
        """(role ARN, request Personalize makes with it, ARN of the resource whose policy must allow it)."""
        created = self._created_arn(operation, params)
        context = {**REQUEST_CONTEXT, "aws:SourceAccount": ACCOUNT, **({"aws:SourceArn": created} if created else {})}
        accesses: list[tuple[str, Request, str]] = []

        def s3(role_arn: str, action: str, uri: str, folder_file: str) -> None:
            bucket, _, key = uri.removeprefix("s3://").partition("/")
            if action == "s3:GetObject":
                accesses.append((role_arn, Request("s3:ListBucket", f"arn:aws:s3:::{bucket}", {**context, "s3:prefix": key}), f"arn:aws:s3:::{bucket}"))
            obj = f"{key}{folder_file}" if not key or key.endswith("/") else key
            accesses.append((role_arn, Request(action, f"arn:aws:s3:::{bucket}/{obj}", context), f"arn:aws:s3:::{bucket}"))

        if operation == "CreateDatasetGroup" and params.get("kmsKeyArn") and params.get("roleArn"):
            for action in ("kms:Decrypt", "kms:GenerateDataKey"):
                accesses.append((params["roleArn"], Request(action, params["kmsKeyArn"], context), params["kmsKeyArn"]))
        if operation == "CreateDatasetImportJob":
            s3(params["roleArn"], "s3:GetObject", params["dataSource"]["dataLocation"], "part-0.csv")
        if operation == "CreateDatasetExportJob":
            s3(params["roleArn"], "s3:PutObject", params["jobOutput"]["s3DataDestination"]["path"].rstrip("/") + "/", "part-0.csv")
        output = params.get("metricsOutputConfig") or {}
        if operation in ("CreateMetricAttribution", "UpdateMetricAttribution") and (output.get("s3DataDestination") or {}).get("path"):
            path = output["s3DataDestination"]["path"].rstrip("/") + "/"
            s3(output["roleArn"], "s3:PutObject", path, "AggregatedAttributionMetrics.csv")
        return accesses

    # --- authorization of a handler's call, as IAM does it ------------------------------------

    def _requests(self, service: str, operation: str, params: Mapping) -> list[Request]:
        """Every IAM request an API call makes: its own action; personalize:TagResource for a
        Create that carries tags (Developer Guide, "Tagging Amazon Personalize resources": tagging
        on create needs the tagging permission; the reference publishes no dependent action for
        it, so it is modelled); iam:PassRole with iam:PassedToService for each role it passes."""
        name = f"{IAM_PREFIXES.get(service, service)}:{operation}"
        candidates = self._request_arns(service, operation, params)
        requests = [Request(name, self._resource_of(name, candidates), self._context(name, params))]
        if service == "personalize" and operation.startswith("Create") and params.get("tags"):
            requests.append(Request("personalize:TagResource", self._resource_of("personalize:TagResource", candidates)))
        if service == "personalize":
            requests += [Request("iam:PassRole", arn, {"iam:PassedToService": PERSONALIZE_PRINCIPAL}) for arn in _role_arns(params)]
        return requests

    @staticmethod
    def _resource_of(action_name: str, candidates: list[str]) -> str:
        """The resource IAM authorizes `action_name` against: "*" when the reference gives the
        action no resource type, else the request's ARN of one of its resource types."""
        reference = reference_action(action_name)
        if not reference.takes_resources:
            return "*"
        fitting = [arn for arn in candidates if reference.resource_type_of(arn)]
        if not fitting:
            types = ", ".join(t.arn for t in reference.resource_types)
            raise NotImplementedError(f"the simulator cannot tell which resource ({types}) {action_name} acts on from {candidates}")
        return fitting[0]

    @staticmethod
    def _context(action_name: str, params: Mapping) -> dict[str, str]:
        """The request's condition keys: only those the reference lists for the action (and global ones)."""
        reference = reference_action(action_name)
        context = dict(REQUEST_CONTEXT)
        if action_name == "s3:ListBucket":
            context["s3:prefix"] = params.get("Prefix", "")
        if action_name == "cloudwatch:PutMetricData":
            context["cloudwatch:namespace"] = params.get("Namespace", "")
        return {key: value for key, value in context.items() if reference.supports_condition_key(key)}

    def _request_arns(self, service: str, operation: str, params: Mapping) -> list[str]:
        """ARNs a request names, the ARN of what a Create makes last."""
        if service == "s3":
            bucket = f"arn:aws:s3:::{params.get('Bucket')}"
            return [f"{bucket}/{params['Key']}", bucket] if "Key" in params else [bucket]
        if service == "cloudformation":
            stack = self.stacks.get(_stack_name(params.get("StackName", "")))
            return [stack.stack_id if stack else params.get("StackName", "")]
        named = [value for key, value in params.items() if key.endswith("Arn") and isinstance(value, str)]
        created = self._created_arn(operation, params) if service == "personalize" else None
        return named + ([created] if created else [])

    def _created_arn(self, operation: str, params: Mapping) -> str | None:
        """The ARN Personalize gives what Create<Type> makes: its name under the action's resource type."""
        name = params.get("name") or params.get("jobName")
        if not operation.startswith("Create") or not name:
            return None
        types = reference_action(f"personalize:{operation}").resource_types
        kind = types[0].arn.rsplit(":", 1)[-1].split("/", 1)[0] if types else None
        return self.personalize.arn(kind, name) if kind else None

    def _urlopen(self, request: Any, timeout: float | None = None, **_: Any) -> Any:
        url = request.full_url if hasattr(request, "full_url") else str(request)
        handle = self.handles.get(url.split("?")[0])
        if handle is None or handle.deleted:
            raise urllib.error.HTTPError(url, 403, "Forbidden", {}, io.BytesIO(b"AccessDenied"))
        signal = json.loads(request.data)
        handle.signals[signal["UniqueId"]] = signal
        handle.changed.resolve()
        handle.changed = Future()
        response = mock.MagicMock()
        response.status = 200
        response.__enter__.return_value = response
        return response

    # --- Step Functions -------------------------------------------------------------------------

    def _start_execution(self, params: Mapping) -> tuple[AWSResponse, dict]:
        if self.faults.start_execution_errors and self.faults.start_execution_match in params.get("input", ""):
            self.faults.start_execution_errors -= 1
            return self._error("ServiceUnavailable", "injected: StartExecution failed", 503)
        machine = params["stateMachineArn"]
        if machine not in self.state_machines:
            return self._error("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{machine}'")
        name = params.get("name") or f"sim-{len(self.executions)}"
        arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
        if arn in self.executions:
            return self._error("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        self.start_execution(machine, name, json.loads(params.get("input") or "{}"))
        return AWSResponse(None, 200, {}, None), {"executionArn": arn, "startDate": self.kernel.clock.now,
                                                  "ResponseMetadata": {"HTTPStatusCode": 200}}

    def start_execution(self, machine: str, name: str, document: Any) -> states.Execution:
        arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
        execution = states.Execution(arn, self.state_machines[machine], document)
        self.executions[arn] = execution
        self.kernel.spawn(states.run(self.kernel, execution, self.invoke, task_fault=self._task_fault))
        return execution

    def _task_fault(self, function_arn: str) -> str | None:
        function = self.functions.get(function_arn)
        if function and self.faults.poll_lambda_timeouts and function.handler.endswith(".poll_step"):
            self.faults.poll_lambda_timeouts -= 1
            return "Sandbox.Timedout"
        return None

    # --- Lambda ---------------------------------------------------------------------------------

    def invoke(self, function_arn: str, payload: Any) -> tuple[Any, tuple[str, str] | None]:
        function = self.functions.get(function_arn)
        if function is None:
            return None, ("Lambda.ResourceNotFoundException", f"Function not found: {function_arn}")
        if function.runtime.startswith("nodejs"):
            module, handler = function.handler.rsplit(".", 1)
            if module != "framework":
                raise NotImplementedError(f"Node handler {function.handler} is not the Provider framework")
            token, slept = _caller.set(function.role), _slept.set(0.0)
            try:
                result, error = self.bridge.run(function.asset_dir, handler, function.environment, payload, self._answer_framework)
            finally:
                _caller.reset(token)
                _slept.reset(slept)
            if error:
                return None, (error["errorType"], json.dumps({"errorType": error["errorType"], "errorMessage": error["errorMessage"]}))
            return result, None
        return self._invoke_python(function, payload)

    def _invoke_python(self, function: LambdaFunction, payload: Any) -> tuple[Any, tuple[str, str] | None]:
        if str(function.asset_dir) not in sys.path:
            sys.path.insert(0, str(function.asset_dir))
        module_name, handler_name = function.handler.rsplit(".", 1)
        handler = getattr(importlib.import_module(module_name), handler_name)
        # Lambda's context object; a plain one, so a handler reading an attribute Lambda lacks fails.
        context = types.SimpleNamespace(invoked_function_arn=function.arn, function_name=function.arn.rsplit(":", 1)[-1],
                                        aws_request_id="sim", get_remaining_time_in_millis=lambda: function.timeout * 1000)
        # Called by the framework: it starts when the framework's own waits ended.
        token, slept = _caller.set(function.role), _slept.set(_slept.get())
        try:
            with _environment(function.environment):
                result = handler(json.loads(json.dumps(payload)), context)
            return json.loads(json.dumps(result, default=str)), None
        except Exception as exc:
            self.handler_errors.append(f"{function.handler}: {type(exc).__name__}: {exc}")
            return None, (type(exc).__name__, json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc),
                                                          "trace": traceback.format_exception(exc)[-3:]}))
        finally:
            _caller.reset(token)
            _slept.reset(slept)

    def _framework_may_invoke(self, function_arn: str) -> bool:
        """The framework's Invoke as CDK's outbound.js does it: on any error, wait with
        `waitUntilFunctionActiveV2` (up to 300 s, polling GetFunction; a failed poll counts as
        "retry", as in the SDK's generated waiters), then invoke once more."""
        role, request = _caller.get(), Request("lambda:InvokeFunction", function_arn, REQUEST_CONTEXT)
        if self.iam.authorize(role, request).allowed:
            return True
        waited, delay = 0.0, FUNCTION_WAITER_MIN_DELAY
        while waited < FUNCTION_WAITER_MAX_WAIT and not self.iam.authorize(role, Request("lambda:GetFunction", function_arn, REQUEST_CONTEXT)).allowed:
            _slept.set(_slept.get() + delay)
            waited, delay = waited + delay, min(delay * 2, FUNCTION_WAITER_MAX_DELAY)
        decision = self.iam.authorize(role, request)
        if not decision.allowed:
            self.iam.denied.append(decision.reason)
        elif waited:
            self.propagation_denials.append(f"Invoke (framework, after waiting {waited:g} s): {role}")
        return decision.allowed

    def _answer_framework(self, call: str, body: Any) -> Any:
        if call == "invoke":
            function = self.functions.get(body["FunctionName"])
            if function is None:
                raise RuntimeError(f"ResourceNotFoundException: {body['FunctionName']}")
            if not self._framework_may_invoke(function.arn):
                raise RuntimeError(f"AccessDeniedException: {self.iam.denied[-1]}")
            if not function.runtime.startswith("python"):
                raise NotImplementedError(function.runtime)
            result, error = self._invoke_python(function, json.loads(body["Payload"]))
            if error:
                return {"Payload": error[1], "FunctionError": "Unhandled"}
            return {"Payload": json.dumps(result)}
        if call == "startExecution":
            denial = self.iam.check(_caller.get(), "states:StartExecution", [body["stateMachineArn"]], REQUEST_CONTEXT)
            if denial:
                raise RuntimeError(f"AccessDeniedException: {denial}")
            name = f"framework-{len(self.executions)}"
            self.start_execution(body["stateMachineArn"], name, json.loads(body["input"]))
            return {"executionArn": name}
        if call == "httpRequest":
            request_id = body["options"]["path"].split("?")[0].rsplit("/", 1)[-1]
            self.responses.setdefault(request_id, Future()).resolve(json.loads(body["body"]))
            return None
        raise NotImplementedError(call)
