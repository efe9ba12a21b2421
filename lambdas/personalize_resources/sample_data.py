"""Deterministic sample retail data matching the default (AWS blog) schemas.

Interactions: USER_ID, ITEM_ID, TIMESTAMP (epoch seconds), EVENT_TYPE (View | Purchase).
Items: ITEM_ID, PRICE (float), CATEGORY_L1, CATEGORY_L2, MARGIN (double, currency amount so
``SUM(ITEMS.MARGIN)`` is the margin earned).

The same seed and sizes always give byte-identical files: only ``random.Random(seed)`` (whose
integer-seeded sequence is stable across Python versions), a fixed base date and fixed float
formatting are used. The data carries enough signal for the ECOMMERCE recommenders: item
popularity is Zipf-like, each user prefers one or two top-level categories, and purchases are
always of items the same user viewed earlier.

Used three ways:
- ``on_event``: CloudFormation custom resource (CDK Provider) writing both files to S3;
- ``python -m lambdas.personalize_resources.sample_data --out DIR``: the same files locally;
- ``generate()``: from Python (tests, the send-events tool).
"""

from __future__ import annotations

import argparse
import bisect
import csv
import hashlib
import io
import itertools
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import contracts
from .address_book import SAMPLE_EVENT_TYPES

# The catalogue (items, user ids) is shared with the send-events tool; re-exported for callers.
from .catalogue import (  # noqa: F401 - CATALOG, CATEGORY_PAIRS and Item are part of this module's API
    CATALOG,
    CATEGORY_PAIRS,
    DEFAULT_ITEMS,
    DEFAULT_SEED,
    DEFAULT_USERS,
    MIN_ITEMS,
    Item,
    generate_items,
    user_ids,
)
from .errors import HandlerError

API_OPERATIONS: tuple[str, ...] = ("s3:PutObject",)

DEFAULT_INTERACTIONS = 5000

# Amazon Personalize refuses to train below these (developer guide, "Data requirements").
MIN_INTERACTIONS = 1000
MIN_USERS_WITH_TWO_INTERACTIONS = 25
# Upper bounds keep generation well inside a 256 MB Lambda (200,000 rows: about 80 MB, 2 s).
MAX_USERS = 20_000
MAX_ITEMS = 20_000
MAX_INTERACTIONS = 200_000

INTERACTIONS_FILE = "interactions.csv"
ITEMS_FILE = "items.csv"
RATINGS_INTERACTIONS_FILE = "interactions-ratings.csv"
INTERACTIONS_COLUMNS = ("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE")
RATINGS_INTERACTIONS_COLUMNS = (*INTERACTIONS_COLUMNS, "EVENT_VALUE")
ITEMS_COLUMNS = ("ITEM_ID", "PRICE", "CATEGORY_L1", "CATEGORY_L2", "MARGIN")
VIEW, PURCHASE, RATING = SAMPLE_EVENT_TYPES  # Rating: the ratings variant only (EVENT_VALUE 1-5)
# Ratings variant: every view is followed a second later by a rating; users rate items of the
# category they view most higher (a signal eventValueThreshold training can learn from).
RATINGS_SEED = 7
FAVOURITE_RATINGS = ((3.0, 1), (4.0, 3), (5.0, 4))  # (value, weight)
OTHER_RATINGS = ((1.0, 2), (2.0, 3), (3.0, 3), (4.0, 2))
EVENT_TYPES = SAMPLE_EVENT_TYPES

BASE_TIMESTAMP = 1_704_067_200  # 2024-01-01T00:00:00Z
HISTORY_SECONDS = 90 * 24 * 3600

# Share of events after a user's first that are purchases; a user's first event is always a
# View (nothing to buy yet), so the overall purchase share ends up just under this.
PURCHASE_PROBABILITY = 0.2
# How often a user's next view comes from one of their favourite categories.
FAVOURITE_CATEGORY_PROBABILITY = 0.7
ITEM_POPULARITY_EXPONENT = 1.1
# Milder for users: a few heavy shoppers, but no single user dominating the data.
USER_ACTIVITY_EXPONENT = 0.6

@dataclass(frozen=True)
class Interaction:
    user_id: str
    item_id: str
    timestamp: int
    event_type: str


