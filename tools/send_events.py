"""Send Amazon Personalize PutEvents to a deployed event tracker, for a demo or a load test.

Generates seeded, deterministic sessions of events (users, items, event types, metric
attribution sources, optional recommendation ids and impressions), sends them in batches
of at most 10 events per PutEvents call (the API limit), paced by a token-bucket rate
limiter, retrying throttled calls with exponential backoff, and prints a summary of what
was sent per attribution source and event type.

`--dry-run` validates every request against botocore's own `personalize-events` model
(the shapes boto3 would send) and sends nothing, so it needs neither credentials nor a
tracking id.

Usage:
    python -m tools.send_events --tracking-id-parameter /personalize-impact/tracking-id \\
        --events 2000 --rate 50 --source recommended_for_you=0.4 \\
        --source viewed_X_also_viewed=0.3 --source third_party_widget=0.2
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import random
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import botocore.config
import botocore.exceptions
import botocore.session
from botocore.model import Shape
from botocore.validate import ParamValidationError, validate_parameters
from tqdm import tqdm

from tools._cli import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ArgumentParser,
    ClientFactory,
    CliError,
    add_aws_arguments,
    aws_error_code,
    boto3_client_factory,
    describe_aws_error,
    format_number,
    format_table,
    parse_timestamp,
    run_main,
)

PROG = "send_events"
MAX_EVENTS_PER_CALL = 10  # PutEvents eventList: 1..10 items
MAX_IMPRESSIONS = 25  # PutEvents impression list: 1..25 item ids
CLOUDWATCH_MAX_AGE_HOURS = 14 * 24  # older events are not published to CloudWatch by metric attribution
UNATTRIBUTED_SOURCE = "SOURCE_NAME_UNDEFINED"  # the label reports give events without a source
DEFAULT_EVENT_TYPES = (("View", 0.85), ("Purchase", 0.15))
# The service's pattern for eventAttributionSource (printable ASCII, not all spaces).
ATTRIBUTION_SOURCE_PATTERN = re.compile(r"^[\x20-\x7E]*[\x21-\x7E]+[\x20-\x7E]*$")

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


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Item:
    item_id: str
    price: float | None = None
    category: str | None = None


@dataclass(frozen=True)
class WeightedChoice:
    name: str
    weight: float


def parse_weighted(spec: str, option: str) -> WeightedChoice:
    """Parse `NAME=WEIGHT` (WEIGHT a share like 0.4 or a percentage like 40%)."""
    name, sep, weight_text = spec.rpartition("=")
    name = name.strip()
    if not sep or not name:
        raise CliError(f"{option} {spec!r}: expected NAME=SHARE, e.g. {option} recommended_for_you=0.4")
    weight_text = weight_text.strip()
    scale = 1.0
    if weight_text.endswith("%"):
        weight_text, scale = weight_text[:-1], 0.01
    try:
        weight = float(weight_text) * scale
    except ValueError:
        raise CliError(f"{option} {spec!r}: {weight_text!r} is not a number") from None
    if not math.isfinite(weight) or weight < 0:
        raise CliError(f"{option} {spec!r}: the share must be a number >= 0")
    return WeightedChoice(name, weight)


def parse_source_mix(specs: Sequence[str]) -> list[WeightedChoice]:
    """Attribution sources and the share of events each gets; the rest is sent unattributed."""
    sources = [parse_weighted(spec, "--source") for spec in specs]
    seen: set[str] = set()
    for source in sources:
        if source.name in seen:
            raise CliError(f"--source {source.name!r} is given twice")
        seen.add(source.name)
        if len(source.name) > 1024 or not ATTRIBUTION_SOURCE_PATTERN.match(source.name):
            raise CliError(
                f"--source {source.name!r}: an attribution source must be 1-1024 printable ASCII characters"
            )
        if source.name.upper() == UNATTRIBUTED_SOURCE:
            raise CliError(
                f"--source {source.name!r}: events without a source are reported as {UNATTRIBUTED_SOURCE}; "
                "leave that share out instead"
            )
    total = sum(source.weight for source in sources)
    if total > 1 + 1e-9:
        raise CliError(
            f"--source shares add up to {total:g}; they must be at most 1 (the rest is sent unattributed)"
        )
    return sources


def parse_event_type_mix(specs: Sequence[str]) -> list[WeightedChoice]:
    """Event types with relative weights (normalised); the first one is the 'browsing' type."""
    if not specs:
        return [WeightedChoice(name, weight) for name, weight in DEFAULT_EVENT_TYPES]
    types = [parse_weighted(spec, "--event-type") for spec in specs]
    names = [t.name for t in types]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CliError(f"--event-type {duplicates[0]!r} is given twice")
    for event_type in types:
        if len(event_type.name) > 256:
            raise CliError(f"--event-type {event_type.name[:40]!r}...: at most 256 characters")
    total = sum(t.weight for t in types)
    if total <= 0:
        raise CliError("--event-type: at least one event type needs a weight above 0")
    return [WeightedChoice(t.name, t.weight / total) for t in types]


def load_items(path: Path) -> list[Item]:
    """Items from a CSV with an ITEM_ID column; PRICE and CATEGORY_L1 are used when present."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CliError(f"--items-csv {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"--items-csv {path}: cannot read: {exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise CliError(f"{path}: empty file; expected a header with ITEM_ID")
    columns = {name.strip().upper(): index for index, name in enumerate(header)}
    if "ITEM_ID" not in columns:
        raise CliError(f"{path}, line 1: no ITEM_ID column in header {','.join(header)!r}")
    id_col, price_col, category_col = columns["ITEM_ID"], columns.get("PRICE"), columns.get("CATEGORY_L1")
    items: list[Item] = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise CliError(f"{path}, line {line}: expected {len(header)} fields, found {len(row)}")
        item_id = row[id_col].strip()
        if not item_id or len(item_id) > 256:
            raise CliError(f"{path}, line {line}: ITEM_ID must be 1-256 characters")
        price = None
        if price_col is not None and row[price_col].strip():
            try:
                price = float(row[price_col])
            except ValueError:
                raise CliError(f"{path}, line {line}: PRICE {row[price_col]!r} is not a number") from None
            if not math.isfinite(price):
                raise CliError(f"{path}, line {line}: PRICE {row[price_col]!r} is not a finite number")
        category = (row[category_col].strip() or None) if category_col is not None else None
        items.append(Item(item_id, price, category))
    if not items:
        raise CliError(f"{path}: no items (only a header)")
    # A repeated ITEM_ID would skew popularity and could repeat in an impression list.
    unique: dict[str, Item] = {}
    for item in items:
        unique.setdefault(item.item_id, item)
    return list(unique.values())


def generated_items(count: int) -> list[Item]:
    return [Item(f"item-{index:05d}") for index in range(1, count + 1)]


# --------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class TrafficModel:
    """What to generate. Same model + same seed = the same events, in the same order."""

    event_count: int
    user_count: int
    items: Sequence[Item]
    event_types: Sequence[WeightedChoice] = tuple(WeightedChoice(n, w) for n, w in DEFAULT_EVENT_TYPES)
    sources: Sequence[WeightedChoice] = ()
    mean_session_length: float = 6.0
    batch_size: int = MAX_EVENTS_PER_CALL
    impressions: int = 0  # impression list length for attributed events; 0 = none
    recommendation_ids: bool = False
    window_start: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    window_seconds: float = 0.0  # 0: every sentAt is window_start (live sends restamp it)


@dataclass
class EventBatch:
    """One PutEvents call: events of one session of one user."""

    session_id: str
    user_id: str
    events: list[dict[str, Any]]

    def request(self, tracking_id: str) -> dict[str, Any]:
        return {
            "trackingId": tracking_id,
            "userId": self.user_id,
            "sessionId": self.session_id,
            "eventList": self.events,
        }


def event_source(event: dict[str, Any]) -> str:
    attribution = event.get("metricAttribution")
    return attribution["eventAttributionSource"] if attribution else UNATTRIBUTED_SOURCE


def _popularity_weights(count: int, rng: random.Random, skew: float) -> list[float]:
    """Long-tail popularity (a few popular, many rare), in a seeded random order."""
    ranks = list(range(count))
    rng.shuffle(ranks)
    return [1.0 / (rank + 1) ** skew for rank in ranks]


def _seeded_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def generate_batches(model: TrafficModel, seed: int) -> Iterator[EventBatch]:
    """Yield PutEvents batches for `model.event_count` events, deterministic for a seed.

    Sessions have geometric lengths around `mean_session_length`; users and items follow
    long-tail popularity; a session mostly browses one category when items have one.
    Events of the first event type browse; other types (Purchase, ...) mostly act on an
    item already seen in the session and carry the item's PRICE as eventValue.
    """
    rng = random.Random(seed)
    items = list(model.items)
    users = [f"user-{index:05d}" for index in range(1, model.user_count + 1)]
    user_cum = _cumulative(_popularity_weights(len(users), rng, 0.6))
    item_weights = _popularity_weights(len(items), rng, 0.8)
    item_cum = _cumulative(item_weights)
    by_category: dict[str, tuple[list[int], list[float]]] = {}
    for index, item in enumerate(items):
        if item.category:
            indices, weights = by_category.setdefault(item.category, ([], []))
            indices.append(index)
            weights.append(item_weights[index])
    category_cum = {cat: (idx, _cumulative(w)) for cat, (idx, w) in by_category.items()}
    type_names = [t.name for t in model.event_types]
    type_cum = _cumulative([t.weight for t in model.event_types])
    browse_type = type_names[0]
    source_cum = _cumulative([s.weight for s in model.sources])
    continue_probability = 1 - 1 / max(model.mean_session_length, 1.0)

    produced = 0
    while produced < model.event_count:
        length = 1
        while rng.random() < continue_probability and length < model.event_count - produced:
            length += 1
        user_id = users[_pick(user_cum, rng)]
        session_id = _seeded_uuid(rng)
        first_item = items[_pick(item_cum, rng)]
        category = first_item.category if first_item.category in category_cum else None
        clock = model.window_start + timedelta(seconds=model.window_seconds * produced / model.event_count)
        window_end = model.window_start + timedelta(seconds=model.window_seconds)
        seen: list[Item] = []
        events: list[dict[str, Any]] = []
        for position in range(length):
            event_type = type_names[_pick(type_cum, rng)]
            if event_type != browse_type and seen and rng.random() < 0.8:
                item = rng.choice(seen)
            elif position == 0:
                item = first_item
            elif category is not None and rng.random() < 0.7:
                indices, cum = category_cum[category]
                item = items[indices[_pick(cum, rng)]]
            else:
                item = items[_pick(item_cum, rng)]
            seen.append(item)
            if model.window_seconds > 0 and position > 0:
                clock = min(clock + timedelta(seconds=rng.uniform(5, 90)), window_end)
            event: dict[str, Any] = {
                "eventId": _seeded_uuid(rng),
                "eventType": event_type,
                "itemId": item.item_id,
                "sentAt": clock,
            }
            if event_type != browse_type and item.price is not None:
                event["eventValue"] = item.price
            source_index = _pick_optional(source_cum, rng)
            if source_index is not None:
                event["metricAttribution"] = {"eventAttributionSource": model.sources[source_index].name}
                if model.recommendation_ids:
                    # Personalize ignores recommendationId when eventAttributionSource is set; it is
                    # sent for realism (clients pass what GetRecommendations returned).
                    event["recommendationId"] = "RID-" + rng.getrandbits(128).to_bytes(16, "big").hex()[:32]
                if model.impressions:
                    event["impression"] = _impression(item, items, model.impressions, rng)
            events.append(event)
        for start in range(0, len(events), model.batch_size):
            yield EventBatch(session_id, user_id, events[start : start + model.batch_size])
        produced += length


def _cumulative(weights: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def _pick(cumulative: Sequence[float], rng: random.Random) -> int:
    return min(_bisect(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)


def _pick_optional(cumulative: Sequence[float], rng: random.Random) -> int | None:
    """Index of the share that a uniform draw falls in, or None past the last share."""
    draw = rng.random()
    if not cumulative or draw >= cumulative[-1]:
        return None
    return _bisect(cumulative, draw)


def _bisect(cumulative: Sequence[float], value: float) -> int:
    low, high = 0, len(cumulative)
    while low < high:
        middle = (low + high) // 2
        if cumulative[middle] <= value:
            low = middle + 1
        else:
            high = middle
    return low


def _impression(item: Item, items: Sequence[Item], size: int, rng: random.Random) -> list[str]:
    """The items shown with the one acted on: the acted-on item plus distinct others."""
    drawn = rng.sample(range(len(items)), min(len(items), size + 1))
    others = list(dict.fromkeys(items[i].item_id for i in drawn if items[i].item_id != item.item_id))
    shown = [item.item_id, *others[: size - 1]]
    rng.shuffle(shown)
    return shown


# --------------------------------------------------------------------------- validation


class PutEventsValidator:
    """Checks PutEvents requests against botocore's installed `personalize-events` model.

    `validate_parameters` checks types, required members and minimums; the service also
    enforces maximum lengths, list sizes and patterns from the same model (botocore leaves
    those to the server), so they are checked here too.
    """

    def __init__(self, session: botocore.session.Session | None = None):
        service = (session or botocore.session.get_session()).get_service_model("personalize-events")
        self.input_shape = service.operation_model("PutEvents").input_shape
        self.api_version = service.api_version

    def problems(self, request: dict[str, Any]) -> list[str]:
        problems: list[str] = []
        try:
            validate_parameters(request, self.input_shape)
        except ParamValidationError as exc:
            problems.extend(str(exc.kwargs.get("report", exc)).splitlines())
        problems.extend(_limit_problems(request, self.input_shape, "PutEvents"))
        return problems


def _limit_problems(value: Any, shape: Shape, path: str) -> Iterator[str]:
    # Values of sensitive members (userId, itemId, properties) are not echoed back.
    metadata = shape.metadata
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                yield from _limit_problems(value[name], member, f"{path}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        if "max" in metadata and len(value) > metadata["max"]:
            yield f"{path}: {len(value)} entries, at most {metadata['max']} allowed"
        for index, entry in enumerate(value):
            yield from _limit_problems(entry, shape.member, f"{path}[{index}]")
    elif shape.type_name == "string" and isinstance(value, str):
        if "max" in metadata and len(value) > metadata["max"]:
            yield f"{path}: {len(value)} characters, at most {metadata['max']} allowed"
        pattern = metadata.get("pattern")
        if pattern and not re.search(pattern, value):
            yield f"{path}: does not match the pattern {pattern}"


# --------------------------------------------------------------------------- pacing


class TokenBucket:
    """Token-bucket rate limiter: `rate` tokens per second, bursts up to `capacity`.

    `clock` (monotonic seconds) and `sleep` are injectable so tests can use a fake clock.
    """

    def __init__(
        self,
        rate: float,
        capacity: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if rate <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be positive")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._tokens = capacity
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def acquire(self, tokens: float = 1.0) -> float:
        """Block until `tokens` are available, take them, and return the seconds waited."""
        if tokens > self.capacity:
            raise ValueError(f"cannot take {tokens} tokens from a bucket of {self.capacity}")
        waited = 0.0
        self._refill()
        # The tolerance absorbs float rounding of clock differences; without it a shortfall of
        # 1e-12 tokens could ask for sleeps too short to move the clock, forever.
        while self._tokens < tokens - 1e-9:
            delay = (tokens - self._tokens) / self.rate
            self._sleep(delay)
            waited += delay
            self._refill()
        self._tokens = max(0.0, self._tokens - tokens)
        return waited


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits in [d/2, d], d = min(cap, base * 2**n)."""

    max_retries: int = 6
    base_delay: float = 0.25
    max_delay: float = 20.0

    def delay(self, retry_number: int, rng: random.Random) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2**retry_number)
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


# --------------------------------------------------------------------------- sending


@dataclass
class SendSummary:
    dry_run: bool = False
    events: Counter = field(default_factory=Counter)  # (source, event type) -> events sent or validated
    calls_by_source: Counter = field(default_factory=Counter)  # source -> calls carrying >= 1 of its events
    calls: int = 0
    retries: int = 0
    failed_calls: int = 0
    failed_events: int = 0
    invalid_calls: int = 0
    errors: Counter = field(default_factory=Counter)  # error code -> failed calls
    first_problems: list[str] = field(default_factory=list)
    rate_wait_seconds: float = 0.0
    elapsed_seconds: float = 0.0
    aborted: str | None = None
    interrupted: bool = False

    @property
    def events_total(self) -> int:
        return sum(self.events.values())

    def note_problem(self, message: str) -> None:
        if len(self.first_problems) < 5:
            self.first_problems.append(message)

    @property
    def ok(self) -> bool:
        return not (self.failed_calls or self.invalid_calls or self.aborted)

    def to_json(self) -> dict[str, Any]:
        by_source: dict[str, dict[str, Any]] = {}
        for (source, event_type), count in sorted(self.events.items()):
            entry = by_source.setdefault(
                source, {"events": 0, "calls": self.calls_by_source[source], "by_event_type": {}}
            )
            entry["events"] += count
            entry["by_event_type"][event_type] = count
        return {
            "dry_run": self.dry_run,
            "events": self.events_total,
            "calls": self.calls,
            "by_source": by_source,
            "retries": self.retries,
            "failed_calls": self.failed_calls,
            "failed_events": self.failed_events,
            "invalid_calls": self.invalid_calls,
            "errors": dict(self.errors),
            "problems": self.first_problems,
            "rate_wait_seconds": round(self.rate_wait_seconds, 3),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "aborted": self.aborted,
        }


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
    limiter: TokenBucket | None = None,
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
    client is not used and the limiter is skipped.
    """
    summary = SendSummary(dry_run=dry_run)
    jitter = jitter or random.Random(0)
    started = clock()
    try:
        for number, batch in enumerate(batches, start=1):
            if wall_clock is not None and not dry_run:
                now = wall_clock()
                for event in batch.events:
                    event["sentAt"] = now
            request = batch.request(tracking_id)
            problems = validator.problems(request)
            if problems:
                summary.invalid_calls += 1
                summary.note_problem(f"request {number} (session {batch.session_id}): {'; '.join(problems)}")
            elif dry_run:
                _count_sent(summary, batch)
            else:
                if limiter is not None:
                    summary.rate_wait_seconds += limiter.acquire(len(batch.events))
                try:
                    error = _put_with_retries(client, request, retry, sleep, jitter, summary)
                except FatalSendError as exc:
                    error = (exc.code, str(exc))
                    summary.aborted = f"{exc} (every further call would fail the same way)"
                if error is None:
                    _count_sent(summary, batch)
                else:
                    summary.failed_calls += 1
                    summary.failed_events += len(batch.events)
                    summary.errors[error[0]] += 1
                    summary.note_problem(f"request {number} (session {batch.session_id}): {error[1]}")
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
    return summary


def _count_sent(summary: SendSummary, batch: EventBatch) -> None:
    summary.calls += 1
    sources = set()
    for event in batch.events:
        source = event_source(event)
        sources.add(source)
        summary.events[(source, event["eventType"])] += 1
    for source in sources:
        summary.calls_by_source[source] += 1


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


# --------------------------------------------------------------------------- output


def format_summary(summary: SendSummary, validator: PutEventsValidator, rate: float | None) -> str:
    event_types = sorted({event_type for _, event_type in summary.events})
    sources = sorted({source for source, _ in summary.events}, key=lambda s: (s == UNATTRIBUTED_SOURCE, s))
    rows = []
    for source in sources:
        counts = [summary.events[(source, t)] for t in event_types]
        calls = summary.calls_by_source[source]
        rows.append([source, *map(format_number, counts), format_number(sum(counts)), format_number(calls)])
    if sources:
        totals = [sum(summary.events[(s, t)] for s in sources) for t in event_types]
        rows.append(["total", *map(format_number, totals), format_number(sum(totals)), format_number(summary.calls)])
    headers = ["source", *event_types, "events", "calls"]
    verb = "validated (dry run, nothing sent)" if summary.dry_run else "sent"
    lines = [
        f"{format_number(summary.events_total)} events in {format_number(summary.calls)} PutEvents calls {verb}",
    ]
    if rows:
        lines += [
            "",
            format_table(headers, rows, right_align=set(range(1, len(headers)))),
            "(calls per source: calls carrying at least one of its events; one call can carry several sources)",
            "",
        ]
    if summary.dry_run:
        lines.append(f"requests checked against botocore's personalize-events {validator.api_version} PutEvents model")
        if rate:
            lines.append(f"at --rate {rate:g} events/s a real run would take about {summary.events_total / rate:.1f} s")
    else:
        lines.append(
            f"retries: {summary.retries}   failed calls: {summary.failed_calls} ({summary.failed_events} events)"
            f"   elapsed: {summary.elapsed_seconds:.1f} s"
            f" (waiting for the rate limit: {summary.rate_wait_seconds:.1f} s)"
        )
        if summary.errors:
            lines.append("errors: " + ", ".join(f"{code} x{count}" for code, count in sorted(summary.errors.items())))
    if summary.invalid_calls:
        lines.append(f"invalid requests (not sent): {summary.invalid_calls}")
    for problem in summary.first_problems:
        lines.append(f"  - {problem}")
    if summary.aborted:
        lines.append(f"aborted: {summary.aborted}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- CLI


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m tools.send_events",
        description=(
            "Send generated Amazon Personalize PutEvents (sessions of View/Purchase events with "
            "metric attribution sources) to an event tracker, for a demo or a load test."
        ),
        epilog=(
            "Example: python -m tools.send_events --tracking-id-parameter /personalize-impact/tracking-id "
            "--events 2000 --rate 50 --source recommended_for_you=0.4 --source viewed_X_also_viewed=0.3 "
            "--source third_party_widget=0.2"
        ),
    )
    target = parser.add_argument_group("event tracker")
    tracking = target.add_mutually_exclusive_group()
    tracking.add_argument("--tracking-id", help="the event tracker's tracking id")
    tracking.add_argument(
        "--tracking-id-parameter",
        metavar="NAME",
        help="read the tracking id from this SSM parameter (the stack writes it there)",
    )
    add_aws_arguments(parser)

    traffic = parser.add_argument_group("generated traffic")
    traffic.add_argument("--events", type=_positive_int, default=1000, help="number of events (default 1000)")
    traffic.add_argument("--users", type=_positive_int, default=100, help="number of distinct users (default 100)")
    items = traffic.add_mutually_exclusive_group()
    items.add_argument(
        "--items-csv",
        type=Path,
        metavar="PATH",
        help="items file with ITEM_ID (and optional PRICE, CATEGORY_L1) columns, like the sample items data",
    )
    items.add_argument(
        "--items", type=_positive_int, default=200, help="generated item ids when no --items-csv (default 200)"
    )
    traffic.add_argument(
        "--event-type",
        action="append",
        default=[],
        metavar="TYPE=WEIGHT",
        help="event type and relative weight, repeatable; the first is the browsing type "
        "(default View=0.85 Purchase=0.15)",
    )
    traffic.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME=SHARE",
        help="metric attribution source and its share of events (0.4 or 40%%), repeatable; "
        "shares add up to at most 1, the rest is sent without a source",
    )
    traffic.add_argument(
        "--session-length", type=float, default=6.0, help="mean events per session (default 6)"
    )
    traffic.add_argument(
        "--recommendation-ids",
        action="store_true",
        help="also send a recommendationId with attributed events",
    )
    traffic.add_argument(
        "--impressions",
        type=int,
        default=0,
        metavar="N",
        help=f"send an impression list of N item ids (1-{MAX_IMPRESSIONS}) with attributed events",
    )
    traffic.add_argument("--seed", type=int, default=42, help="random seed; same seed, same events (default 42)")
    traffic.add_argument(
        "--backdate-hours",
        type=float,
        default=0.0,
        metavar="H",
        help="spread sentAt over the H hours before --end-time instead of stamping events when sent "
        f"(CloudWatch only gets events younger than {CLOUDWATCH_MAX_AGE_HOURS} h)",
    )
    traffic.add_argument("--end-time", help="end of the --backdate-hours window (ISO 8601 or epoch; default now)")

    sending = parser.add_argument_group("sending")
    sending.add_argument("--rate", type=float, help="events per second (token bucket; default unlimited)")
    sending.add_argument(
        "--batch-size", type=int, default=MAX_EVENTS_PER_CALL, help="events per PutEvents call, 1-10 (default 10)"
    )
    sending.add_argument("--max-retries", type=int, default=6, help="retries of a throttled call (default 6)")
    sending.add_argument(
        "--max-failures", type=_positive_int, default=10, help="stop after this many failed calls (default 10)"
    )
    sending.add_argument(
        "--dry-run",
        action="store_true",
        help="validate every request against botocore's personalize-events model and send nothing "
        "(needs no credentials; a --tracking-id-parameter is not read)",
    )
    output = parser.add_argument_group("output")
    output.add_argument("--quiet", action="store_true", help="no progress bar")
    output.add_argument("--json", action="store_true", help="print the summary as JSON")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return value


def read_tracking_id(ssm_client: Any, parameter_name: str) -> str:
    """The tracking id stored in an SSM parameter, with clear errors for the usual mistakes."""
    try:
        response = ssm_client.get_parameter(Name=parameter_name, WithDecryption=True)
    except botocore.exceptions.ClientError as exc:
        if aws_error_code(exc) == "ParameterNotFound":
            raise CliError(
                f"SSM parameter {parameter_name!r} not found (is the stack deployed in this region/account?)"
            ) from None
        raise
    value = response["Parameter"]["Value"].strip()
    if not value:
        raise CliError(f"SSM parameter {parameter_name!r} is empty")
    return value


def main(
    argv: Sequence[str] | None = None,
    *,
    client_factory: ClientFactory | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    return run_main(
        PROG,
        lambda: _run(
            list(sys.argv[1:] if argv is None else argv), client_factory, stdout, stderr, clock, sleep, wall_clock
        ),
        stderr,
    )


def _run(
    argv: list[str],
    client_factory: ClientFactory | None,
    stdout: TextIO,
    stderr: TextIO,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    wall_clock: Callable[[], datetime],
) -> int:
    args = build_parser().parse_args(argv)
    if not 1 <= args.batch_size <= MAX_EVENTS_PER_CALL:
        raise CliError(f"--batch-size must be 1-{MAX_EVENTS_PER_CALL} (the PutEvents limit)")
    if not 0 <= args.impressions <= MAX_IMPRESSIONS:
        raise CliError(f"--impressions must be 0-{MAX_IMPRESSIONS} (the PutEvents limit)")
    if args.rate is not None and not (math.isfinite(args.rate) and args.rate > 0):
        raise CliError("--rate must be a number of events per second above 0")
    if args.max_retries < 0:
        raise CliError("--max-retries must be 0 or more")
    if not (math.isfinite(args.session_length) and args.session_length >= 1):
        raise CliError("--session-length must be at least 1")
    if not (math.isfinite(args.backdate_hours) and args.backdate_hours >= 0):
        raise CliError("--backdate-hours must be 0 or more")
    if args.end_time and not args.backdate_hours:
        raise CliError("--end-time only applies with --backdate-hours")
    if args.backdate_hours > CLOUDWATCH_MAX_AGE_HOURS:
        print(
            f"{PROG}: warning: events older than {CLOUDWATCH_MAX_AGE_HOURS} h are not published to CloudWatch",
            file=stderr,
        )
    sources = parse_source_mix(args.source)
    event_types = parse_event_type_mix(args.event_type)
    items = load_items(args.items_csv) if args.items_csv else generated_items(args.items)
    if args.impressions > len(items):
        raise CliError(f"--impressions {args.impressions} is more than the {len(items)} items available")

    end = parse_timestamp(args.end_time, "--end-time") if args.end_time else wall_clock()
    window_seconds = args.backdate_hours * 3600
    model = TrafficModel(
        event_count=args.events,
        user_count=args.users,
        items=items,
        event_types=event_types,
        sources=sources,
        mean_session_length=args.session_length,
        batch_size=args.batch_size,
        impressions=args.impressions,
        recommendation_ids=args.recommendation_ids,
        window_start=end - timedelta(seconds=window_seconds),
        window_seconds=window_seconds,
    )
    validator = PutEventsValidator()

    client = None
    if args.dry_run:
        # Any non-empty id passes the model; the real one is not needed to check request shapes.
        tracking_id = args.tracking_id or "dry-run-tracking-id"
    else:
        if not (args.tracking_id or args.tracking_id_parameter):
            raise CliError("give --tracking-id or --tracking-id-parameter (or use --dry-run)")
        factory = client_factory or boto3_client_factory(args.profile, args.region)
        tracking_id = args.tracking_id or read_tracking_id(factory("ssm"), args.tracking_id_parameter)
        # botocore's own retries are switched off so retries are counted (and paced) here.
        client = factory(
            "personalize-events",
            config=botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )

    limiter = None
    if args.rate and not args.dry_run:
        # Capacity of one full batch at least, else a 10-event call could never be afforded.
        limiter = TokenBucket(args.rate, max(args.rate, args.batch_size), clock=clock, sleep=sleep)
    show_progress = not (args.quiet or args.json or args.dry_run) and stderr.isatty()
    with tqdm(total=args.events, unit="ev", file=stderr, disable=not show_progress, dynamic_ncols=True) as bar:
        summary = send_batches(
            generate_batches(model, args.seed),
            client,
            tracking_id,
            validator=validator,
            limiter=limiter,
            retry=RetryPolicy(max_retries=args.max_retries),
            sleep=sleep,
            clock=clock,
            wall_clock=None if args.backdate_hours else wall_clock,
            jitter=random.Random(args.seed),
            max_failures=args.max_failures,
            progress=bar.update,
            dry_run=args.dry_run,
        )
    if args.json:
        print(json.dumps(summary.to_json(), indent=2), file=stdout)
    else:
        print(format_summary(summary, validator, args.rate), file=stdout)
    if summary.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if summary.ok else EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
