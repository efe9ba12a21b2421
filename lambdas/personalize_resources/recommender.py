"""Custom resource: an Amazon Personalize recommender, plus the poller that waits for it.

Training a recommender can take hours, longer than a custom resource may take (1 hour). So
the custom resource only asks for changes and returns; an execution of the shared poller
(poller.py: Wait → poll step → Choice on ``$.finished``) follows the recommender and signals an
``AWS::CloudFormation::WaitCondition`` (up to 12 hours) named by ``SignalHandle``.

Properties::

    {"Request": {"name", "datasetGroupArn", "recipeArn",
                 "recommenderConfig": {...}?, "tags": [{"tagKey", "tagValue"}]?},
     "DesiredState": "ACTIVE" | "INACTIVE",   # default ACTIVE
     "SignalHandle": {"StackId", "LogicalResourceId"}}  # of the WaitConditionHandle; optional
    # (stacks deployed before carry "SignalUrl": the handle's Ref; still accepted)

PhysicalResourceId and ``Data.RecommenderArn`` are the recommender's ARN (built from its name).

- Create: CreateRecommender (a retry adopts the one it already made), then the poller.
- Update: a new name, recipe or dataset group makes a new recommender (new physical id;
  CloudFormation deletes the old one); a new ``recommenderConfig`` is an UpdateRecommender in
  place; tags are changed in place; every Update starts the poller, which also stops or starts
  the recommender to reach ``DesiredState``.
- Delete: DeleteRecommender, repeated by ``is_complete`` while Personalize says the recommender
  is busy, until DescribeRecommender says it is gone. A recommender still training cannot be
  deleted (and training may outlast the Provider's hour): the delete is handed to the poller
  (``DELETED``), which deletes it once training ends, and the Delete answers complete at once;
  the dataset group's teardown chain (teardown_wait.py) keeps its datasets and the group until
  the recommender is gone.
- A poller that cannot start after CreateRecommender fails the request in ``is_complete``, with
  the real ARN as physical id, so the rollback's Delete removes the recommender.
- A Create cancelled before it answered (another resource failed) gets its Delete with a physical
  id CloudFormation made up: the recommender is found by its name (``lifecycle.delete_target``). A
  rollback Update (new → old) of a replacement CloudFormation never recorded hands the
  replacement, named after OldResourceProperties, to the delete poller.

Lambda handlers: ``on_event`` and ``is_complete`` (Provider framework, ``API_OPERATIONS`` and
``IS_COMPLETE_API_OPERATIONS``, env ``POLLER_STATE_MACHINE_ARN``, ``POLLER_WAIT_SECONDS``);
its step of the shared poller is recommender_poll.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from . import contracts, poller
from .account import personalize_arn
from .action_log import log_action
from .address_book import is_personalize_arn
from .coercion import coerce as coerce_request
from .core import IN_USE_ERROR_CODES, PersonalizeApi
from .environments import HandlerEnvironment
from .errors import HandlerError, error_code
from .lifecycle import (
    ACTIVE,
    DELETE_TARGET_KEY,
    delete_target,
    dispatch,
    is_complete_result,
    on_event_result,
    properties,
    start_delete,
)
from .named_resources import create_or_adopt, owned_by_name, update_tags

API_OPERATIONS: tuple[str, ...] = (
    "CreateRecommender",
    "DescribeRecommender",
    "UpdateRecommender",
    "TagResource",
    "UntagResource",
    "DeleteRecommender",
    "states:StartExecution",
)
# is_complete runs under its own role: exactly these.
IS_COMPLETE_API_OPERATIONS: tuple[str, ...] = ("DescribeRecommender", "DeleteRecommender")

RESOURCE_TYPE = "recommender"
INACTIVE = "INACTIVE"
DESIRED_STATES = (ACTIVE, INACTIVE)
# The poller's goal when a Delete finds the recommender still training (created or retrained by a
# configuration update): Personalize refuses DeleteRecommender while it is CREATE PENDING/IN_PROGRESS (ResourceInUseException; the botocore
# model's DeleteRecommender doc does not say so, the facts file's sources do), and offers no way
# to cut a recommender's training short (the model's StopRecommender is for ACTIVE recommenders,
# StopSolutionVersionCreation for solution versions only). So the poller deletes it as soon as
# training ends, even when this stack's Delete has given up at the Provider's one-hour limit:
# nothing is left to bill.
DELETED = "DELETED"
BUSY_CREATING = ("CREATE PENDING", "CREATE IN_PROGRESS")
# Top-level key of a Delete's on_event answer when the poller took the delete over (the
# framework passes it to is_complete, which then answers complete at once).
DELETE_HANDED_OFF = "DeleteHandedToPoller"
REPLACING_KEYS = ("name", "datasetGroupArn", "recipeArn")
# A recommender found by name is this resource's only with these settings (else someone else's).
SAME_RECOMMENDER_KEYS = ("datasetGroupArn", "recipeArn")

execution_name = poller.execution_name


# --- Provider handlers ------------------------------------------------------------------------

def on_event(event: Mapping[str, Any], context: Any) -> dict:
    return dispatch(event, context, create=_on_create, update=_on_update, delete=_on_delete)


def is_complete(event: Mapping[str, Any], context: Any) -> dict:
    arn = event.get("PhysicalResourceId")
    poller.raise_start_error(event, f"recommender {arn} was created")
    if event["RequestType"] != "Delete":
        # Creation and training are watched by the poller and the WaitCondition.
        return is_complete_result(True, {"RecommenderArn": arn})
    target = delete_target(event, RESOURCE_TYPE)
    if target is None or event.get(DELETE_HANDED_OFF):
        return is_complete_result(True)
    api = PersonalizeApi(IS_COMPLETE_API_OPERATIONS)
    return is_complete_result(
        api.converge_deleted("DescribeRecommender", "recommender", "DeleteRecommender", recommenderArn=target)
    )


def _on_create(event: Mapping[str, Any], context: Any) -> dict:
    request = desired_recommender(properties(event))
    check_poller_settings(event)
    api = PersonalizeApi(API_OPERATIONS)
    arn = create_or_adopt(api, "Recommender", personalize_arn(context, RESOURCE_TYPE, request["name"]), request)
    return _created(event, arn)


def _created(event: Mapping[str, Any], arn: str) -> dict:
    """Answer for a recommender this request created: its real ARN even when the poller fails."""
    return poller.start_or_record(
        on_event_result(arn, {"RecommenderArn": arn}), lambda: start_poller(event, arn, config_update_requested=False), recommender_arn=arn
    )


def _on_update(event: Mapping[str, Any], context: Any) -> dict:
    request = desired_recommender(properties(event))
    old = desired_recommender(properties(event, old=True))
    check_poller_settings(event)
    api = PersonalizeApi(API_OPERATIONS)
    changed = [key for key in REPLACING_KEYS if request[key] != old[key]]
    if changed:
        if request["name"] == old["name"]:
            raise HandlerError(
                f"recommender {old['name']!r}: changing {' and '.join(changed)} needs a new recommender,"
                " and its ARN derives from the name, so it would collide with the old one, which"
                " CloudFormation deletes only afterwards. Give the recommender a new name too."
            )
        arn = create_or_adopt(api, "Recommender", personalize_arn(context, RESOURCE_TYPE, request["name"]), request)
        abandoned = owned_by_name(api, event, context, kind="Recommender", resource_type=RESOURCE_TYPE,
                                  parse=desired_recommender, same_keys=SAME_RECOMMENDER_KEYS, old=True)()
        if abandoned is not None and abandoned != arn:
            # A rollback (new → old) of a replacement CloudFormation never recorded (the update
            # was cancelled before it answered): the recommender named after
            # OldResourceProperties is that replacement, and nobody else deletes it.
            start_delete_poller(event, abandoned)
        return _created(event, arn)

    arn = event.get("PhysicalResourceId")
    if not is_personalize_arn(arn, RESOURCE_TYPE):
        arn = personalize_arn(context, RESOURCE_TYPE, request["name"])
    update_tags(api, "Recommender", arn, old.get("tags", []), request.get("tags", []))
    config = request.get("recommenderConfig", {})
    config_update_requested, pending_config = False, None
    if config != old.get("recommenderConfig", {}) and not _config_in_place(api, arn, config, old.get("recommenderConfig", {})):
        try:
            api.call("UpdateRecommender", recommenderArn=arn, recommenderConfig=config)
            log_action("recommender_update_requested", recommender_arn=arn)
            config_update_requested = True
        except ClientError as exc:
            if error_code(exc) not in IN_USE_ERROR_CODES:
                raise
            # Busy (starting, stopping, still training): the poller applies it once the
            # recommender settles, rather than failing this update or its rollback.
            log_action("recommender_update_deferred", recommender_arn=arn, reason=str(exc))
            pending_config = config
    start_poller(event, arn, config_update_requested=config_update_requested, pending_config=pending_config)
    return on_event_result(arn, {"RecommenderArn": arn})


def training(recommender: Mapping[str, Any]) -> bool:
    """True while the recommender trains: its creation, or a configuration update retraining it
    (DeleteRecommender is refused meanwhile too, for longer than the Provider's hour)."""
    update = recommender.get("latestRecommenderUpdate") or {}
    return recommender.get("status") in BUSY_CREATING or update.get("status") in BUSY_CREATING


def _config_in_place(api: PersonalizeApi, arn: str, config: Mapping[str, Any], old_config: Mapping[str, Any]) -> bool:
    """True when the live recommender already serves ``config`` and not ``old_config``: the
    rollback of an update whose UpdateRecommender was refused (OldResourceProperties are the
    properties of the failed update then) has nothing to change, and asking would retrain."""
    live = (api.describe_or_none("DescribeRecommender", "recommender", recommenderArn=arn) or {}).get("recommenderConfig")
    if live is None or not config_applied(config, live) or config_applied(old_config, live):
        return False
    log_action("recommender_config_in_place", recommender_arn=arn)
    return True


def _on_delete(event: Mapping[str, Any], context: Any) -> dict:
    # ResourceInUseException (mid-transition) is not a failure: is_complete asks again.
    api = PersonalizeApi(API_OPERATIONS)
    find = owned_by_name(api, event, context, kind="Recommender", resource_type=RESOURCE_TYPE,
                         parse=desired_recommender, same_keys=SAME_RECOMMENDER_KEYS)
    arn = delete_target(event, RESOURCE_TYPE, find)
    result = start_delete(
        api,
        {**event, DELETE_TARGET_KEY: arn or ""},
        resource_type=RESOURCE_TYPE,
        operation="DeleteRecommender",
        arn_parameter="recommenderArn",
        data_key="RecommenderArn",
    )
    if arn:
        recommender = api.describe_or_none("DescribeRecommender", "recommender", recommenderArn=arn)
        if recommender is not None and training(recommender):
            try:
                start_delete_poller(event, arn)
            except Exception as exc:  # noqa: BLE001 - a safety net; is_complete keeps deleting meanwhile
                log_action("delete_poller_not_started", recommender_arn=arn, reason=str(exc))
            else:
                # Training outlasts this resource's hour: the poller deletes the recommender once
                # training ends, and the dataset group's teardown chain (teardown_wait.py) holds
                # the datasets and the group until it is gone. CloudFormation moves on now.
                return {**result, DELETE_HANDED_OFF: True}
    return result


# --- desired state ------------------------------------------------------------------------------

def desired_recommender(request: Mapping[str, Any]) -> dict:
    """The Request typed for CreateRecommender (CloudFormation sends every scalar as a string)."""
    return coerce_request("CreateRecommender", contracts.Recommender.from_request(request).request)


def desired_state(event: Mapping[str, Any]) -> str:
    value = str(event.get("ResourceProperties", {}).get(contracts.DESIRED_STATE) or ACTIVE).strip().upper()
    if value not in DESIRED_STATES:
        raise HandlerError(f"{contracts.DESIRED_STATE} must be ACTIVE or INACTIVE, got {value!r}")
    return value


# --- starting the poller ------------------------------------------------------------------------

def check_poller_settings(event: Mapping[str, Any]) -> None:
    """Fail before creating anything: a Create that fails after CreateRecommender leaves a
    recommender CloudFormation does not know about (the next deployment would adopt it)."""
    desired_state(event)
    HandlerEnvironment.current().required_state_machine_arn()
    signal_target(event)


def signal_target(event: Mapping[str, Any]) -> dict:
    """Where the poller signals (``contracts.signal_target``; stacks deployed before handles
    still send the URL)."""
    return contracts.signal_target(event.get("ResourceProperties", {}), legacy_url=True)




def poller_input(event: Mapping[str, Any], arn: str, *, config_update_requested: bool,
                 pending_config: Mapping[str, Any] | None = None) -> dict:
    state = {
        "recommenderArn": arn,
        "desiredState": desired_state(event),
        **signal_target(event),
        "uniqueId": event.get("LogicalResourceId") or arn.rsplit("/", 1)[-1],
        "kind": RESOURCE_TYPE,
        "waitSeconds": wait_seconds(),
        # Only an update this deployment asked for may fail it (an old failed update may linger).
        "configUpdateRequested": config_update_requested,
    }
    if pending_config is not None:
        state["pendingRecommenderConfig"] = dict(pending_config)
    return state


def wait_seconds() -> int:
    return HandlerEnvironment.current().wait_seconds or poller.DEFAULT_WAIT_SECONDS


def start_poller(event: Mapping[str, Any], arn: str, *, config_update_requested: bool,
                 pending_config: Mapping[str, Any] | None = None) -> None:
    state = poller_input(event, arn, config_update_requested=config_update_requested,
                         pending_config=pending_config)
    poller.start(execution_name(event["RequestId"], arn), state)
    log_action("recommender_poller_started", recommender_arn=arn, desired_state=state["desiredState"],
               pending_config=pending_config is not None)


def start_delete_poller(event: Mapping[str, Any], arn: str) -> None:
    """Hand the delete of a still-training recommender to the poller (see ``DELETED``)."""
    state = {"recommenderArn": arn, "desiredState": DELETED, "uniqueId": event.get("LogicalResourceId") or arn,
             "kind": RESOURCE_TYPE, "waitSeconds": wait_seconds()}
    name = execution_name(event["RequestId"], arn)
    poller.start(name, state)
    log_action("delete_handed_to_poller", recommender_arn=arn, execution_name=name)


def config_applied(desired: Mapping[str, Any], actual: Mapping[str, Any]) -> bool:
    """True when every value asked for is in place (Personalize may fill in defaults)."""
    for key, value in desired.items():
        if isinstance(value, Mapping):
            if not isinstance(actual.get(key), Mapping) or not config_applied(value, actual[key]):
                return False
        elif actual.get(key) != value:
            return False
    return True