@dataclass(frozen=True)
class SampleData:
    items: tuple[Item, ...]
    interactions: tuple[Interaction, ...]

    @property
    def items_csv(self) -> bytes:
        return _to_csv(
            ITEMS_COLUMNS,
            ((i.item_id, f"{i.price:.2f}", i.category_l1, i.category_l2, f"{i.margin:.2f}")
             for i in self.items),
        )

    @property
    def interactions_csv(self) -> bytes:
        return _to_csv(
            INTERACTIONS_COLUMNS,
            ((e.user_id, e.item_id, str(e.timestamp), e.event_type) for e in self.interactions),
        )

    @property
    def ratings_interactions(self) -> tuple[tuple[Interaction, float | None], ...]:
        """The interactions with EVENT_VALUE: View/Purchase without a value, plus a Rating (1-5)
        one second after each view. Deterministic (own seed, interactions in file order)."""
        rng = random.Random(RATINGS_SEED)
        category = {item.item_id: item.category_l1 for item in self.items}
        views: dict[str, dict[str, int]] = {}
        for event in self.interactions:
            if event.event_type == VIEW:
                counts = views.setdefault(event.user_id, {})
                counts[category[event.item_id]] = counts.get(category[event.item_id], 0) + 1
        favourite = {user: max(sorted(counts), key=counts.__getitem__) for user, counts in views.items()}
        rows: list[tuple[Interaction, float | None]] = []
        for event in self.interactions:
            rows.append((event, None))
            if event.event_type == VIEW:
                table = FAVOURITE_RATINGS if category[event.item_id] == favourite[event.user_id] else OTHER_RATINGS
                value = rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]
                rows.append((Interaction(event.user_id, event.item_id, event.timestamp + 1, RATING), value))
        return tuple(rows)

    @property
    def ratings_interactions_csv(self) -> bytes:
        return _to_csv(
            RATINGS_INTERACTIONS_COLUMNS,
            ((e.user_id, e.item_id, str(e.timestamp), e.event_type, "" if v is None else f"{v:.1f}") for e, v in self.ratings_interactions),
        )

    @property
    def data_version(self) -> str:
        return data_version(self.interactions_csv, self.items_csv)


def data_version(interactions_csv: bytes, items_csv: bytes) -> str:
    """First 16 hex digits of a SHA-256 over both files (length-prefixed, so unambiguous)."""
    digest = hashlib.sha256()
    for content in (interactions_csv, items_csv):
        digest.update(len(content).to_bytes(8, "big"))
        digest.update(content)
    return digest.hexdigest()[:16]


def _to_csv(header: tuple[str, ...], rows: Any) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _check_sizes(users: int, items: int, interactions: int) -> None:
    problems = []
    if not MIN_USERS_WITH_TWO_INTERACTIONS <= users <= MAX_USERS:
        problems.append(
            f"Users must be between {MIN_USERS_WITH_TWO_INTERACTIONS} and {MAX_USERS} "
            f"(Amazon Personalize needs {MIN_USERS_WITH_TWO_INTERACTIONS} users with 2+ "
            f"interactions), got {users}"
        )
    if not MIN_ITEMS <= items <= MAX_ITEMS:
        problems.append(
            f"Items must be between {MIN_ITEMS} (one per sub-category) and {MAX_ITEMS}, got {items}"
        )
    minimum_interactions = max(MIN_INTERACTIONS, 2 * users)
    if not minimum_interactions <= interactions <= MAX_INTERACTIONS:
        problems.append(
            f"Interactions must be between {minimum_interactions} (at least {MIN_INTERACTIONS} "
            f"and 2 per user) and {MAX_INTERACTIONS}, got {interactions}"
        )
    if problems:
        raise ValueError("; ".join(problems))


def _zipf_weights(count: int, exponent: float) -> list[float]:
    return [1.0 / (rank ** exponent) for rank in range(1, count + 1)]


class _WeightedPicker:
    """Weighted choice by bisecting cumulative weights: O(log n) per pick, deterministic."""

    def __init__(self, values: list[Any], weights: list[float]):
        self._values = values
        self._cumulative = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random) -> Any:
        target = rng.random() * self._cumulative[-1]
        index = bisect.bisect_right(self._cumulative, target)
        return self._values[min(index, len(self._values) - 1)]


