"""Real recommendation ids and impressions: GetRecommendations from the source's recommender.

An application shows a recommendation list and sends the recommendationId Personalize returned
with the events on it; that is what this does. For each session and attribution source that has
a recommender or campaign, one GetRecommendations call (the page view that shows the list);
that source's events in the session then act on items from the list, carry its recommendationId
and, with --impressions N, the first N items shown. A purchase of an item first met through the
list stays on that item. Events of sources without a recommender get no recommendationId:
nothing is made up.

Item-to-item recipes (customers who viewed X, frequently bought together, ...) need the item
being looked at; the others the user. From a config the recipe says which; for an ARN given on
the command line the first call asks with the user and, if the service answers that an item is
needed (InvalidInputException), asks again with the item and remembers.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from lambdas.personalize_resources.address_book import personalize_arn_prefix
from tools._cli import CliError, aws_error_code, describe_aws_error
from tools.events.traffic import EventBatch, Item, event_source
from tools.events.validation import MAX_IMPRESSIONS

DEFAULT_LIST_LENGTH = 10  # items asked for when no --impressions is given
# Recipes whose recommendations are about an item rather than a user.
ITEM_CONTEXT_RECIPES = (
    "frequently-bought-together",
    "customers-who-viewed-x-also-viewed",
    "because-you-watched-x",
    "more-like-x",
    "similar-items",
    "sims",
)
# Errors after which no further call to the same recommender can succeed.
GIVE_UP_CODES = frozenset({"AccessDeniedException", "ResourceNotFoundException", "InvalidInputException", "UnrecognizedClientException"})


def needs_item_context(recipe: str) -> bool:
    name = recipe.rsplit("/", 1)[-1]
    return any(name.endswith(marker) for marker in ITEM_CONTEXT_RECIPES)


@dataclass(frozen=True)
class Target:
    """Where a source's recommendations come from."""

    source: str
    arn: str
    kind: str  # "recommender" or "campaign"
    item_context: bool | None = None  # None: unknown (an ARN from the command line)

    @property
    def arn_parameter(self) -> str:
        return "recommenderArn" if self.kind == "recommender" else "campaignArn"


def parse_target(spec: str, kind: str) -> Target:
    option = f"--{kind}-arn"
    source, sep, arn = spec.partition("=")
    if not sep or not source.strip() or not arn.strip().startswith("arn:"):
        raise CliError(f"{option} {spec!r}: expected SOURCE=ARN, e.g. {option} recommended_for_you={personalize_arn_prefix()}...")
    if f":{kind}/" not in arn:
        raise CliError(f"{option} {spec!r}: {arn.strip()!r} is not a {kind} ARN")
    return Target(source.strip(), arn.strip(), kind)


@dataclass
class RecommendationStats:
    calls: int = 0
    events: int = 0  # events sent with a recommendationId
    errors: Counter = field(default_factory=Counter)  # error code -> failed calls
    disabled: dict[str, str] = field(default_factory=dict)  # source -> why its recommender is no longer asked


class RecommendationFetcher:
    """Adds recommendationId, impression and a recommended itemId to attributed events."""

    def __init__(
        self,
        client: Any,
        targets: Sequence[Target],
        items: Sequence[Item],
        *,
        impressions: int,
        seed: int,
    ):
        self._client = client
        self._targets = {t.source: t for t in targets}
        self._prices = {item.item_id: item.price for item in items}
        self._impressions = impressions
        self._list_length = max(impressions, DEFAULT_LIST_LENGTH)
        self._rng = random.Random(seed)
        self._session: str | None = None
        self._lists: dict[str, tuple[str, list[str]] | None] = {}  # source -> (recommendationId, items)
        self._replaced: dict[tuple[str, str], str] = {}  # (source, generated item) -> recommended item
        self.stats = RecommendationStats()

    @property
    def sources(self) -> list[str]:
        return list(self._targets)

    def apply(self, batch: EventBatch) -> None:
        if batch.session_id != self._session:
            self._session, self._lists, self._replaced = batch.session_id, {}, {}
        for event in batch.events:
            source = event_source(event)
            target = self._targets.get(source)
            if target is None or source in self.stats.disabled:
                continue
            if source not in self._lists:
                self._lists[source] = self._fetch(target, batch.user_id, event["itemId"])
            fetched = self._lists[source]
            if fetched is None:
                continue
            recommendation_id, shown = fetched
            key = (source, event["itemId"])
            if key not in self._replaced:
                self._replaced[key] = self._rng.choice(shown[: self._impressions] if self._impressions else shown)
            item_id = self._replaced[key]
            event["itemId"] = item_id
            event["recommendationId"] = recommendation_id
            if "eventValue" in event:
                price = self._prices.get(item_id)
                if price is None:
                    del event["eventValue"]  # an item outside the known catalogue: no price to send
                else:
                    event["eventValue"] = price
            if self._impressions:
                event["impression"] = shown[: self._impressions]
            else:
                event.pop("impression", None)
            self.stats.events += 1

    def _fetch(self, target: Target, user_id: str, item_id: str) -> tuple[str, list[str]] | None:
        item_context = target.item_context
        while True:
            request: dict[str, Any] = {target.arn_parameter: target.arn, "userId": user_id, "numResults": self._list_length}
            if item_context:
                request["itemId"] = item_id
            self.stats.calls += 1
            try:
                response = self._client.get_recommendations(**request)
            except botocore.exceptions.ClientError as exc:
                code = aws_error_code(exc) or "Unknown"
                self.stats.errors[code] += 1
                if code == "InvalidInputException" and item_context is None:
                    item_context = True  # probably an item-to-item recipe: ask about the item
                    self._targets[target.source] = Target(target.source, target.arn, target.kind, True)
                    continue
                if code in GIVE_UP_CODES:
                    self.stats.disabled[target.source] = describe_aws_error(exc)
                return None
            except botocore.exceptions.BotoCoreError as exc:
                self.stats.errors[type(exc).__name__] += 1
                return None
            shown = [entry["itemId"] for entry in response.get("itemList", []) if entry.get("itemId")][:MAX_IMPRESSIONS]
            if not shown or not response.get("recommendationId"):
                self.stats.errors["EmptyRecommendationList"] += 1
                return None
            if item_context is None:
                self._targets[target.source] = Target(target.source, target.arn, target.kind, False)
            return response["recommendationId"], shown
