"""Custom resource: an Amazon Personalize solution (a recipe plus its training configuration).

The native ``AWS::Personalize::Solution`` makes every property create-only and lacks
``performAutoTraining``, ``autoTrainingConfig``, ``eventsConfig`` and the other newer
CreateSolution fields. This handler creates solutions with the whole CreateSolution request and
changes in place what ``UpdateSolution`` allows.

Properties: ``{"Request": {"name", "datasetGroupArn", "recipeArn", "eventType"?, "performHPO"?,
"performAutoML"?, "performAutoTraining"?, "performIncrementalUpdate"?, "solutionConfig"?,
"tags"?}}`` (CreateSolution's input; CloudFormation's strings are typed by ``coercion.coerce``).

Physical name: ``physical_name(request)`` is ``<name>-<8 hex>``, the hex a digest of the
create-only settings (everything but the name, the dataset group, tags and what UpdateSolution
changes). So a create-only change yields a new name, hence a new solution and a new physical id
(CloudFormation deletes the old solution after the update); the stack can compute the same name
at synth for exact IAM ARNs (nothing in the digest is a CloudFormation token). Adding or removing
``eventsConfig`` counts as create-only: whether UpdateSolution can clear it is undocumented.

- Create: CreateSolution (a retried Create adopts the solution it made); ``is_complete`` waits for
  ACTIVE (minutes: no training happens here) and reports ``failureReason``.
- Update in place: ``performAutoTraining``, ``performIncrementalUpdate``,
  ``solutionConfig.autoTrainingConfig`` and ``solutionConfig.eventsConfig`` → UpdateSolution
  (repeated by ``is_complete`` while Personalize says the solution is busy), done once
  ``latestSolutionUpdate`` carries them and is ACTIVE; its failure fails the update. Tags:
  TagResource / UntagResource.
- Delete: stops every training in progress (StopSolutionVersionCreation: automatic training starts
  versions no template knows about, and DeleteSolution is refused while one trains), then
  DeleteSolution, until DescribeSolution says not found. Campaigns go first (template order).
  A Delete whose physical id CloudFormation made up (a cancelled Create) finds the solution by
  ``physical_name(request)``; a rollback Update (new → old) of a replacement CloudFormation never
  recorded deletes that replacement (named after OldResourceProperties) too.

``is_complete`` returns ``Data`` only with ``IsComplete: true`` (the CDK Provider framework
fails the resource otherwise).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from . import contracts, named_resources
from .account import personalize_arn
from .action_log import log_action
from .address_book import NAME_MAX, is_personalize_arn
from .address_book import SOLUTION_BASE_NAME_MAX as BASE_NAME_MAX
from .address_book import SOLUTION_DIGEST_LENGTH as DIGEST_LENGTH
from .coercion import coerce as coerce_request
from .core import IN_USE_ERROR_CODES, PersonalizeApi
from .errors import HandlerError, ResourceFailedError, error_code
from .lifecycle import (
    DELETE_TARGET_KEY,
    delete_target,
    dispatch,
    is_active,
    is_complete_result,
    is_deleting,
    on_event_result,
    properties,
    start_delete,
)
from .named_resources import owned_by_name, update_tags

API_OPERATIONS: tuple[str, ...] = (
    "CreateSolution",
    "DescribeSolution",
    "UpdateSolution",
    "ListSolutionVersions",
    "StopSolutionVersionCreation",
    "DeleteSolution",
    "TagResource",
    "UntagResource",
)
# is_complete runs under its own role: it waits (Describe), re-issues a deferred update, and stops
# trainings that started (auto-training) or outlived on_event's stop before deleting.
IS_COMPLETE_API_OPERATIONS: tuple[str, ...] = (
    "DescribeSolution",
    "UpdateSolution",
    "ListSolutionVersions",
    "StopSolutionVersionCreation",
    "DeleteSolution",
)

RESOURCE_TYPE = "solution"
# Top-level key of an Update's on_event answer: a replacement the rollback deletes (see _on_update).
ABANDONED_KEY = "AbandonedSolution"
IN_PLACE_CONFIG_KEYS = ("autoTrainingConfig", "eventsConfig")
# Documented defaults (botocore CreateSolution): automatic training on, every 7 days.
DEFAULT_PERFORM_AUTO_TRAINING = True
DEFAULT_AUTO_TRAINING_CONFIG = {"schedulingExpression": "rate(7 days)"}
TRAINING_STATUSES = frozenset({"CREATE PENDING", "CREATE IN_PROGRESS"})
STOPPING_STATUSES = frozenset({"CREATE STOPPING"})
UPDATE_IN_PROGRESS = frozenset({"CREATE PENDING", "CREATE IN_PROGRESS"})
# Never with Data: the Provider framework fails a resource whose isComplete returns Data while false.
NOT_COMPLETE: dict = {"IsComplete": False}


# --- Provider handlers ---------------------------------------------------------------------------

def on_event(event: Mapping[str, Any], context: Any) -> dict:
    return dispatch(event, context, create=_on_create, update=_on_update, delete=_on_delete)


def is_complete(event: Mapping[str, Any], context: Any) -> dict:
    arn = event.get("PhysicalResourceId")
    api = PersonalizeApi(IS_COMPLETE_API_OPERATIONS)
    if event["RequestType"] == "Delete":
        target = delete_target(event, RESOURCE_TYPE)
        if target is None or converge_deleted(api, target):
            return is_complete_result(True)
        return NOT_COMPLETE
    desired = desired_solution(properties(event))
    update = None
    if event["RequestType"] == "Update" and not _replaced(event):
        update = update_request(desired, desired_solution(properties(event, old=True)))
    if event.get(ABANDONED_KEY) and not converge_deleted(api, event[ABANDONED_KEY]):
        return NOT_COMPLETE
    if not converge_ready(api, arn, desired, update):
        return NOT_COMPLETE
    return is_complete_result(True, {"SolutionArn": arn, "SolutionName": arn.rsplit("/", 1)[-1]})


def _on_create(event: Mapping[str, Any], context: Any) -> dict:
    desired = desired_solution(properties(event))
    arn = create_or_adopt(PersonalizeApi(API_OPERATIONS), personalize_arn(context, RESOURCE_TYPE, physical_name(desired)), desired)
    return on_event_result(arn, {"SolutionArn": arn})


def _on_update(event: Mapping[str, Any], context: Any) -> dict:
    desired = desired_solution(properties(event))
    old = desired_solution(properties(event, old=True))
    api = PersonalizeApi(API_OPERATIONS)
    arn = personalize_arn(context, RESOURCE_TYPE, physical_name(desired))
    previous = event.get("PhysicalResourceId")
    if desired["datasetGroupArn"] != old["datasetGroupArn"] and arn == previous:
        raise HandlerError(
            f"solution {desired['name']!r} cannot move from {old['datasetGroupArn']} to"
            f" {desired['datasetGroupArn']} under the same name: its ARN derives from the name and"
            " settings, so it would collide with the old one, which CloudFormation deletes only"
            " afterwards. Give the solution a new name."
        )
    if arn != previous or not is_personalize_arn(previous, RESOURCE_TYPE):
        # Create-only settings changed: a new solution; CloudFormation deletes the old one later.
        arn = create_or_adopt(api, arn, desired)
        log_action("solution_replaced", old_arn=previous, new_arn=arn)
        return on_event_result(arn, {"SolutionArn": arn})
    update_tags(api, "Solution", arn, old.get("tags", []), desired.get("tags", []))
    update = update_request(desired, old)
    if update is not None:
        request_update(api, arn, update)
    result = on_event_result(arn, {"SolutionArn": arn})
    abandoned = owned_by_name(api, event, context, kind="Solution", resource_type=RESOURCE_TYPE, parse=desired_solution,
                              same_keys=("datasetGroupArn",), name=physical_name, old=True)()
    if abandoned is not None and abandoned != arn:
        # A rollback (new → old) of an update whose replacement CloudFormation never recorded
        # (cancelled, or failed after creating it): the solution named after
        # OldResourceProperties is that replacement. Nobody else deletes it, and it trains.
        log_action("abandoned_replacement_deleted", solution_arn=abandoned)
        if stop_trainings(api, abandoned):
            api.request_delete("DeleteSolution", solutionArn=abandoned)
        result[ABANDONED_KEY] = abandoned
    return result


def _on_delete(event: Mapping[str, Any], context: Any) -> dict:
    api = PersonalizeApi(API_OPERATIONS)
    find = owned_by_name(api, event, context, kind="Solution", resource_type=RESOURCE_TYPE,
                         parse=desired_solution, same_keys=("datasetGroupArn",), name=physical_name)
    target = delete_target(event, RESOURCE_TYPE, find)
    if target is not None:
        # DeleteSolution is refused while a version trains; stop trainings first.
        stop_trainings(api, target)
    return start_delete(
        api,
        {**event, DELETE_TARGET_KEY: target or ""},
        resource_type=RESOURCE_TYPE,
        operation="DeleteSolution",
        arn_parameter="solutionArn",
        data_key="SolutionArn",
    )


def _replaced(event: Mapping[str, Any]) -> bool:
    """True when on_event answered this Update with a new solution (is_complete sees its answer)."""
    try:
        old = desired_solution(properties(event, old=True))
    except HandlerError:
        return True
    return physical_name(old) != physical_name(desired_solution(properties(event)))


# --- desired state -------------------------------------------------------------------------------

def desired_solution(request: Mapping[str, Any]) -> dict:
    """The Request typed for CreateSolution, its required keys and name length checked."""
    desired = coerce_request("CreateSolution", contracts.Solution.from_request(request).request)
    if len(desired["name"]) > BASE_NAME_MAX:
        raise HandlerError(
            f"Request.name {desired['name']!r} is {len(desired['name'])} characters; at most {BASE_NAME_MAX},"
            f" because the solution's name gets a {DIGEST_LENGTH + 1}-character settings digest appended"
            f" and Personalize names end at {NAME_MAX}"
        )
    return desired


def create_only_settings(desired: Mapping[str, Any]) -> dict:
    """What CreateSolution fixes for a solution's life (the digest's input)."""
    settings = {key: value for key, value in desired.items()
                if key not in ("name", "datasetGroupArn", "tags", "performAutoTraining", "performIncrementalUpdate")}
    config = dict(settings.pop("solutionConfig", {}) or {})
    has_events_config = "eventsConfig" in config
    for key in IN_PLACE_CONFIG_KEYS:
        config.pop(key, None)
    if config:
        settings["solutionConfig"] = config
    if has_events_config:
        settings["eventsConfigured"] = True
    return settings


def physical_name(desired: Mapping[str, Any]) -> str:
    canonical = json.dumps(create_only_settings(desired), sort_keys=True, separators=(",", ":"))
    return f"{desired['name']}-{hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_LENGTH]}"


def in_place_settings(desired: Mapping[str, Any]) -> dict:
    """UpdateSolution's view of the request, with the documented defaults filled in."""
    auto_training = desired.get("performAutoTraining", DEFAULT_PERFORM_AUTO_TRAINING)
    config = desired.get("solutionConfig") or {}
    settings: dict[str, Any] = {"performAutoTraining": auto_training}
    if "performIncrementalUpdate" in desired:
        settings["performIncrementalUpdate"] = desired["performIncrementalUpdate"]
    update_config: dict[str, Any] = {}
    if auto_training:
        update_config["autoTrainingConfig"] = config.get("autoTrainingConfig") or DEFAULT_AUTO_TRAINING_CONFIG
    if "eventsConfig" in config:
        update_config["eventsConfig"] = config["eventsConfig"]
    if update_config:
        settings["solutionUpdateConfig"] = update_config
    return settings


