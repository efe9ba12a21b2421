"""Shared lifecycle core for the Personalize custom-resource handlers.

The handlers run behind the CDK ``custom_resources.Provider`` framework
(``on_event`` + ``is_complete``). This module holds everything they share so
that each handler only describes *what* its resource is.

Public API
----------
Errors
    ``ResourceFailedError``      Personalize reported a ``... FAILED`` status; the
                                 message carries ``failureReason``.
    ``HandlerError``             A request CloudFormation sent cannot be honoured
                                 (bad properties, forbidden change); clear message.
    ``OperationNotDeclaredError`` A handler called an operation missing from its
                                 ``API_OPERATIONS`` (its IAM policy would deny it).
    ``error_code(exc) -> str | None``  AWS error code of a ``ClientError``.
    ``THROTTLING_ERROR_CODES``   error codes retried with backoff.
    ``ACCESS_DENIED_ERROR_CODES`` retried for ``ACCESS_DENIED_RETRY_SECONDS`` (IAM propagation).

ARNs (built, never listed: the IAM policies are scoped to exact ARNs)
    ``AccountContext(partition, region, account)`` and
    ``account_context(context)`` parsed from ``context.invoked_function_arn``.
    ``personalize_arn(context, resource_type, name) -> str``
        ``arn:{partition}:personalize:{region}:{account}:{resource_type}/{name}``.
    ``is_personalize_arn(value, resource_type) -> bool`` (False for the request
        ids the Provider framework uses as physical id after a failed Create).

Types
    ``coerce(operation_name, request, model=None) -> dict``
        Converts CloudFormation's all-strings properties to the types of the
        operation's botocore input shape (ints, floats, bools, nested).
    ``service_model()`` cached botocore model of ``personalize``.

Calling Personalize
    ``create_client()`` cached boto3 ``personalize`` client (tests replace this function).
    ``sleep(seconds)`` the backoff sleep (tests replace this function).
    ``PersonalizeApi(allowed_operations, client=None, *, sleep=None, max_attempts=6)``
        ``.call(operation, **params)``         PascalCase operation, throttling retried, and
                                               AccessDenied for a short window.
        ``.describe_or_none(operation, key, **params)``  ``response[key]`` or None
                                               when Personalize says not found.
        ``.collect(operation, result_key, **params)``  every page of a List call.
        ``.request_delete(operation, **params) -> bool``  True when deletion is
                                               under way or the resource is gone;
                                               False on ResourceInUseException.
        ``.converge_deleted(describe_operation, key, delete_operation, **params) -> bool``
                                               one is_complete step of a delete:
                                               True once Describe says not found.

Lifecycle
    ``ACTIVE``; ``is_active(resource, what) -> bool``: ACTIVE → True, any
        ``... FAILED`` → ``ResourceFailedError``, anything else → False.
    ``is_deleting(resource) -> bool`` for ``DELETE PENDING`` / ``DELETE IN_PROGRESS``.
    ``dispatch(event, context, create=, update=, delete=)`` routes on ``RequestType``;
        each route is called as ``route(event, context)``.
    ``delete_target(event, resource_type, find=None)`` the ARN a Delete removes: the physical
        id, or (a cancelled Create: CloudFormation made the id up) what ``find()`` finds by name.
    ``find_owned(api, kind, arn, expected)`` ``arn`` if it exists with the expected settings;
        ``owned_by_name(api, event, context, kind=, resource_type=, parse=, same_keys=, name=)``
        the ``find`` for a handler's Delete built from it.
    ``request_properties(event, parse)`` parsed ResourceProperties.Request, or None.
    ``start_delete(api, event, resource_type=, operation=, arn_parameter=, data_key=, find=None)``
        on_event for Delete: request the delete of ``delete_target`` (answer carries
        ``DELETE_TARGET_KEY`` for is_complete when it is not the physical id:
        ``with_delete_target(result, arn)``).
    ``on_event_result(physical_id, data)`` / ``is_complete_result(done, data=None)``
        the Provider framework's response shapes.
    ``properties(event, old=False)`` the ``Request`` block of (Old)ResourceProperties.
    ``log_action(action, **fields)`` one JSON line per action on the
        ``personalize_resources`` logger.
    ``create_or_adopt(api, kind, arn, request)`` Create<kind>, or adopt the same-named
        resource a retried Create made (same dataset group and recipe, not deleting).
    ``update_tags(api, kind, arn, old_tags, new_tags)`` UntagResource / TagResource for the difference.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

from . import address_book
from .address_book import is_personalize_arn as is_personalize_arn  # re-exported for the handlers

logger = logging.getLogger("personalize_resources")
logger.setLevel(logging.INFO)

ACTIVE = "ACTIVE"
DELETING_STATUSES = frozenset({"DELETE PENDING", "DELETE IN_PROGRESS"})

# botocore's standard retry list minus LimitExceededException: for Personalize
# that code means a hard quota (one metric attribution per dataset group),
# which waiting does not cure.
THROTTLING_ERROR_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
NOT_FOUND_ERROR_CODES = frozenset({"ResourceNotFoundException"})
# A role policy CloudFormation has just written may not be in force yet (IAM is eventually
# consistent: IAM User Guide, "Changes that I make are not always immediately visible"), so an
# AccessDenied is retried for a short window before it fails the request.
ACCESS_DENIED_ERROR_CODES = frozenset({"AccessDeniedException", "AccessDenied"})
ACCESS_DENIED_RETRY_SECONDS = 30.0
IN_USE_ERROR_CODES = frozenset({"ResourceInUseException"})


class HandlerError(Exception):
    """A request that cannot be honoured; the message reaches CloudFormation."""


class ResourceFailedError(HandlerError):
    """Personalize reported a FAILED status for a resource."""


class OperationNotDeclaredError(HandlerError):
    """A handler called an operation its API_OPERATIONS (and IAM policy) lacks."""


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def log_action(action: str, **fields: Any) -> None:
    logger.info(json.dumps({"action": action, **fields}, default=str, sort_keys=True))


# --- ARNs -------------------------------------------------------------------


@dataclass(frozen=True)
class AccountContext:
    partition: str
    region: str
    account: str


def account_context(context: Any) -> AccountContext:
    """Partition, region and account of the running Lambda function."""
    arn = getattr(context, "invoked_function_arn", None) or ""
    parts = arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "lambda":
        raise HandlerError(f"cannot read partition/region/account from function ARN {arn!r}")
    return AccountContext(partition=parts[1], region=parts[3], account=parts[4])


def personalize_arn(context: Any, resource_type: str, name: str) -> str:
    where = account_context(context)
    return address_book.personalize_arn(where.partition, where.region, where.account, resource_type, name)


# --- Types ------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def service_model():
    return botocore.session.get_session().get_service_model("personalize")


_TRUE = {"true"}
_FALSE = {"false"}


def coerce(operation_name: str, request: Mapping[str, Any], model: Any = None) -> dict:
    """Return ``request`` converted to the types of the operation's input shape.

    CloudFormation turns every scalar into a string; this walks the botocore
    shape so handlers never hand-type the API. Keys the shape does not know
    are kept as they are so botocore's validation names them.
    """
    shape = (model or service_model()).operation_model(operation_name).input_shape
    return _coerce_value(request, shape, operation_name)


def _coerce_value(value: Any, shape: Any, path: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            raise HandlerError(f"{path}: expected an object, got {value!r}")
        return {
            key: _coerce_value(item, shape.members[key], f"{path}.{key}") if key in shape.members else item
            for key, item in value.items()
        }
    if kind == "list":
        if not isinstance(value, list):
            raise HandlerError(f"{path}: expected a list, got {value!r}")
        return [_coerce_value(item, shape.member, f"{path}[{index}]") for index, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, Mapping):
            raise HandlerError(f"{path}: expected an object, got {value!r}")
        return {key: _coerce_value(item, shape.value, f"{path}.{key}") for key, item in value.items()}
    if kind in ("integer", "long"):
        return _to_number(value, int, path)
    if kind in ("float", "double"):
        return _to_number(value, float, path)
    if kind == "boolean":
        return _to_bool(value, path)
    return value


def _to_number(value: Any, kind: type, path: str) -> Any:
    if isinstance(value, bool):
        raise HandlerError(f"{path}: expected a number, got {value!r}")
    if isinstance(value, (int, float)) and not (kind is int and isinstance(value, float) and not value.is_integer()):
        return kind(value)
    if isinstance(value, str):
        try:
            return kind(value.strip())
        except ValueError:
            pass
    raise HandlerError(f"{path}: expected {'an integer' if kind is int else 'a number'}, got {value!r}")


def _to_bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise HandlerError(f"{path}: expected true or false, got {value!r}")


# --- Calling Personalize ----------------------------------------------------


@functools.lru_cache(maxsize=1)
def create_client():
    # Cached: a warm Lambda reuses it. botocore's own retries cover transient
    # network errors; PersonalizeApi adds longer, bounded backoff on throttling
    # because Personalize's control-plane rate limits are low.
    # Connect/read timeouts far below the shortest Lambda timeout here (60 s for the poll step):
    # botocore's default 60 s read timeout would let one hung call outlive the function.
    config = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 3})
    return boto3.client("personalize", config=config)


def sleep(seconds: float) -> None:
    time.sleep(seconds)


class PersonalizeApi:
    """Personalize client restricted to a handler's declared operations."""

    def __init__(
        self,
        allowed_operations: Iterable[str],
        client: Any = None,
        *,
        sleep: Callable[[float], None] | None = None,
        max_attempts: int = 6,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
    ) -> None:
        self.allowed_operations = frozenset(allowed_operations)
        self.client = client if client is not None else create_client()
        self._sleep = sleep
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._methods = {api: method for method, api in self.client.meta.method_to_api_mapping.items()}

    def call(self, operation: str, **params: Any) -> dict:
        if operation not in self.allowed_operations:
            raise OperationNotDeclaredError(f"{operation} is not in this handler's API_OPERATIONS")
        method = getattr(self.client, self._methods[operation])
        attempt, denied_waited, denied_delay = 0, 0.0, 1.0
        while True:
            try:
                return method(**params)
            except ClientError as exc:
                code = error_code(exc)
                if code in ACCESS_DENIED_ERROR_CODES and denied_waited < ACCESS_DENIED_RETRY_SECONDS:
                    # 1, 2, 4, 8 s... until the window is used up.
                    delay = min(denied_delay, ACCESS_DENIED_RETRY_SECONDS - denied_waited)
                    denied_waited, denied_delay = denied_waited + delay, denied_delay * 2
                    log_action("access_denied_retry", operation=operation, waited=denied_waited, retry_in=delay)
                    (self._sleep or sleep)(delay)
                    continue
                attempt += 1
                if code not in THROTTLING_ERROR_CODES or attempt >= self.max_attempts:
                    raise
                # Full jitter: spreads concurrent handlers of one stack apart.
                delay = random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
                log_action("throttled", operation=operation, code=code, attempt=attempt, retry_in=round(delay, 3))
                # Resolved at call time so tests can patch core.sleep.
                (self._sleep or sleep)(delay)

    def describe_or_none(self, operation: str, key: str, **params: Any) -> dict | None:
        try:
            return self.call(operation, **params)[key]
        except ClientError as exc:
            if error_code(exc) in NOT_FOUND_ERROR_CODES:
                return None
            raise

    def collect(self, operation: str, result_key: str, **params: Any) -> list:
        items: list = []
        token = None
        while True:
            page = self.call(operation, **params, **({"nextToken": token} if token else {}))
            items.extend(page.get(result_key, []))
            token = page.get("nextToken")
            if not token:
                return items

    def request_delete(self, operation: str, **params: Any) -> bool:
        try:
            self.call(operation, **params)
        except ClientError as exc:
            code = error_code(exc)
            if code in NOT_FOUND_ERROR_CODES:
                return True
            if code in IN_USE_ERROR_CODES:
                # Busy (still creating/updating, or a child is being deleted): retry on the next poll.
                log_action("delete_deferred", operation=operation, reason=str(exc), **params)
                return False
            raise
        log_action("delete_requested", operation=operation, **params)
        return True

    def converge_deleted(self, describe_operation: str, key: str, delete_operation: str, **params: Any) -> bool:
        """One is_complete step of a delete; True once the resource is gone."""
        resource = self.describe_or_none(describe_operation, key, **params)
        if resource is None:
            return True
        if not is_deleting(resource):
            # ACTIVE, FAILED or busy: (re)issue the delete; Personalize refuses
            # while the resource is busy, which only means "later".
            self.request_delete(delete_operation, **params)
        return False


