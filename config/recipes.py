"""Catalogue of Amazon Personalize recipes: custom recipes (solutions) and domain use cases
(recommenders), with what each needs and which training options apply.

Sources, cited per entry as ``doc`` (page of https://docs.aws.amazon.com/personalize/latest/dg/):
the archived Developer Guide (github.com/awsdocs/amazon-personalize-developer-guide, last
content June 2023) for the recipes it covers, the current guide's pages for the recipes added
since (User-Personalization-v2, Personalized-Ranking-v2, Semantic-Similarity, Next-Best-Action),
and botocore's ``personalize`` model documentation for the API rules (``trainingMode`` UPDATE only
for User-Personalization and the legacy HRNN-Coldstart; ``performIncrementalUpdate`` only for
Semantic-Similarity). Entries with ``confirmed=False`` rest on a page we could read only in part:
their flags are set leniently (an option is allowed unless a page forbids it), so being wrong
costs a refusal by Personalize at deploy time, never a wrong refusal at synth.

No recipe needs an EVENT_VALUE column by itself: ``solutionConfig.eventValueThreshold`` and the
thresholds of ``eventsConfig`` do, whatever the recipe, and ``solution_issues`` checks exactly that.

``RECIPES`` (by name), ``recipe(name_or_arn)``, ``domain_recipe_names(domain)`` and
``solution_issues(...)`` (the synth-time checks of one solution's settings against its recipe
and the dataset group; returns ``(field, message)`` pairs that config.rules.solutions locates).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any
from dataclasses import dataclass, field

from lambdas.personalize_resources.address_book import RECIPE_ARN_PREFIX

DOC_BASE = "https://docs.aws.amazon.com/personalize/latest/dg/"

INTERACTIONS, ITEMS, USERS = "interactions", "items", "users"
ACTIONS, ACTION_INTERACTIONS = "actions", "action_interactions"
NUMERIC_TYPES = frozenset({"int", "long", "float", "double"})


class RecipeKind(str, enum.Enum):
    """Recipe types as the guide's "Choosing a recipe" table names them."""

    USER_PERSONALIZATION = "USER_PERSONALIZATION"
    POPULAR_ITEMS = "POPULAR_ITEMS"
    PERSONALIZED_RANKING = "PERSONALIZED_RANKING"
    RELATED_ITEMS = "RELATED_ITEMS"
    USER_SEGMENTATION = "USER_SEGMENTATION"
    PERSONALIZED_ACTIONS = "PERSONALIZED_ACTIONS"


@dataclass(frozen=True)
class Recipe:
    name: str
    kind: RecipeKind
    doc: str
    domain: str | None = None  # ECOMMERCE / VIDEO_ON_DEMAND: a use case for recommenders
    required_datasets: frozenset[str] = frozenset({INTERACTIONS})
    optional_datasets: frozenset[str] = frozenset()
    hpo: bool = False  # performHPO has tunable hyperparameters to search
    update_training: bool = False  # CreateSolutionVersion trainingMode UPDATE allowed
    event_filtering: bool = True  # eventType / solutionConfig.eventValueThreshold apply
    events_config: bool = False  # solutionConfig.eventsConfig (per event type weight and threshold)
    incremental_update: bool = False  # performIncrementalUpdate
    required_event_types: tuple[str, ...] = ()  # domain use cases: event types the data must hold
    available: bool = True  # False: documented but no longer offered (legacy HRNN)
    confirmed: bool = True
    notes: str = ""

    @property
    def arn(self) -> str:
        return RECIPE_ARN_PREFIX + self.name

    @property
    def is_custom(self) -> bool:
        """A recipe for solutions (custom dataset groups or custom resources in domain groups)."""
        return self.domain is None

    @property
    def related_items(self) -> bool:
        """Filters with CurrentItem apply only to related-items recipes and use cases."""
        return self.kind is RecipeKind.RELATED_ITEMS

    @property
    def datasets(self) -> frozenset[str]:
        return self.required_datasets | self.optional_datasets


def _doc(page: str) -> str:
    return DOC_BASE + page + ".html"


_OPTIONAL_METADATA = frozenset({ITEMS, USERS})

