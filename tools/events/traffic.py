"""Generated traffic: sessions of PutEvents events, deterministic for a seed.

Users and items follow long-tail popularity; a session mostly browses one category when items
have one; events of the first event type browse, other types (Purchase, ...) mostly act on an
item already seen in the session and carry the item's PRICE as eventValue. Recommendation ids
are not made up here: `recommendations` adds real ones at send time.
"""

from __future__ import annotations

import bisect
import itertools
import random
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.events.validation import MAX_EVENTS_PER_CALL

UNATTRIBUTED_SOURCE = "SOURCE_NAME_UNDEFINED"  # the label reports give events without a source
DEFAULT_EVENT_TYPES = (("View", 0.85), ("Purchase", 0.15))


@dataclass(frozen=True)
class Item:
    item_id: str
    price: float | None = None
    category: str | None = None


@dataclass(frozen=True)
class WeightedChoice:
    name: str
    weight: float


@dataclass(frozen=True)
class TrafficModel:
    """What to generate. Same model + same seed = the same events, in the same order."""

    event_count: int
    users: Sequence[str]
    items: Sequence[Item]
    event_types: Sequence[WeightedChoice] = tuple(WeightedChoice(n, w) for n, w in DEFAULT_EVENT_TYPES)
    sources: Sequence[WeightedChoice] = ()
    mean_session_length: float = 6.0
    batch_size: int = MAX_EVENTS_PER_CALL
    impressions: int = 0  # impression list length for attributed events; 0 = none
    window_start: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    window_seconds: float = 0.0  # 0: every sentAt is window_start (live sends restamp it)
    # An experiment (send_events --experiment): every event of a user carries the user's arm as
    # its source, and an arm's non-browse events are (1 + boost) times as likely (a true effect).
    arm_of: Callable[[str], str] | None = None
    arm_boost: Mapping[str, float] = field(default_factory=dict)


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


def generate_batches(model: TrafficModel, seed: int) -> Iterator[EventBatch]:
    """Yield PutEvents batches for `model.event_count` events; event and session ids derive
    from `seed`, so a new seed per run gives ids Personalize has not seen."""
    rng = random.Random(seed)
    tables = _draw_tables(model, rng)
    continue_probability = 1 - 1 / max(model.mean_session_length, 1.0)
    produced = 0
    while produced < model.event_count:
        length = 1
        while rng.random() < continue_probability and length < model.event_count - produced:
            length += 1
        user_id = model.users[_pick(tables.user_cum, rng)]
        session_id, events = _session(model, tables, rng, user_id, length, produced)
        for start in range(0, len(events), model.batch_size):
            yield EventBatch(session_id, user_id, events[start : start + model.batch_size])
        produced += length


@dataclass
class _DrawTables:
    """The cumulative weights the generator draws users, items, event types and sources from."""

    items: list[Item]
    user_cum: list[float]
    item_cum: list[float]
    category_cum: dict[str, tuple[list[int], list[float]]]  # category -> (its items' indices, their weights)
    type_names: list[str]  # the first is the browsing type
    type_cum: list[float]
    source_cum: list[float]
    boosted_cum: dict[str, list[float]]  # experiment arm -> event-type weights with its true effect


def _draw_tables(model: TrafficModel, rng: random.Random) -> _DrawTables:
    items = list(model.items)
    user_cum = _cumulative(_popularity_weights(len(model.users), rng, 0.6))
    item_weights = _popularity_weights(len(items), rng, 0.8)
    by_category: dict[str, tuple[list[int], list[float]]] = {}
    for index, item in enumerate(items):
        if item.category:
            indices, weights = by_category.setdefault(item.category, ([], []))
            indices.append(index)
            weights.append(item_weights[index])
    browse_type = model.event_types[0].name
    return _DrawTables(
        items=items,
        user_cum=user_cum,
        item_cum=_cumulative(item_weights),
        category_cum={cat: (idx, _cumulative(w)) for cat, (idx, w) in by_category.items()},
        type_names=[t.name for t in model.event_types],
        type_cum=_cumulative([t.weight for t in model.event_types]),
        source_cum=_cumulative([s.weight for s in model.sources]),
        boosted_cum={
            arm: _cumulative([t.weight * (1 if t.name == browse_type else 1 + boost) for t in model.event_types]) for arm, boost in model.arm_boost.items()
        },
    )


