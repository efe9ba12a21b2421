"""The shared poller's step for a recommender: look at it, act at most once toward the goal
(the desired state, a pending configuration, or its deletion), signal the WaitCondition when done.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from . import poller, wait_condition
from .action_log import log_action
from .core import IN_USE_ERROR_CODES, THROTTLING_ERROR_CODES, PersonalizeApi
from .errors import error_code
from .lifecycle import ACTIVE, is_deleting
from .recommender import DELETED, DESIRED_STATES, INACTIVE, RESOURCE_TYPE, config_applied, training

# What the shared poller (poller.py) calls when it follows a recommender.
POLL_API_OPERATIONS: tuple[str, ...] = (
    "DescribeRecommender",
    "UpdateRecommender",
    "StopRecommender",
    "StartRecommender",
    "DeleteRecommender",
)


# --- the poller's step ---------------------------------------------------------------------------

def poll_step(event: Mapping[str, Any], context: Any) -> dict:
    """The shared poller's step for a recommender's execution (see long_waits.poll_step)."""
    return poll(poller.begin_step({**event, "kind": event.get("kind", RESOURCE_TYPE)}))


def poll(state: dict) -> dict:
    """One poll of a recommender: look at it, act at most once toward the desired state."""
    arn = state["recommenderArn"]
    api = PersonalizeApi(POLL_API_OPERATIONS)
    try:
        return _poll(api, state, arn)
    except ClientError as exc:
        if error_code(exc) in THROTTLING_ERROR_CODES:
            # Still throttled after core's retries: the next poll tries again.
            return poller.waiting(state, state.get("status", "UNKNOWN"))
        # Access denied, invalid input...: waiting for the WaitCondition to time out helps nobody.
        return poller.finish(state, state.get("status", "UNKNOWN"), wait_condition.FAILURE,
                       f"recommender {arn}: {exc}")


def _poll(api: PersonalizeApi, state: dict, arn: str) -> dict:
    recommender = api.describe_or_none("DescribeRecommender", "recommender", recommenderArn=arn)
    if state.get("desiredState") == DELETED:
        return _poll_delete(api, state, arn, recommender)
    if recommender is None:
        return poller.finish(state, "NOT_FOUND", wait_condition.FAILURE, f"recommender {arn} does not exist",
                       tolerate_signal_errors=True)
    status = recommender["status"]
    name = recommender.get("name") or arn.rsplit("/", 1)[-1]
    if is_deleting(recommender):
        # The stack is going away; its WaitCondition probably too.
        return poller.finish(state, status, wait_condition.FAILURE, f"recommender {name} is {status}",
                       tolerate_signal_errors=True)
    if status.endswith("FAILED"):
        reason = recommender.get("failureReason") or "no failureReason given"
        return poller.finish(state, status, wait_condition.FAILURE, f"recommender {name} is {status}: {reason}")

    update = recommender.get("latestRecommenderUpdate") or {}
    update_status = update.get("status")
    if update_status and update_status.endswith("FAILED"):
        if state.get("configUpdateRequested"):
            reason = update.get("failureReason") or "no failureReason given"
            return poller.finish(state, status, wait_condition.FAILURE,
                           f"recommender {name} configuration update is {update_status}: {reason}")
        update_status = None  # an earlier deployment's failure, not this one's
    updating = update_status not in (None, ACTIVE)
    if updating or status not in DESIRED_STATES:
        return poller.waiting(state, f"{status} (update {update_status})" if updating else status)

    pending = state.get("pendingRecommenderConfig")
    if pending is not None:
        if status == INACTIVE:
            # Configuration changes need a running recommender (the fake refuses them otherwise;
            # unconfirmed for the service): start it, update, then stop again if so desired.
            return _act(api, state, status, "StartRecommender", recommenderArn=arn)
        if config_applied(pending, recommender.get("recommenderConfig") or {}):
            state.pop("pendingRecommenderConfig")
        else:
            result = _act(api, state, status, "UpdateRecommender", recommenderArn=arn, recommenderConfig=pending)
            if result.get("lastAction") == "UpdateRecommender":
                # From now on the update is this deployment's: its failure fails the deployment.
                result.pop("pendingRecommenderConfig")
                result["configUpdateRequested"] = True
            return result

    desired = state.get("desiredState", ACTIVE)
    if status == desired:
        return poller.finish(state, status, wait_condition.SUCCESS, f"recommender {name} is {status}", data=arn)
    if status == ACTIVE:
        return _act(api, state, status, "StopRecommender", recommenderArn=arn)
    return _act(api, state, status, "StartRecommender", recommenderArn=arn)


def _poll_delete(api: PersonalizeApi, state: dict, arn: str, recommender: Mapping[str, Any] | None) -> dict:
    if recommender is None:
        return poller.finish(state, "DELETED", wait_condition.SUCCESS, f"recommender {arn} is deleted")
    status = recommender["status"]
    if is_deleting(recommender) or training(recommender) or status.endswith(("PENDING", "IN_PROGRESS")):
        return poller.waiting(state, status)
    # ACTIVE, INACTIVE or FAILED: Personalize accepts the delete now.
    return _act(api, state, status, "DeleteRecommender", recommenderArn=arn)


def _act(api: PersonalizeApi, state: dict, status: str, operation: str, **params: Any) -> dict:
    try:
        api.call(operation, **params)
    except ClientError as exc:
        if error_code(exc) not in IN_USE_ERROR_CODES:
            raise
        # Personalize moved on between Describe and this call: look again next poll.
        log_action("poller_action_deferred", operation=operation, reason=str(exc))
        return poller.waiting(state, status)
    log_action("poller_action", operation=operation, recommender_arn=state["recommenderArn"], status=status)
    result = poller.waiting(state, status)
    result["lastAction"] = operation
    return result