def generate(
    seed: int = DEFAULT_SEED,
    users: int = DEFAULT_USERS,
    items: int = DEFAULT_ITEMS,
    interactions: int = DEFAULT_INTERACTIONS,
) -> SampleData:
    """Build the data set. Raises ValueError if the sizes could not train a recommender."""
    _check_sizes(users, items, interactions)
    rng = random.Random(seed)
    catalog = generate_items(rng, items)

    # Popularity: a random permutation of the catalog gets Zipf weights by rank.
    ranked = catalog[:]
    rng.shuffle(ranked)
    popularity = dict(zip((i.item_id for i in ranked), _zipf_weights(len(ranked), ITEM_POPULARITY_EXPONENT)))
    global_picker = _WeightedPicker(ranked, [popularity[i.item_id] for i in ranked])
    by_category: dict[str, list[Item]] = {}
    for item in ranked:
        by_category.setdefault(item.category_l1, []).append(item)
    category_pickers = {
        l1: _WeightedPicker(members, [popularity[i.item_id] for i in members])
        for l1, members in by_category.items()
    }
    categories = sorted(by_category)

    # Every user gets 2 interactions; the rest go to users with Zipf-like activity.
    counts = [2] * users
    activity = _zipf_weights(users, USER_ACTIVITY_EXPONENT)
    rng.shuffle(activity)
    for index in rng.choices(range(users), weights=activity, k=interactions - 2 * users):
        counts[index] += 1

    events: list[Interaction] = []
    for user_id, count in zip(user_ids(users), counts):
        favourites = rng.sample(categories, k=min(len(categories), rng.choice((1, 2))))
        # Distinct, sorted offsets: each event strictly after the previous one, so a
        # purchase is always later than the view it follows.
        offsets = sorted(rng.sample(range(HISTORY_SECONDS), count))
        viewed: list[Item] = []
        for position, offset in enumerate(offsets):
            if position > 0 and rng.random() < PURCHASE_PROBABILITY:
                # Recently viewed items are the likeliest purchases.
                item = viewed[-1 - min(int(rng.expovariate(0.5)), len(viewed) - 1)]
                event_type = PURCHASE
            else:
                if rng.random() < FAVOURITE_CATEGORY_PROBABILITY:
                    item = category_pickers[rng.choice(favourites)].pick(rng)
                else:
                    item = global_picker.pick(rng)
                viewed.append(item)
                event_type = VIEW
            events.append(Interaction(user_id, item.item_id, BASE_TIMESTAMP + offset, event_type))

    events.sort(key=lambda e: (e.timestamp, e.user_id))
    return SampleData(items=tuple(catalog), interactions=tuple(events))


# --- custom resource -------------------------------------------------------------------------


def _int_property(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def _normalized_prefix(prefix: str) -> str:
    prefix = prefix.lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def _s3_client() -> Any:
    import boto3  # imported lazily: the CLI and generate() need no AWS SDK

    return boto3.client("s3")


def on_event(event: dict[str, Any], context: Any = None, s3: Any = None) -> dict[str, Any]:
    """CDK Provider on_event: write the sample files on Create/Update; Delete keeps them.

    The data is retained on purpose: import jobs and attribution reports refer to it, and the
    bucket's own removal policy decides its fate.
    """
    request_type = event["RequestType"]
    if request_type == "Delete":
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    if request_type not in ("Create", "Update"):
        raise ValueError(f"Unsupported RequestType {request_type!r}")

    try:
        wanted = contracts.SampleData.from_event(event)
    except HandlerError as exc:
        raise ValueError(str(exc)) from None
    bucket = wanted.bucket
    prefix = _normalized_prefix(str(wanted.prefix or ""))
    data = generate(
        seed=_int_property(wanted.seed, "Seed", DEFAULT_SEED),
        users=_int_property(wanted.users, "Users", DEFAULT_USERS),
        items=_int_property(wanted.items, "Items", DEFAULT_ITEMS),
        interactions=_int_property(wanted.interactions, "Interactions", DEFAULT_INTERACTIONS),
    )
    interactions_csv, items_csv = data.interactions_csv, data.items_csv

    s3 = s3 or _s3_client()
    locations = {}
    files = ((INTERACTIONS_FILE, interactions_csv), (ITEMS_FILE, items_csv), (RATINGS_INTERACTIONS_FILE, data.ratings_interactions_csv))
    for key, content in files:
        s3.put_object(Bucket=bucket, Key=prefix + key, Body=content, ContentType="text/csv")
        locations[key] = f"s3://{bucket}/{prefix}{key}"

    return {
        "PhysicalResourceId": f"s3://{bucket}/{prefix}",
        "Data": {
            "InteractionsLocation": locations[INTERACTIONS_FILE],
            "ItemsLocation": locations[ITEMS_FILE],
            "RatingsInteractionsLocation": locations[RATINGS_INTERACTIONS_FILE],
            "DataVersion": data_version(interactions_csv, items_csv),
        },
    }


# --- command line ----------------------------------------------------------------------------


def write_files(data: SampleData, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    interactions_path = out_dir / INTERACTIONS_FILE
    items_path = out_dir / ITEMS_FILE
    interactions_path.write_bytes(data.interactions_csv)
    items_path.write_bytes(data.items_csv)
    return interactions_path, items_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lambdas.personalize_resources.sample_data",
        description="Write the deterministic sample interactions.csv and items.csv.",
    )
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--users", type=int, default=DEFAULT_USERS)
    parser.add_argument("--items", type=int, default=DEFAULT_ITEMS)
    parser.add_argument("--interactions", type=int, default=DEFAULT_INTERACTIONS)
    args = parser.parse_args(argv)
    try:
        data = generate(args.seed, args.users, args.items, args.interactions)
    except ValueError as error:
        parser.error(str(error))
    for path in write_files(data, args.out):
        print(path)
    print(f"data version {data.data_version}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
