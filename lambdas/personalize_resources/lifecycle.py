"""The Provider framework's lifecycle: routing, answers, deletes and the statuses handlers wait on."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .action_log import log_action
from .address_book import is_personalize_arn
from .contracts import PreviousRequest
from .errors import HandlerError, ResourceFailedError

if TYPE_CHECKING:
    from .core import PersonalizeApi

ACTIVE = "ACTIVE"
DELETING_STATUSES = frozenset({"DELETE PENDING", "DELETE IN_PROGRESS"})


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
    return PreviousRequest(request) if old else dict(request)


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
