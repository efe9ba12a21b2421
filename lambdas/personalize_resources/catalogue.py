"""The sample retail catalogue: item ids, prices, categories and margins, and user ids.

One generator for both sides of the demo: the sample-data custom resource writes these items to
S3 (they become the Items dataset, so ``SUM(ITEMS.MARGIN)`` has a MARGIN to add up), and
``send-events`` sends PutEvents about the same item and user ids. It lives in the Lambda asset
(``lambdas/``) because the handler needs it; the tools import it from here.

Deterministic: only ``random.Random`` (stable for integer seeds across Python versions) and
fixed rounding. Items are generated one after another from the caller's generator, so the
first N items of a catalogue of M > N items are the items of a catalogue of N (while the id
width, four digits up to 9,999 items, stays the same).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

DEFAULT_SEED = 42
DEFAULT_USERS = 200
DEFAULT_ITEMS = 300

# CATEGORY_L1 -> (margin rate range, {CATEGORY_L2: price range}).
CATALOG: dict[str, tuple[tuple[float, float], dict[str, tuple[float, float]]]] = {
    "apparel": ((0.35, 0.60), {
        "shirts": (12.0, 60.0), "jackets": (45.0, 250.0),
        "pants": (20.0, 90.0), "shoes": (30.0, 180.0),
    }),
    "electronics": ((0.08, 0.25), {
        "headphones": (15.0, 350.0), "speakers": (25.0, 400.0),
        "cameras": (120.0, 1500.0), "accessories": (5.0, 60.0),
    }),
    "home": ((0.25, 0.50), {
        "kitchen": (8.0, 200.0), "furniture": (60.0, 900.0),
        "decor": (10.0, 120.0), "bedding": (20.0, 220.0),
    }),
    "beauty": ((0.40, 0.70), {
        "skincare": (8.0, 90.0), "makeup": (6.0, 60.0), "fragrance": (25.0, 150.0),
    }),
    "outdoors": ((0.20, 0.45), {
        "camping": (15.0, 450.0), "cycling": (20.0, 1200.0), "fishing": (10.0, 300.0),
    }),
    "groceries": ((0.10, 0.30), {
        "snacks": (1.5, 12.0), "beverages": (1.0, 25.0), "pantry": (2.0, 30.0),
    }),
}
CATEGORY_PAIRS: tuple[tuple[str, str], ...] = tuple(
    (l1, l2) for l1, (_, subs) in CATALOG.items() for l2 in subs
)
MIN_ITEMS = len(CATEGORY_PAIRS)  # one item per sub-category at least


@dataclass(frozen=True)
class Item:
    item_id: str
    price: float
    category_l1: str
    category_l2: str
    margin: float


def _id_width(count: int) -> int:
    return max(4, len(str(count)))


def user_ids(count: int) -> list[str]:
    """``user_0001`` ... in the sample data's format."""
    width = _id_width(count)
    return [f"user_{number:0{width}d}" for number in range(1, count + 1)]


def generate_items(rng: random.Random, count: int) -> list[Item]:
    """``count`` items drawn from ``rng`` (the sample data goes on drawing from the same one)."""
    width = _id_width(count)
    items = []
    for number in range(1, count + 1):
        # Round-robin first so every sub-category has items, then random categories.
        l1, l2 = (CATEGORY_PAIRS[number - 1] if number <= len(CATEGORY_PAIRS)
                  else rng.choice(CATEGORY_PAIRS))
        (margin_low, margin_high), price_ranges = CATALOG[l1]
        price_low, price_high = price_ranges[l2]
        # Log-uniform prices: cheap items are more common than expensive ones.
        price = round(price_low * (price_high / price_low) ** rng.random(), 2)
        margin = round(price * rng.uniform(margin_low, margin_high), 2)
        items.append(Item(f"item_{number:0{width}d}", price, l1, l2, margin))
    return items


def sample_items(count: int = DEFAULT_ITEMS, seed: int = DEFAULT_SEED) -> list[Item]:
    """The items the sample data of this seed contains (its first ``count`` items)."""
    return generate_items(random.Random(seed), count)