# --- Lifecycle ----------------------------------------------------------------


def is_active(resource: Mapping[str, Any], what: str) -> bool:
    status = resource.get("status", "")
    if status == ACTIVE:
        return True
    if status.endswith("FAILED"):
        reason = resource.get("failureReason") or "no failureReason given"
        raise ResourceFailedError(f"{what} is {status}: {reason}")
    return False


def is_deleting(resource: Mapping[str, Any]) -> bool:
    return resource.get("status") in DELETING_STATUSES


def properties(event: Mapping[str, Any], old: bool = False) -> dict:
    source = event.get("OldResourceProperties" if old else "ResourceProperties") or {}
    request = source.get("Request")
    if not isinstance(request, Mapping):
        raise HandlerError(f"{'OldResourceProperties' if old else 'ResourceProperties'}.Request is missing")
    return dict(request)


def on_event_result(physical_id: str | None, data: Mapping[str, Any]) -> dict:
    return {"PhysicalResourceId": physical_id, "Data": dict(data)}


# Top-level key of on_event's answer to a Delete whose physical id is not the resource's ARN: the
# ARN found by name. The framework keeps the physical id of a Delete unchanged and passes
# on_event's answer, merged into the request, to every isComplete call.
DELETE_TARGET_KEY = "DeleteTarget"

