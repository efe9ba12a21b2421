"""Calling Personalize from a handler: the client, backoff on throttling and AccessDenied, and the
restriction to the handler's declared operations (its IAM policy grants exactly those).

``create_client`` and ``sleep`` are looked up here at call time, so tests replace them here.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .action_log import log_action
from .errors import OperationNotDeclaredError, error_code
from .lifecycle import is_deleting

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
