"""PutEvents calls: validated, paced, retried with backoff; a failed call never raises."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import botocore.exceptions

from tools._cli import aws_error_code, describe_aws_error
from tools.events.rate_limit import RateLimiter
from tools.events.recommendations import RecommendationFetcher
from tools.events.summary import SendSummary
from tools.events.traffic import EventBatch
from tools.events.validation import PutEventsValidator

# Error codes worth retrying: throttling and transient server-side failures.
RETRYABLE_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerError",
        "InternalServerException",
        "InternalFailure",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# Errors that every following call would hit as well (credentials, permissions, a wrong
# tracking id): stop at the first one instead of failing every batch.
FATAL_ERROR_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
        "ExpiredToken",
        "MissingAuthenticationTokenException",
        "ResourceNotFoundException",
    }
)
TRANSIENT_EXCEPTIONS = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ConnectTimeoutError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits in [d/2, d], d = min(cap, base * 2**n)."""

    max_retries: int = 6
    base_delay: float = 0.25
    max_delay: float = 20.0

    def delay(self, retry_number: int, rng: random.Random) -> float:
        # The exponent is capped: 2**1100 would overflow a float long after the cap applies anyway.
        ceiling = min(self.max_delay, self.base_delay * 2 ** min(retry_number, 64))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


class FatalSendError(Exception):
    """A failure every later call would repeat (credentials, permissions, unknown tracker)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def send_batches(
    batches: Iterable[EventBatch],
    client: Any | None,
    tracking_id: str,
    *,
    validator: PutEventsValidator,
    planned_events: int = 0,
    limiter: RateLimiter | None = None,
    recommendations: RecommendationFetcher | None = None,
    retry: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], datetime] | None = None,
    jitter: random.Random | None = None,
    max_failures: int = 10,
    progress: Callable[[int], None] | None = None,
    dry_run: bool = False,
) -> SendSummary:
    """Validate and send each batch with `client.put_events`; never raises for a failed call.

    `wall_clock`, when given, restamps every event's sentAt at send time (live traffic);
    without it the generated sentAt values are kept (backdated traffic). In a dry run the
    client is not used and neither the limiter nor GetRecommendations is.
    """
    summary = SendSummary(dry_run=dry_run, planned_events=planned_events)
    jitter = jitter or random.Random(0)
    started = clock()
    try:
        for number, batch in enumerate(batches, start=1):
            if recommendations is not None and not dry_run:
                recommendations.apply(batch)
            request = batch.request(tracking_id)
            problems = validator.problems(request)
            if problems:
                summary.invalid_calls += 1
                summary.invalid_events += len(batch.events)
                summary.note_problem(f"request {number} (session {batch.session_id}): {'; '.join(problems)}")
            elif dry_run:
                summary.count_sent(batch)
            else:
                _send_batch(batch, client, tracking_id, limiter, wall_clock, retry, sleep, jitter, summary, number)
                if summary.aborted:
                    break
                if summary.failed_calls >= max_failures:
                    summary.aborted = f"stopped after {summary.failed_calls} failed calls (--max-failures)"
                    break
            if progress is not None:
                progress(len(batch.events))
    except KeyboardInterrupt:
        # Ctrl-C ends a load test early; what was sent so far is still worth a summary.
        summary.aborted = "interrupted"
        summary.interrupted = True
    finally:
        summary.elapsed_seconds = clock() - started
        if recommendations is not None:
            summary.recommendations = recommendations.stats
    return summary


def _send_batch(
    batch: EventBatch,
    client: Any,
    tracking_id: str,
    limiter: RateLimiter | None,
    wall_clock: Callable[[], datetime] | None,
    retry: RetryPolicy,
    sleep: Callable[[float], None],
    jitter: random.Random,
    summary: SendSummary,
    number: int,
) -> None:
    """Send one batch, in several calls when the rate limit has room for only part of it."""
    remaining = batch.events
    while remaining:
        size = len(remaining)
        if limiter is not None:
            size, waited = limiter.acquire(size)
            summary.rate_wait_seconds += waited
        call = EventBatch(batch.session_id, batch.user_id, remaining[:size])
        remaining = remaining[size:]
        if wall_clock is not None:
            now = wall_clock()  # stamped after the wait for the rate limit: the time it really goes
            for event in call.events:
                event["sentAt"] = now
        try:
            error = _put_with_retries(client, call.request(tracking_id), retry, sleep, jitter, summary)
        except FatalSendError as exc:
            error = (exc.code, str(exc))
            summary.aborted = f"{exc} (every further call would fail the same way)"
        if error is None:
            summary.count_sent(call)
            continue
        summary.failed_calls += 1
        summary.failed_events += len(call.events)
        summary.errors[error[0]] += 1
        summary.note_problem(f"request {number} (session {batch.session_id}): {error[1]}")
        if summary.aborted:
            return


def _put_with_retries(
    client: Any,
    request: dict[str, Any],
    retry: RetryPolicy,
    sleep: Callable[[float], None],
    jitter: random.Random,
    summary: SendSummary,
) -> tuple[str, str] | None:
    """Send one request; return None on success or (error code, message) after giving up."""
    retry_number = 0
    while True:
        try:
            client.put_events(**request)
            return None
        except botocore.exceptions.ClientError as exc:
            code = aws_error_code(exc) or "Unknown"
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in FATAL_ERROR_CODES:
                raise FatalSendError(code, describe_aws_error(exc)) from exc
            retryable = code in RETRYABLE_ERROR_CODES or status == 429 or status >= 500
            failure = (code, describe_aws_error(exc))
        except TRANSIENT_EXCEPTIONS as exc:
            if summary.calls == 0 and isinstance(exc, botocore.exceptions.EndpointConnectionError):
                # Nothing got through yet: a wrong region or no network, not a blip worth minutes of backoff.
                raise FatalSendError(type(exc).__name__, str(exc)) from exc
            retryable, failure = True, (type(exc).__name__, str(exc))
        except botocore.exceptions.NoCredentialsError as exc:
            raise FatalSendError("NoCredentials", describe_aws_error(exc)) from exc
        if not retryable or retry_number >= retry.max_retries:
            return failure
        sleep(retry.delay(retry_number, jitter))
        retry_number += 1
        summary.retries += 1