Finder = Callable[[], "str | None"]


def delete_target(event: Mapping[str, Any], resource_type: str, find: Finder | None = None) -> str | None:
    """The ARN a Delete removes, or None when there is nothing to delete.

    The physical id when it is an ARN of this type. Otherwise CloudFormation cancelled the Create
    before it answered (another resource failed) and sent the Delete with a physical id it made
    up (aws/aws-cdk#36951): what the cancelled Create made is found by its deterministic name
    (``find``, which returns it only when its settings match the request). A Create that failed
    gets no Delete here: the Provider framework answers it itself (CREATE_FAILED marker).
    """
    if DELETE_TARGET_KEY in event:
        return event[DELETE_TARGET_KEY] or None
    arn = event.get("PhysicalResourceId")
    if is_personalize_arn(arn, resource_type):
        return arn
    found = find() if find is not None else None
    log_action("delete_by_name" if found else "nothing_to_delete", physical_id=arn, found=found)
    return found


def find_owned(api: PersonalizeApi, kind: str, arn: str, expected: Mapping[str, Any]) -> str | None:
    """``arn`` when Describe<kind> finds it with every ``expected`` setting, else None (absent, or
    someone else's resource of that name: never deleted)."""
    key = _names(kind)[0]
    existing = api.describe_or_none(f"Describe{kind}", key, **{f"{key}Arn": arn})
    if existing is None or any(existing.get(setting) != value for setting, value in expected.items()):
        return None
    return arn