def update_request(desired: Mapping[str, Any], old: Mapping[str, Any]) -> dict | None:
    """UpdateSolution's arguments (without the ARN) when the in-place settings changed, else None."""
    new_settings, old_settings = in_place_settings(desired), in_place_settings(old)
    if new_settings == old_settings:
        return None
    return copy.deepcopy(new_settings)


# --- Personalize steps ---------------------------------------------------------------------------

def _describe(api: PersonalizeApi, arn: str) -> dict | None:
    return api.describe_or_none("DescribeSolution", "solution", solutionArn=arn)


def create_or_adopt(api: PersonalizeApi, arn: str, desired: Mapping[str, Any]) -> str:
    # The name carries a digest of the settings, so the same name and group is the same solution.
    return named_resources.create_or_adopt(api, "Solution", arn, {**desired, "name": arn.rsplit("/", 1)[-1]})


def request_update(api: PersonalizeApi, arn: str, update: Mapping[str, Any]) -> bool:
    """UpdateSolution; False when Personalize says the solution is busy (is_complete retries)."""
    try:
        api.call("UpdateSolution", solutionArn=arn, **update)
    except ClientError as exc:
        if error_code(exc) not in IN_USE_ERROR_CODES:
            raise
        log_action("solution_update_deferred", solution_arn=arn, reason=str(exc))
        return False
    log_action("solution_update_requested", solution_arn=arn, **update)
    return True