_CATALOGUE: tuple[Recipe, ...] = (
    # --- custom recipes ----------------------------------------------------------------------------
    # native-recipe-new-item-USER_PERSONALIZATION: Interactions (+ Items, Users); 3 HPO-tunable
    # hyperparameters; trainingMode UPDATE (botocore CreateSolutionVersion.trainingMode).
    Recipe("aws-user-personalization", RecipeKind.USER_PERSONALIZATION, _doc("native-recipe-new-item-USER_PERSONALIZATION"),
           optional_datasets=_OPTIONAL_METADATA, hpo=True, update_training=True),
    # native-recipe-user-personalization-v2 (current guide only); eventsConfig per
    # optimizing-solution-events-config. HPO: unconfirmed, allowed.
    Recipe("aws-user-personalization-v2", RecipeKind.USER_PERSONALIZATION, _doc("native-recipe-user-personalization-v2"),
           optional_datasets=_OPTIONAL_METADATA, hpo=True, events_config=True, confirmed=False),
    # native-recipe-trending-now: Interactions only; no HPO-tunable hyperparameter.
    Recipe("aws-trending-now", RecipeKind.POPULAR_ITEMS, _doc("native-recipe-trending-now")),
    # native-recipe-popularity: Interactions only; no hyperparameters.
    Recipe("aws-popularity-count", RecipeKind.POPULAR_ITEMS, _doc("native-recipe-popularity")),
    # native-recipe-search: Interactions (+ Items, Users optional); 3 HPO-tunable hyperparameters.
    Recipe("aws-personalized-ranking", RecipeKind.PERSONALIZED_RANKING, _doc("native-recipe-search"),
           optional_datasets=_OPTIONAL_METADATA, hpo=True),
    # native-recipe-personalized-ranking-v2 (current guide only); eventsConfig as for UP-v2.
    Recipe("aws-personalized-ranking-v2", RecipeKind.PERSONALIZED_RANKING, _doc("native-recipe-personalized-ranking-v2"),
           optional_datasets=_OPTIONAL_METADATA, hpo=True, events_config=True, confirmed=False),
    # native-recipe-semantic-similarity (current guide only): similar items from item text, so an
    # Items dataset; performIncrementalUpdate per botocore CreateSolution. Interactions optional: unconfirmed.
    Recipe("aws-semantic-similarity", RecipeKind.RELATED_ITEMS, _doc("native-recipe-semantic-similarity"),
           required_datasets=frozenset({ITEMS}), optional_datasets=frozenset({INTERACTIONS}), hpo=True,
           incremental_update=True, confirmed=False),
    # native-recipe-similar-items: Interactions, Items recommended; 2 HPO-tunable hyperparameters.
    Recipe("aws-similar-items", RecipeKind.RELATED_ITEMS, _doc("native-recipe-similar-items"),
           optional_datasets=frozenset({ITEMS}), hpo=True),
    # native-recipe-sims: Interactions only ("not item metadata"); 2 HPO-tunable hyperparameters.
    Recipe("aws-sims", RecipeKind.RELATED_ITEMS, _doc("native-recipe-sims"), hpo=True),
    # native-recipe-next-best-action (current guide only): Actions and Action interactions, which
    # this project does not provision yet.
    Recipe("aws-next-best-action", RecipeKind.PERSONALIZED_ACTIONS, _doc("native-recipe-next-best-action"),
           required_datasets=frozenset({ACTIONS, ACTION_INTERACTIONS}), optional_datasets=frozenset({INTERACTIONS, USERS}),
           hpo=True, confirmed=False),
    # item-affinity-recipe: Interactions; "Items and Users datasets are optional"; no HPO-tunable ones.
    Recipe("aws-item-affinity", RecipeKind.USER_SEGMENTATION, _doc("item-affinity-recipe"),
           optional_datasets=_OPTIONAL_METADATA),
    # item-attribute-affinity-recipe: "You must have an Interactions dataset and an Items dataset".
    Recipe("aws-item-attribute-affinity", RecipeKind.USER_SEGMENTATION, _doc("item-attribute-affinity-recipe"),
           required_datasets=frozenset({INTERACTIONS, ITEMS}), optional_datasets=frozenset({USERS})),
    # legacy-user-personalization-recipes: "Legacy HRNN recipes are no longer available".
    Recipe("aws-hrnn", RecipeKind.USER_PERSONALIZATION, _doc("native-recipe-hrnn"), hpo=True, available=False),
    Recipe("aws-hrnn-metadata", RecipeKind.USER_PERSONALIZATION, _doc("native-recipe-hrnn-metadata"),
           optional_datasets=_OPTIONAL_METADATA, hpo=True, available=False),
    Recipe("aws-hrnn-coldstart", RecipeKind.USER_PERSONALIZATION, _doc("native-recipe-hrnn-coldstart"),
           optional_datasets=_OPTIONAL_METADATA, hpo=True, update_training=True, available=False),
    # --- ECOMMERCE use cases (ECOMMERCE-use-cases): recommenders, no solution settings --------------
    Recipe("aws-ecomm-popular-items-by-views", RecipeKind.POPULAR_ITEMS, _doc("ECOMMERCE-use-cases"), "ECOMMERCE",
           optional_datasets=_OPTIONAL_METADATA, event_filtering=False, required_event_types=("View",)),
    Recipe("aws-ecomm-popular-items-by-purchases", RecipeKind.POPULAR_ITEMS, _doc("ECOMMERCE-use-cases"), "ECOMMERCE",
           optional_datasets=_OPTIONAL_METADATA, event_filtering=False, required_event_types=("Purchase",)),
    Recipe("aws-ecomm-frequently-bought-together", RecipeKind.RELATED_ITEMS, _doc("ECOMMERCE-use-cases"), "ECOMMERCE",
           optional_datasets=_OPTIONAL_METADATA, event_filtering=False, required_event_types=("Purchase",)),
    Recipe("aws-ecomm-customers-who-viewed-x-also-viewed", RecipeKind.RELATED_ITEMS, _doc("ECOMMERCE-use-cases"),
           "ECOMMERCE", optional_datasets=_OPTIONAL_METADATA, event_filtering=False, required_event_types=("View",)),
    Recipe("aws-ecomm-recommended-for-you", RecipeKind.USER_PERSONALIZATION, _doc("ECOMMERCE-use-cases"), "ECOMMERCE",
           optional_datasets=_OPTIONAL_METADATA, event_filtering=False),
    # --- VIDEO_ON_DEMAND use cases (VIDEO_ON_DEMAND-use-cases) -------------------------------------
    Recipe("aws-vod-because-you-watched-x", RecipeKind.RELATED_ITEMS, _doc("VIDEO_ON_DEMAND-use-cases"),
           "VIDEO_ON_DEMAND", optional_datasets=_OPTIONAL_METADATA, event_filtering=False, required_event_types=("Watch",)),
    Recipe("aws-vod-more-like-x", RecipeKind.RELATED_ITEMS, _doc("VIDEO_ON_DEMAND-use-cases"), "VIDEO_ON_DEMAND",
           required_datasets=frozenset({INTERACTIONS, ITEMS}), optional_datasets=frozenset({USERS}), event_filtering=False),
    Recipe("aws-vod-most-popular", RecipeKind.POPULAR_ITEMS, _doc("VIDEO_ON_DEMAND-use-cases"), "VIDEO_ON_DEMAND",
           optional_datasets=_OPTIONAL_METADATA, event_filtering=False, required_event_types=("Watch",)),
    Recipe("aws-vod-trending-now", RecipeKind.POPULAR_ITEMS, _doc("VIDEO_ON_DEMAND-use-cases"), "VIDEO_ON_DEMAND",
           optional_datasets=_OPTIONAL_METADATA, event_filtering=False),
    Recipe("aws-vod-top-picks", RecipeKind.USER_PERSONALIZATION, _doc("VIDEO_ON_DEMAND-use-cases"), "VIDEO_ON_DEMAND",
           required_datasets=frozenset({INTERACTIONS, ITEMS}), optional_datasets=frozenset({USERS}), event_filtering=False),
)