def owned_by_name(api: PersonalizeApi, event: Mapping[str, Any], context: Any, *, kind: str, resource_type: str,
                  parse: Callable[[Mapping[str, Any]], dict], same_keys: tuple[str, ...],
                  name: Callable[[Mapping[str, Any]], str] = lambda request: request["name"], old: bool = False) -> Finder:
    """A ``find`` for ``start_delete``: the <kind> named ``name(request)`` (the request parsed with
    ``parse`` from the event's properties, or its OldResourceProperties with ``old``), when its
    ``same_keys`` settings are the request's. Never the event's physical id itself."""
    def find() -> str | None:
        request = request_properties(event, parse, old=old)
        if request is None:
            return None
        arn = personalize_arn(context, resource_type, name(request))
        if arn == event.get("PhysicalResourceId"):
            return None
        return find_owned(api, kind, arn, {key: request[key] for key in same_keys})
    return find


def request_properties(event: Mapping[str, Any], parse: Callable[[Mapping[str, Any]], dict], *, old: bool = False) -> dict | None:
    """``parse(properties(event, old))``, or None when the properties cannot be read (nothing is
    found by name then)."""
    try:
        return parse(properties(event, old=old))
    except HandlerError:
        return None


def start_delete(api: PersonalizeApi, event: Mapping[str, Any], *, resource_type: str, operation: str, arn_parameter: str,
                 data_key: str, find: Finder | None = None) -> dict:
    """The on_event answer to Delete: ask Personalize to delete ``delete_target``.

    ResourceInUseException leaves the delete to is_complete. The physical id is answered
    unchanged (the framework refuses another one on Delete).
    """
    physical_id = event.get("PhysicalResourceId")
    arn = delete_target(event, resource_type, find)
    if arn is None:
        return on_event_result(physical_id, {})
    api.request_delete(operation, **{arn_parameter: arn})
    return with_delete_target(on_event_result(physical_id, {data_key: arn}), arn)


