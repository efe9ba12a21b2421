"""The one long-wait machinery: a Step Functions loop that follows a Personalize resource (import job, recommender, solution version) past the
custom-resource hour and signals an ``AWS::CloudFormation::WaitCondition`` (up to 12 hours).

State machine: Wait(``$.waitSeconds``) → ``poll_step`` → Choice(``$.finished``) → Wait again; any
failure of the step (Lambda timeout or error, network timeouts past botocore's retries) is caught
and goes to ``poll_failed``, which signals FAILURE with the error, then the execution fails.

Every execution input carries ``kind`` (the resource type it follows; a missing kind is a
recommender, as executions started before kinds existed), ``uniqueId``, ``waitSeconds`` and the
signal target: ``signalHandle`` ({StackId, LogicalResourceId}: a reference, the presigned URL
never enters logs or execution input) or, from older stacks, ``signalUrl``. Each kind's module
supplies ``poll(state) -> state`` (long_waits.py maps kinds to them) and uses ``waiting`` / ``finish`` from here; its on_event starts
the poller through ``start_or_record`` and its is_complete first calls ``raise_start_error``.

Lambda handlers: ``long_waits.poll_step`` (it dispatches on ``kind``; the kinds' modules import
this one) and ``poll_failed`` here; ``POLL_FAILED_API_OPERATIONS`` only reads the handle.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from . import wait_condition
from .action_log import log_action
from .address_book import IMPORT_POLL_SECONDS, LONG_WAIT_MAX_HOURS, whole_seconds
from .environments import HandlerEnvironment
from .errors import HandlerError, error_code

# An hour past the longest WaitCondition timeout: by then nobody is waiting any more.
DEFAULT_POLLER_TIMEOUT_SECONDS = whole_seconds(LONG_WAIT_MAX_HOURS + 1)
DEFAULT_WAIT_SECONDS = IMPORT_POLL_SECONDS
SIGNAL_ONLY_OPERATIONS: tuple[str, ...] = ("cloudformation:DescribeStackResource",)
POLL_FAILED_API_OPERATIONS = SIGNAL_ONLY_OPERATIONS

# The wait-condition signal and the handle's URL lookup; tests replace both with fakes.
send_signal = wait_condition.signal
handle_url = wait_condition.handle_url


# Top-level key of an on_event answer whose poller did not start; is_complete fails with it.
START_ERROR = "PollerStartError"


def start_or_record(result: dict, start: Callable[[], None], **log_fields: Any) -> dict:
    """on_event's ``result`` for a resource this request made, after ``start()`` of its poller.

    Any failure to start is recorded in the result rather than raised: the answer then keeps
    the real ARN as physical id, so CloudFormation's rollback sends a Delete for it instead of
    the framework's ignored placeholder; ``raise_start_error`` fails the resource in is_complete.
    """
    try:
        start()
    except Exception as exc:  # noqa: BLE001 - any failure must keep the ARN
        log_action("poller_start_failed", **log_fields, reason=str(exc))
        result[START_ERROR] = f"{type(exc).__name__}: {exc}"
    return result


def raise_start_error(event: Mapping[str, Any], what: str) -> None:
    """In is_complete: fail when on_event recorded that the poller of ``what`` did not start."""
    if event.get(START_ERROR):
        raise HandlerError(f"{what} but its poller did not start: {event[START_ERROR]}")


def now() -> float:
    """Wall-clock seconds; tests replace it with a simulated clock."""
    return time.time()


def create_states_client() -> Any:
    """Step Functions client (tests replace this function)."""
    return boto3.client(
        "stepfunctions", config=Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 5})
    )


def execution_name(request_id: str, arn: str) -> str:
    """Stable per CloudFormation request, so a retried on_event does not start a second poller."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", arn.rsplit("/", 1)[-1])[:50]
    digest = hashlib.sha256(f"{request_id}\n{arn}".encode()).hexdigest()[:16]
    return f"{name}-{digest}"


def start(name: str, state: Mapping[str, Any], client: Any = None) -> None:
    """Start an execution; a retried request finds it started already, which is fine."""
    try:
        execution = (client or create_states_client()).start_execution(
            stateMachineArn=HandlerEnvironment.current().required_state_machine_arn(), name=name, input=json.dumps(state, sort_keys=True)
        )
    except ClientError as exc:
        if error_code(exc) != "ExecutionAlreadyExists":
            raise
        log_action("poller_already_started", execution_name=name)
        return
    log_action("poller_started", execution_arn=execution["executionArn"], kind=state.get("kind"))


def subject(state: Mapping[str, Any]) -> str:
    return str(state.get("resourceArn") or state.get("recommenderArn") or state.get("uniqueId"))


def timeout_seconds() -> int:
    return HandlerEnvironment.current().poller_timeout_seconds or DEFAULT_POLLER_TIMEOUT_SECONDS


def elapsed(state: Mapping[str, Any]) -> int:
    return int(now()) - int(state["startedAt"])


def waiting(state: dict, status: str) -> dict:
    spent = elapsed(state)
    if spent > timeout_seconds():
        return finish(state, status, wait_condition.FAILURE, f"{subject(state)} still {status} after {spent // 60} minutes")
    state.pop("lastAction", None)
    return {**state, "finished": False, "status": status}


def finish(state: dict, status: str, outcome: str, reason: str, *, data: str = "", tolerate_signal_errors: bool = False) -> dict:
    state.pop("lastAction", None)
    state.pop("signalError", None)
    log_action("poller_finished", resource_arn=subject(state), outcome=outcome, reason=reason)
    if state.get("signalUrl") or state.get("signalHandle"):
        try:
            url = state.get("signalUrl") or handle_url(state["signalHandle"])
            send_signal(url, outcome, reason, state.get("uniqueId") or subject(state), data)
        except wait_condition.SignalError as exc:
            if exc.retryable and not tolerate_signal_errors and elapsed(state) <= timeout_seconds():
                # Not delivered yet: stay unfinished so the next poll decides and signals again.
                log_action("signal_failed", reason=str(exc), retry=True)
                return {**state, "finished": False, "status": status, "signalError": str(exc)}
            # Refused (the handle is gone or the URL is wrong): nobody can be told any more.
            log_action("signal_failed", reason=str(exc), retry=False)
            return {**state, "finished": True, "status": status, "outcome": outcome, "signalError": str(exc)}
    return {**state, "finished": True, "status": status, "outcome": outcome, "reason": reason}


def begin_step(event: Mapping[str, Any]) -> dict:
    """The state of one poll step: counted, with its start time and wait between polls."""
    state = dict(event)
    state["polls"] = int(state.get("polls", 0)) + 1
    state.setdefault("startedAt", int(now()))
    state.setdefault("waitSeconds", DEFAULT_WAIT_SECONDS)
    return state


def poll_failed(event: Mapping[str, Any], context: Any) -> dict:
    """The catch-all: a poll step that failed or timed out ends in a FAILURE signal with the
    reason, instead of leaving the deploy waiting for the WaitCondition's hours-long timeout."""
    state = {key: value for key, value in dict(event).items() if key != "error"}
    error = event.get("error") or {}
    cause = str(error.get("Cause") or "")
    try:
        cause = json.loads(cause).get("errorMessage") or cause
    except (ValueError, AttributeError):
        pass
    reason = f"the poller's step failed ({error.get('Error') or 'unknown error'}): {cause[:500]}"
    state.setdefault("startedAt", int(now()))
    return finish(state, state.get("status", "UNKNOWN"), wait_condition.FAILURE, f"{subject(state)}: {reason}", tolerate_signal_errors=True)