RECIPES: dict[str, Recipe] = {entry.name: entry for entry in _CATALOGUE}
TRAINING_MODES = ("FULL", "UPDATE")  # AUTOTRAIN is what Personalize itself sets for automatic training


def recipe(name_or_arn: str) -> Recipe | None:
    """The catalogue entry for ``aws-sims`` or ``arn:aws:personalize:::recipe/aws-sims``."""
    return RECIPES.get(name_or_arn.removeprefix(RECIPE_ARN_PREFIX))


def with_article(word: str) -> str:
    """"an ECOMMERCE", "a VIDEO_ON_DEMAND": the article by the word's first letter."""
    return f"{'an' if word[:1].upper() in 'AEIOU' else 'a'} {word}"


def domain_recipe_names(domain: str) -> tuple[str, ...]:
    return tuple(entry.name for entry in _CATALOGUE if entry.domain == domain)


def custom_recipe_names(*, available_only: bool = True) -> tuple[str, ...]:
    return tuple(entry.name for entry in _CATALOGUE if entry.is_custom and (entry.available or not available_only))


@dataclass(frozen=True)
class SolutionSettings:
    """The parts of a solution's config that depend on its recipe and dataset group."""

    recipe: str
    event_type: str | None = None
    event_value_threshold: float | None = None
    events: tuple[Mapping[str, Any], ...] = ()  # eventsConfig.eventParametersList entries
    perform_hpo: bool = False
    training_mode: str = "FULL"
    perform_incremental_update: bool = False
    known_event_types: frozenset[str] | None = None  # None: not known at synth, not checked
    interactions_columns: Mapping[str, str] = field(default_factory=dict)  # name -> Avro type