def with_delete_target(result: dict, arn: str | None) -> dict:
    """``result`` carrying ``arn`` for is_complete when it is not the physical id."""
    return result if arn is None or arn == result["PhysicalResourceId"] else {**result, DELETE_TARGET_KEY: arn}


def is_complete_result(done: bool, data: Mapping[str, Any] | None = None) -> dict:
    """The isComplete answer. ``Data`` only when done: the CDK framework throws
    ``"Data" is not allowed if "IsComplete" is "False"`` (a failure, not a retry) otherwise."""
    if not done:
        return {"IsComplete": False}
    return {"IsComplete": True, "Data": dict(data or {})}


Route = Callable[[Mapping[str, Any], Any], dict]


def dispatch(event: Mapping[str, Any], context: Any, *, create: Route, update: Route, delete: Route) -> dict:
    request_type = event.get("RequestType")
    routes = {"Create": create, "Update": update, "Delete": delete}
    if request_type not in routes:
        raise HandlerError(f"unknown RequestType {request_type!r}")
    log_action(
        "event",
        request_type=request_type,
        logical_id=event.get("LogicalResourceId"),
        physical_id=event.get("PhysicalResourceId"),
    )
    return routes[request_type](event, context)


# --- Named resources (solutions, recommenders) ------------------------------------


def _names(kind: str) -> tuple[str, str]:
    """``"Solution"`` → (``"solution"``: response key / ARN parameter stem, ``"solution"``: log and message stem)."""
    return kind[0].lower() + kind[1:], re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower()


def create_or_adopt(
    api: PersonalizeApi, kind: str, arn: str, request: Mapping[str, Any], *, same_keys: tuple[str, ...] = ("datasetGroupArn", "recipeArn")
) -> str:
    """Create<kind> with ``request``; when the name is taken, adopt the resource at ``arn``.

    A retried Create finds what its first attempt made: adopt it, but never someone else's
    (other ``same_keys`` under the same name), nor one being deleted.
    """
    key, stem = _names(kind)
    try:
        created = api.call(f"Create{kind}", **request)[f"{key}Arn"]
        log_action(f"{stem}_created", **{f"{stem}_arn": created})
        return created
    except ClientError as exc:
        if error_code(exc) != "ResourceAlreadyExistsException":
            raise
        already_exists = exc
    existing = api.describe_or_none(f"Describe{kind}", key, **{f"{key}Arn": arn})
    if existing is None:
        raise already_exists  # gone again in between: let CloudFormation retry the deployment
    what = stem.replace("_", " ")
    for setting in same_keys:
        if existing.get(setting) != request[setting]:
            raise HandlerError(
                f"a {what} named {request['name']!r} already exists with {setting} {existing.get(setting)},"
                f" not {request[setting]}; choose another name or delete it"
            )
    if is_deleting(existing):
        raise HandlerError(f"{what} {arn} is {existing['status']}; deploy again once it is gone")
    log_action(f"{stem}_adopted", **{f"{stem}_arn": arn}, status=existing.get("status"))
    return arn


def update_tags(api: PersonalizeApi, kind: str, arn: str, old_tags: list, new_tags: list) -> None:
    """Untag the removed keys and tag the new or changed ones (each call only when needed)."""
    old = {tag["tagKey"]: tag["tagValue"] for tag in old_tags}
    new = {tag["tagKey"]: tag["tagValue"] for tag in new_tags}
    removed = sorted(set(old) - set(new))
    changed = [{"tagKey": key, "tagValue": value} for key, value in new.items() if old.get(key) != value]
    if removed:
        api.call("UntagResource", resourceArn=arn, tagKeys=removed)
    if changed:
        api.call("TagResource", resourceArn=arn, tags=changed)
    if removed or changed:
        stem = _names(kind)[1]
        log_action(f"{stem}_tags_updated", **{f"{stem}_arn": arn}, removed=removed, changed=[tag["tagKey"] for tag in changed])
