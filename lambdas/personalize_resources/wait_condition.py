"""Signal an ``AWS::CloudFormation::WaitCondition`` through its handle's presigned URL.

The handle URL is a presigned S3 PUT URL, so the request must be a PUT whose Content-Type is
empty: the signature was computed without one, and urllib would otherwise add
``application/x-www-form-urlencoded``. A signal with the same UniqueId overwrites the previous
one, so repeating a signal (a retried Lambda) is harmless.
"""

from __future__ import annotations

import functools
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

SUCCESS = "SUCCESS"
FAILURE = "FAILURE"

TIMEOUT_SECONDS = 10.0
ATTEMPTS = 4
FIRST_BACKOFF_SECONDS = 1.0
# Keeps the signal small; CloudFormation shows the reason in the stack events.
MAX_REASON_CHARS = 4000


class SignalError(RuntimeError):
    """The wait condition could not be signalled.

    ``retryable`` is False when the endpoint refused the signal (4xx: the handle was deleted or
    the URL is wrong), True when it may still get through later (5xx, network trouble).
    """

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def signal_body(status: str, reason: str, unique_id: str, data: str = "") -> bytes:
    if status not in (SUCCESS, FAILURE):
        raise ValueError(f"status must be {SUCCESS} or {FAILURE}, got {status!r}")
    if not unique_id:
        raise ValueError("unique_id is required")
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 3] + "..."
    return json.dumps(
        {"Status": status, "Reason": reason, "UniqueId": unique_id, "Data": data}
    ).encode("utf-8")


def _retryable(error: Exception) -> bool:
    if isinstance(error, urllib.error.HTTPError):
        # 4xx (e.g. 403 for an expired or altered URL) will not improve by retrying.
        return error.code >= 500 or error.code == 429
    # Timeouts, refused or dropped connections, garbled responses.
    return isinstance(error, (OSError, http.client.HTTPException))


def signal(
    url: str,
    status: str,
    reason: str,
    unique_id: str,
    data: str = "",
    *,
    timeout: float = TIMEOUT_SECONDS,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """PUT the signal; retry server errors and network failures. Returns the HTTP status."""
    if not url.startswith(("https://", "http://")):
        raise ValueError("url must be an http(s) URL (the WaitConditionHandle's Ref)")
    body = signal_body(status, reason, unique_id, data)
    backoff = FIRST_BACKOFF_SECONDS
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(
            url, data=body, method="PUT", headers={"Content-Type": ""}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status
        except Exception as error:
            if not _retryable(error):
                raise SignalError(f"wait condition signal refused: {error}", retryable=False) from error
            if attempt == attempts:
                raise SignalError(
                    f"wait condition signal failed after {attempts} attempts: {error}",
                    retryable=True,
                ) from error
        sleep(backoff)
        backoff *= 2
    raise AssertionError("unreachable")


# Well below the poll Lambda's timeout: a hung connection must not outlive the function.
CLIENT_CONFIG = {"connect_timeout": 3, "read_timeout": 10, "retries": {"mode": "standard", "total_max_attempts": 3}}


@functools.lru_cache(maxsize=1)
def _cloudformation() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("cloudformation", config=Config(**CLIENT_CONFIG))


def handle_url(handle: Mapping[str, str], client: Any = None) -> str:
    """The presigned URL of a WaitConditionHandle, from its stack and logical id.

    The URL is the handle's physical id. Reading it needs cloudformation:DescribeStackResource on
    that stack, which log readers do not have, so only this reference travels through logs and
    execution input. A handle that no longer exists is a refused signal (nobody waits any more)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        detail = (client or _cloudformation()).describe_stack_resource(
            StackName=handle["StackId"], LogicalResourceId=handle["LogicalResourceId"]
        )["StackResourceDetail"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        retryable = "Throttl" in code or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400) >= 500
        raise SignalError(f"cannot read wait condition handle {handle.get('LogicalResourceId')}: {error}", retryable) from error
    except BotoCoreError as error:
        raise SignalError(f"cannot read wait condition handle {handle.get('LogicalResourceId')}: {error}", True) from error
    url = detail.get("PhysicalResourceId") or ""
    if not url.startswith("https://"):
        raise SignalError(f"wait condition handle {handle.get('LogicalResourceId')} has no URL yet", True)
    return url