def solution_issues(settings: SolutionSettings, *, datasets: Iterable[str]) -> list[tuple[str, str]]:
    """``(field, message)`` for every way the settings do not fit the recipe or the group.

    ``datasets`` are the dataset types the group has (``interactions``, ``items``, ``users``).
    Field names are relative to the solution (``recipe``, ``eventValueThreshold``...).
    """
    issues: list[tuple[str, str]] = []
    entry = recipe(settings.recipe)
    if entry is None:
        custom = ", ".join(custom_recipe_names())
        return [("recipe", f"{settings.recipe!r} is not a known Personalize recipe; use one of {custom}")]
    if not entry.is_custom:
        return [("recipe", f"{entry.name} is {with_article(str(entry.domain))} use case, which runs as a recommender, not a"
                           f" solution; move it to recommenders or pick a custom recipe ({', '.join(custom_recipe_names())})")]
    if not entry.available:
        return [("recipe", f"{entry.name} is a legacy recipe that is no longer available ({entry.doc});"
                           " use aws-user-personalization-v2 or aws-user-personalization")]
    present = set(datasets)
    missing = sorted(entry.required_datasets - present)
    if missing:
        issues.append(("recipe", f"{entry.name} needs the {' and '.join(missing)} dataset(s), which the dataset"
                                 f" group lacks; add them under datasets or choose another recipe ({entry.doc})"))
    columns = settings.interactions_columns
    has_event_value = columns.get("EVENT_VALUE") in NUMERIC_TYPES
    event_value_fix = "add EVENT_VALUE (float) to the Interactions schema" if "EVENT_VALUE" not in columns else (
        f"EVENT_VALUE is {columns['EVENT_VALUE']}; make it float")
    if (settings.event_type or settings.event_value_threshold is not None) and not entry.event_filtering:
        issues.append(("eventType", f"{entry.name} does not train on a chosen event type; drop eventType/eventValueThreshold"))
    if settings.event_type is not None:
        if "EVENT_TYPE" not in columns:
            issues.append(("eventType", "the Interactions schema has no EVENT_TYPE field; add it or drop eventType"))
        elif settings.known_event_types is not None and settings.event_type not in settings.known_event_types:
            known = ", ".join(sorted(settings.known_event_types)) or "none"
            issues.append(("eventType", f"{settings.event_type!r} is not an event type of this dataset group's data"
                                        f" (known: {known}); training on it would find no interactions"))
    if settings.event_value_threshold is not None:
        if settings.event_type is None:
            issues.append(("eventValueThreshold", "eventValueThreshold applies to one event type; set eventType too"))
        if not has_event_value:
            issues.append(("eventValueThreshold", f"eventValueThreshold compares EVENT_VALUE; {event_value_fix}"))
    if settings.events:
        if not entry.events_config:
            issues.append(("events", f"{entry.name} does not take an events configuration (per event type weights);"
                                     " use aws-user-personalization-v2 or aws-personalized-ranking-v2, or use"
                                     " eventType with eventValueThreshold"))
        if settings.event_type is not None or settings.event_value_threshold is not None:
            issues.append(("events", "set either events or eventType/eventValueThreshold, not both"))
        if any(event.get("eventValueThreshold") is not None for event in settings.events) and not has_event_value:
            issues.append(("events", f"an event's eventValueThreshold compares EVENT_VALUE; {event_value_fix}"))
    if settings.perform_hpo and not entry.hpo:
        issues.append(("performHPO", f"{entry.name} has no hyperparameters to optimise; set performHPO: false"))
    if settings.training_mode not in TRAINING_MODES:
        issues.append(("trainingMode", f"{settings.training_mode!r} is not a training mode; use FULL or UPDATE"))
    elif settings.training_mode == "UPDATE" and not entry.update_training:
        issues.append(("trainingMode", f"trainingMode UPDATE works with aws-user-personalization only, not"
                                       f" {entry.name}; use FULL"))
    if settings.perform_incremental_update and not entry.incremental_update:
        issues.append(("performIncrementalUpdate", f"only aws-semantic-similarity supports incremental updates;"
                                                   f" set it to false for {entry.name}"))
    return issues