def _session(
    model: TrafficModel, tables: _DrawTables, rng: random.Random, user_id: str, length: int, produced: int
) -> tuple[str, list[dict[str, Any]]]:
    """The session id and the `length` events of one session of `user_id`."""
    items, browse_type = tables.items, tables.type_names[0]
    arm = model.arm_of(user_id) if model.arm_of else None
    session_type_cum = tables.boosted_cum.get(arm, tables.type_cum) if arm else tables.type_cum
    session_id = _seeded_uuid(rng)
    first_item = items[_pick(tables.item_cum, rng)]
    category = first_item.category if first_item.category in tables.category_cum else None
    clock = model.window_start + timedelta(seconds=model.window_seconds * produced / model.event_count)
    window_end = model.window_start + timedelta(seconds=model.window_seconds)
    seen: list[Item] = []
    events: list[dict[str, Any]] = []
    for position in range(length):
        event_type = tables.type_names[_pick(session_type_cum, rng)]
        if event_type != browse_type and seen and rng.random() < 0.8:
            item = rng.choice(seen)
        elif position == 0:
            item = first_item
        elif category is not None and rng.random() < 0.7:
            indices, cum = tables.category_cum[category]
            item = items[indices[_pick(cum, rng)]]
        else:
            item = items[_pick(tables.item_cum, rng)]
        seen.append(item)
        if model.window_seconds > 0 and position > 0:
            clock = min(clock + timedelta(seconds=rng.uniform(5, 90)), window_end)
        events.append(_event(model, tables, rng, event_type, item, clock, arm))
    return session_id, events


def _event(
    model: TrafficModel, tables: _DrawTables, rng: random.Random, event_type: str, item: Item, clock: datetime, arm: str | None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventId": _seeded_uuid(rng),
        "eventType": event_type,
        "itemId": item.item_id,
        "sentAt": clock,
    }
    if event_type != tables.type_names[0] and item.price is not None:
        event["eventValue"] = item.price
    source = arm
    if not arm and (source_index := _pick_optional(tables.source_cum, rng)) is not None:
        source = model.sources[source_index].name
    if source:
        event["metricAttribution"] = {"eventAttributionSource": source}
        if model.impressions:
            event["impression"] = _impression(item, tables.items, model.impressions, rng)
    return event


def _popularity_weights(count: int, rng: random.Random, skew: float) -> list[float]:
    """Long-tail popularity (a few popular, many rare), in a seeded random order."""
    ranks = list(range(count))
    rng.shuffle(ranks)
    return [1.0 / (rank + 1) ** skew for rank in ranks]


def _seeded_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _cumulative(weights: Sequence[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def _pick(cumulative: Sequence[float], rng: random.Random) -> int:
    return min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)


def _pick_optional(cumulative: Sequence[float], rng: random.Random) -> int | None:
    """Index of the share that a uniform draw falls in, or None past the last share."""
    draw = rng.random()
    if not cumulative or draw >= cumulative[-1]:
        return None
    return bisect.bisect_right(cumulative, draw)


def _impression(item: Item, items: Sequence[Item], size: int, rng: random.Random) -> list[str]:
    """The items shown with the one acted on: the acted-on item plus distinct others."""
    drawn = rng.sample(range(len(items)), min(len(items), size + 1))
    others = list(dict.fromkeys(items[i].item_id for i in drawn if items[i].item_id != item.item_id))
    shown = [item.item_id, *others[: size - 1]]
    rng.shuffle(shown)
    return shown