def update_applied(update: Mapping[str, Any], latest: Mapping[str, Any]) -> bool:
    """True when ``latestSolutionUpdate`` carries every value asked for (defaults may be added)."""
    return _contains(latest, update)


def _contains(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, Mapping):
        return isinstance(actual, Mapping) and all(_contains(actual.get(key), value) for key, value in wanted.items())
    if isinstance(wanted, list):
        return isinstance(actual, list) and len(actual) == len(wanted) and all(
            _contains(a, w) for a, w in zip(actual, wanted, strict=True))
    return actual == wanted


def converge_ready(api: PersonalizeApi, arn: str, desired: Mapping[str, Any], update: Mapping[str, Any] | None) -> bool:
    """One is_complete step of Create/Update: True once ACTIVE with ``update`` applied."""
    solution = _describe(api, arn)
    if solution is None:
        raise HandlerError(f"solution {arn} does not exist (deleted outside CloudFormation?); deploy again to recreate it")
    if is_deleting(solution):
        raise HandlerError(f"solution {arn} is {solution['status']}; deploy again once it is gone")
    if solution.get("datasetGroupArn") != desired["datasetGroupArn"]:
        raise HandlerError(f"solution {arn} belongs to {solution.get('datasetGroupArn')}, not {desired['datasetGroupArn']}")
    if not is_active(solution, f"solution {arn}"):
        return False
    if update is None:
        return True
    latest = solution.get("latestSolutionUpdate") or {}
    status = latest.get("status")
    if latest and update_applied(update, latest):
        if status == "ACTIVE":
            return True
        if status and status.endswith("FAILED"):
            reason = latest.get("failureReason") or "no failureReason given"
            raise ResourceFailedError(f"solution {arn} update is {status}: {reason}")
        return False
    if status in UPDATE_IN_PROGRESS:
        return False  # someone else's update (an earlier deployment): wait for it, then ours
    request_update(api, arn, update)
    return False


def stop_trainings(api: PersonalizeApi, arn: str) -> bool:
    """Stop every version of the solution that is training; True when none trains any more."""
    try:
        versions = api.collect("ListSolutionVersions", "solutionVersions", solutionArn=arn)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return True
        raise
    settled = True
    for version in versions:
        status = version.get("status")
        if status in STOPPING_STATUSES:
            settled = False
        elif status in TRAINING_STATUSES:
            settled = False
            try:
                api.call("StopSolutionVersionCreation", solutionVersionArn=version["solutionVersionArn"])
                log_action("training_stopped", solution_version_arn=version["solutionVersionArn"], status=status)
            except ClientError as exc:
                # Finished or stopping between the list and the call: look again next poll.
                if error_code(exc) not in IN_USE_ERROR_CODES | {"ResourceNotFoundException"}:
                    raise
    return settled


def converge_deleted(api: PersonalizeApi, arn: str) -> bool:
    """One is_complete step of Delete: True once DescribeSolution says not found."""
    solution = _describe(api, arn)
    if solution is None:
        return True
    if is_deleting(solution):
        return False
    if stop_trainings(api, arn):
        api.request_delete("DeleteSolution", solutionArn=arn)
    return False
