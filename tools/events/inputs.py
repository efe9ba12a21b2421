"""Command-line values turned into what the traffic generator needs: mixes, items, users."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path

from lambdas.personalize_resources import catalogue
from tools._cli import CliError
from tools.events.traffic import DEFAULT_EVENT_TYPES, UNATTRIBUTED_SOURCE, Item, WeightedChoice
from tools.events.validation import ATTRIBUTION_SOURCE_PATTERN

# With --config and no --source, the configured sources share this part of the events
# equally; the rest is sent unattributed, as on a real site.
CONFIGURED_SOURCES_SHARE = 0.8


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
    return check_source_mix([parse_weighted(spec, "--source") for spec in specs])


def configured_source_mix(sources: Sequence[str]) -> list[WeightedChoice]:
    """Equal shares of CONFIGURED_SOURCES_SHARE for the config's sources."""
    if not sources:
        return []
    share = CONFIGURED_SOURCES_SHARE / len(sources)
    return check_source_mix([WeightedChoice(name, share) for name in sources])


def check_source_mix(sources: list[WeightedChoice]) -> list[WeightedChoice]:
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


def sample_catalogue_items(count: int) -> list[Item]:
    """The first `count` items of the deployed sample data (same ids, prices, categories)."""
    size = max(count, catalogue.DEFAULT_ITEMS)
    return [Item(i.item_id, i.price, i.category_l1) for i in catalogue.sample_items(size)[:count]]


def sample_user_ids(count: int) -> list[str]:
    """`count` user ids in the sample data's format; the first 200 are the sample's users."""
    return catalogue.user_ids(max(count, catalogue.DEFAULT_USERS))[:count]


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
