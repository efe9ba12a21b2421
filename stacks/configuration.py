"""Typed, validated configuration: one YAML file per environment.

Structure and types are checked by pydantic (unknown keys are errors, with a "did you mean"
hint); rules that span fields (schemas vs. metrics, recipes vs. domain, name lengths once
prefixed) are checked by `_semantic_issues`. Every problem becomes a `ConfigIssue` that names
the config path (e.g. ``datasetGroups[0].metricAttribution.metrics[2].expression``), what is
wrong and how to fix it; `load_config` raises one `ConfigError` holding all of them.
"""

from __future__ import annotations

import datetime
import difflib
import enum
import hashlib
import json
import re
import warnings
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from botocore.session import get_session
from botocore.validate import ParamValidator
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from lambdas.personalize_resources import address_book
from lambdas.personalize_resources.address_book import (
    LONG_WAIT_MAX_HOURS,
    MAX_METRICS,
    METRIC_NAME_IN_EXPRESSION,
    RECIPE_ARN_PREFIX,
    SAMPLE_EVENT_TYPES,
    SAMPLE_RATING,
    SOLUTION_BASE_NAME_MAX,
    cloudwatch_name,
)
from lambdas.personalize_resources.address_book import NAME_MAX as PERSONALIZE_NAME_MAX
from stacks import filter_expressions, recipes
from stacks.config_base import SHORT_NAME_PATTERN, ConfigIssue, Strict
from stacks.config_base import duplicates as _duplicates
from stacks.experiments import Experiment, experiment_issues

# Personalize resource names (botocore shape `Name`): 1-63 chars.
PERSONALIZE_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$")
# Config-level names become parts of several physical names, so they stay short.
AVRO_FIELD_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
METRIC_EXPRESSION = re.compile(
    r"^\s*(?:(?P<count>SAMPLECOUNT\(\s*\))|SUM\(\s*(?P<dataset>[A-Za-z_]+)\.(?P<column>[A-Za-z_][A-Za-z0-9_]*)\s*\))\s*$"
)
# CloudWatch dimension values come upper-cased; sources equal after that collide.
ATTRIBUTION_SOURCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]*$"


NUMERIC_TYPES = {"int", "long", "float", "double"}
DATASET_TYPE_NAMES = {"interactions": "Interactions", "items": "Items", "users": "Users"}


# --- documented schema requirements, per domain and dataset type ---------------------------------
# One table, read by `_schema_issues`; every entry names the Developer Guide page it was read
# from (pages read in November 2026):
DG = "https://docs.aws.amazon.com/personalize/latest/dg/"
ECOMMERCE_PAGE = DG + "ECOMMERCE-datasets-and-schemas.html"  # required fields + reserved keywords, all three types
ECOMMERCE_ITEMS_PAGE = DG + "ECOMMERCE-items-dataset.html"  # ITEM_ID, PRICE (float), CATEGORY_L1 (categorical) + reserved
ECOMMERCE_USERS_PAGE = DG + "ECOMMERCE-users-dataset.html"  # USER_ID + 1 metadata field (categorical string or numerical)
VOD_PAGE = DG + "VIDEO-ON-DEMAND-datasets-and-schemas.html"  # table incl. EVENT_ATTRIBUTION_SOURCE, SUBSCRIPTION_MODEL
VOD_INTERACTIONS_PAGE = DG + "VIDEO-ON-DEMAND-interactions-dataset.html"  # USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE
VOD_ITEMS_PAGE = DG + "VIDEO-ON-DEMAND-items-dataset.html"  # ITEM_ID, GENRES, CREATION_TIMESTAMP + reserved
VOD_USERS_PAGE = DG + "VIDEO-ON-DEMAND-users-dataset.html"  # USER_ID + 1 metadata field; SUBSCRIPTION_MODEL reserved
CUSTOM_USERS_PAGE = DG + "user-dataset-requirements.html"  # "minimum one metadata field"
CUSTOM_SCHEMA_PAGE = DG + "how-it-works-dataset-schema.html"  # custom Interactions/Items (project facts file)


@dataclass(frozen=True)
class FieldRule:
    """What the documentation fixes about one field name."""

    types: tuple[str, ...]  # Avro types allowed (more than one only where the docs leave it open)
    categorical: bool | None = None  # True: must be categorical; False: must not be; None: not stated
    textual: bool = False  # must be `textual: true`
    label: str | None = None  # how messages name the type, when not simply `types`

    def describe(self) -> str:
        kind = "categorical " if self.categorical else "textual " if self.textual else ""
        return self.label or kind + " or ".join(self.types)

    def example(self, name: str) -> str:
        flags = ", categorical: true" if self.categorical else ", textual: true" if self.textual else ""
        return f"- {{name: {name}, type: {self.types[-1]}{flags}}}"


@dataclass(frozen=True)
class DatasetRules:
    source: str  # the page the rules below are read from
    required: dict[str, FieldRule]  # must be present, non-nullable, of this type
    reserved: dict[str, FieldRule] = dataclass_field(default_factory=dict)  # optional; if present, of this type (null allowed)
    # Users: "1 metadata field (categorical string or numerical)"; None = no such requirement.
    metadata_field: str | None = None


STRING = FieldRule(("string",))
PLAIN_STRING = FieldRule(("string",), categorical=False)  # "reserved string fields can't be categorical"
CATEGORICAL = FieldRule(("string",), categorical=True)  # "reserved categorical string fields must have categorical set to true"
TEXTUAL = FieldRule(("string",), textual=True)
LONG = FieldRule(("long",))
FLOAT = FieldRule(("float",))
# CREATION_TIMESTAMP: VOD_ITEMS_PAGE says "in Unix epoch time format", ECOMMERCE_ITEMS_PAGE says
# float; which Avro types CreateSchema accepts is unconfirmed, so any number passes (lenient).
EPOCH = FieldRule(("int", "float", "double", "long"), label="number (epoch seconds; long in the default schemas)")
DOMAIN_INTERACTIONS_REQUIRED = {"USER_ID": STRING, "ITEM_ID": STRING, "TIMESTAMP": LONG, "EVENT_TYPE": STRING}
DOMAIN_INTERACTIONS_RESERVED = {
    "EVENT_VALUE": FLOAT,
    "IMPRESSION": PLAIN_STRING,
    "RECOMMENDATION_ID": PLAIN_STRING,
    "EVENT_ATTRIBUTION_SOURCE": PLAIN_STRING,
}

SCHEMA_RULES: dict[tuple[str | None, str], DatasetRules] = {
    # ECOMMERCE: Interactions from ECOMMERCE_PAGE's table, Items from ECOMMERCE_ITEMS_PAGE, Users
    # from ECOMMERCE_USERS_PAGE.
    ("ECOMMERCE", "interactions"): DatasetRules(ECOMMERCE_PAGE, DOMAIN_INTERACTIONS_REQUIRED, DOMAIN_INTERACTIONS_RESERVED),
    ("ECOMMERCE", "items"): DatasetRules(
        ECOMMERCE_ITEMS_PAGE,
        {"ITEM_ID": STRING, "PRICE": FLOAT, "CATEGORY_L1": CATEGORICAL},
        {
            "CATEGORY_L2": CATEGORICAL,
            "CATEGORY_L3": CATEGORICAL,
            "PRODUCT_DESCRIPTION": TEXTUAL,
            "CREATION_TIMESTAMP": EPOCH,
            "AGE_GROUP": CATEGORICAL,
            "ADULT": CATEGORICAL,
            "GENDER": CATEGORICAL,
        },
    ),
    ("ECOMMERCE", "users"): DatasetRules(ECOMMERCE_USERS_PAGE, {"USER_ID": STRING}, metadata_field="a categorical string or a number"),
    # VIDEO_ON_DEMAND: Interactions from VOD_INTERACTIONS_PAGE (+ EVENT_ATTRIBUTION_SOURCE from
    # VOD_PAGE's table), Items from VOD_ITEMS_PAGE, Users from VOD_USERS_PAGE.
    ("VIDEO_ON_DEMAND", "interactions"): DatasetRules(VOD_INTERACTIONS_PAGE, DOMAIN_INTERACTIONS_REQUIRED, DOMAIN_INTERACTIONS_RESERVED),
    ("VIDEO_ON_DEMAND", "items"): DatasetRules(
        VOD_ITEMS_PAGE,
        {"ITEM_ID": STRING, "GENRES": CATEGORICAL, "CREATION_TIMESTAMP": EPOCH},
        {
            "PRICE": FLOAT,
            "DURATION": FLOAT,
            "GENRE_L2": CATEGORICAL,
            "GENRE_L3": CATEGORICAL,
            "AVERAGE_RATING": FLOAT,
            "PRODUCT_DESCRIPTION": TEXTUAL,
            "CONTENT_OWNER": CATEGORICAL,
            "CONTENT_CLASSIFICATION": CATEGORICAL,
        },
    ),
    ("VIDEO_ON_DEMAND", "users"): DatasetRules(
        VOD_USERS_PAGE, {"USER_ID": STRING}, {"SUBSCRIPTION_MODEL": CATEGORICAL}, metadata_field="a categorical string or a number"
    ),
    # Custom dataset groups: the general schema page (facts file: EVENT_TYPE "must be a string and
    # cannot be categorical"); Users from CUSTOM_USERS_PAGE ("minimum one metadata field", of
    # any type). Reserved keywords of custom Interactions are not re-checked here (unconfirmed).
    (None, "interactions"): DatasetRules(CUSTOM_SCHEMA_PAGE, {"USER_ID": STRING, "ITEM_ID": STRING, "TIMESTAMP": LONG}, {"EVENT_TYPE": PLAIN_STRING}),
    (None, "items"): DatasetRules(CUSTOM_SCHEMA_PAGE, {"ITEM_ID": STRING}),
    (None, "users"): DatasetRules(CUSTOM_USERS_PAGE, {"USER_ID": STRING}, metadata_field="any field"),
}


class AvroType(str, enum.Enum):
    STRING = "string"
    INT = "int"
    LONG = "long"
    FLOAT = "float"
    DOUBLE = "double"
    BOOLEAN = "boolean"


class SchemaField(Strict):
    name: str
    """Field name in the Avro schema (letters, digits and '_', not starting with a digit). Domain groups reserve some names (e.g. USER_ID, PRICE) with fixed types."""
    type: AvroType
    """Avro type of the field."""
    nullable: bool = False
    """Whether the field may be empty (Avro union with null). Required domain fields cannot be nullable."""
    categorical: bool = False
    """String fields only: the value is a category (several may be separated by '|'); filters and recipes use it as such."""
    textual: bool = False
    """String fields only: unstructured text (e.g. PRODUCT_DESCRIPTION) that recipes read as text; filters cannot use it."""

    def to_avro(self) -> dict[str, Any]:
        avro_type: Any = ["null", self.type.value] if self.nullable else self.type.value
        field: dict[str, Any] = {"name": self.name, "type": avro_type}
        if self.categorical:
            field["categorical"] = True
        if self.textual:
            field["textual"] = True
        return field


class DatasetSchema(Strict):
    fields: Annotated[list[SchemaField], Field(min_length=1)]
    """The dataset's columns, in CSV order. Personalize cannot change a schema in place: a change replaces the schema and the dataset."""

    def field(self, name: str) -> SchemaField | None:
        return next((f for f in self.fields if f.name == name), None)


class ImportMode(str, enum.Enum):
    FULL = "FULL"
    INCREMENTAL = "INCREMENTAL"


class DataImport(Strict):
    """Where a dataset's bulk data comes from.

    ``sample`` loads the generated demo data; a relative key is read from the data bucket's
    import prefix; an ``s3://`` URI points at a bucket outside the app, named in ``externalBuckets``
    (its bucket policy must let personalize.amazonaws.com read it). Changing ``location``, ``mode`` or ``version`` starts a
    new import job; the first job a stack runs on a dataset is always FULL.
    """

    location: str
    """`sample` (the generated demo data), a key under the data bucket's import prefix, or an `s3://bucket/key` URI of a bucket listed in `externalBuckets` (its owner lets personalize.amazonaws.com read it)."""
    mode: ImportMode = ImportMode.FULL
    """FULL replaces the dataset's data, INCREMENTAL adds to it. The first import a stack runs on a dataset is always FULL."""
    version: str = "1"
    """Any string of up to 20 letters, digits, '.', '_' or '-': a new value starts a new import job of the same location."""


class DatasetConfig(Strict):
    schema_: DatasetSchema = Field(alias="schema")
    """The dataset's schema."""
    data_import: DataImport | None = Field(default=None, alias="dataImport")
    """Bulk data to import at deploy time; none leaves the dataset empty (e.g. filled by PutEvents only)."""


class Datasets(Strict):
    interactions: DatasetConfig
    """The Interactions dataset (required): what users did with items."""
    items: DatasetConfig | None = None
    """The Items dataset: item metadata (required by metrics that SUM an ITEMS column)."""
    users: DatasetConfig | None = None
    """The Users dataset: user metadata (at least one metadata field besides USER_ID)."""

    def present(self) -> dict[str, DatasetConfig]:
        return {k: v for k, v in (("interactions", self.interactions), ("items", self.items), ("users", self.users)) if v}


class Metric(Strict):
    metric_name: str = Field(alias="metricName", min_length=1, max_length=256, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    """The metric's name; Personalize publishes it to CloudWatch upper-cased (countViews -> COUNTVIEWS)."""
    event_type: str = Field(alias="eventType", min_length=1, max_length=256)
    """The interactions' EVENT_TYPE the metric counts or sums (e.g. View, Purchase)."""
    expression: str = Field(min_length=1, max_length=256)
    """`SAMPLECOUNT()` or `SUM(DATASET.COLUMN)` with DATASET INTERACTIONS or ITEMS and a numeric COLUMN."""

    @field_validator("expression")
    @classmethod
    def _dataset_name_upper_case(cls, expression: str) -> str:
        """The API reference writes `SUM(Items.PRICE)`: dataset names are read case-insensitively
        and sent upper-cased, so the API and the change detection of the handler see one form."""
        match = METRIC_EXPRESSION.match(expression)
        if match is None or match["dataset"] is None:
            return expression
        start, end = match.span("dataset")
        return expression[:start] + expression[start:end].upper() + expression[end:]

    @property
    def cloudwatch_name(self) -> str:
        """Personalize publishes each metric under its name upper-cased."""
        return cloudwatch_name(self.metric_name)


class MetricAttributionConfig(Strict):
    metrics: Annotated[list[Metric], Field(min_length=1)]
    """At most 10 metrics; changing them updates the metric attribution in place."""
    s3_output: bool = Field(default=True, alias="s3Output")
    """Write a report to the data bucket's metric-report prefix after each bulk import."""
    cloudwatch: bool = True
    """Chart the metrics on the dashboard (Personalize publishes PutEvents and incremental imports to CloudWatch)."""


class Recommender(Strict):
    name: str = Field(min_length=1, max_length=40, pattern=SHORT_NAME_PATTERN)
    """Short name, unique in the dataset group; the physical name is `<name>-<group>-<this>-<recipe hash>`."""
    recipe: str
    """A use case of the group's domain, e.g. `aws-ecomm-recommended-for-you`, or its recipe ARN. A new recipe replaces the recommender."""
    attribution_source: str | None = Field(default=None, alias="attributionSource", pattern=ATTRIBUTION_SOURCE_PATTERN, max_length=256)
    """The eventAttributionSource applications send with events that follow this recommender's results (default: the name with '-' as '_')."""
    state: Literal["ACTIVE", "INACTIVE"] = "ACTIVE"
    """ACTIVE serves (and bills its request floor every hour); INACTIVE stops it: no charge, no retraining."""
    recommender_config: dict[str, Any] = Field(default_factory=dict, alias="recommenderConfig")
    """CreateRecommender's recommenderConfig as the API spells it (checked against botocore's model), e.g. `minRecommendationRequestsPerSecond` (the billed floor, default 1), `enableMetadataWithRecommendations`, `trainingDataConfig`."""

    @property
    def recipe_arn(self) -> str:
        return self.recipe if self.recipe.startswith("arn:") else RECIPE_ARN_PREFIX + self.recipe

    @property
    def source_name(self) -> str:
        """The eventAttributionSource applications send for this recommender's results."""
        return self.attribution_source or self.name.replace("-", "_")


class SolutionEvent(Strict):
    """One entry of solutionConfig.eventsConfig.eventParametersList (v2 recipes)."""

    event_type: str = Field(alias="eventType", min_length=1, max_length=256)
    """An event type of the interactions data."""
    event_value_threshold: float | None = Field(default=None, alias="eventValueThreshold")
    """Only events of this type with EVENT_VALUE at or above it count."""
    weight: float = Field(ge=0, le=1)  # botocore EventTypeWeight: 0..1
    """The event type's weight in training, 0 to 1."""

    def to_api(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"eventType": self.event_type, "weight": self.weight}
        if self.event_value_threshold is not None:
            entry["eventValueThreshold"] = self.event_value_threshold
        return entry


class AutoTraining(Strict):
    """Personalize's own periodic retraining; off by default so deployments decide what is trained (and billed)."""

    enabled: bool = False
    """Let Personalize train new versions on a schedule (each training bills training hours)."""
    schedule: str | None = Field(default=None, pattern=r"^rate\(\d+ days?\)$", max_length=16)
    """`rate(N days)` with N from 1 to 30 (botocore's AutoTrainingConfig); default every 7 days."""

    @model_validator(mode="after")
    def _schedule_needs_enabled(self) -> AutoTraining:
        if self.schedule is not None and not self.enabled:
            raise ValueError("schedule is set but enabled is false; set `enabled: true` or drop `schedule`")
        return self

    @property
    def interval_days(self) -> int:
        """Days between trainings: the schedule's N, else botocore's documented default."""
        return int(re.sub(r"\D", "", self.schedule)) if self.schedule else auto_training_default_days()


class Training(Strict):
    """What a deployment trains: a new `version` (any string) starts a new solution version."""

    version: str = Field(default="1", pattern=r"^[A-Za-z0-9._-]{1,20}$")
    """Any string of up to 20 letters, digits, '.', '_' or '-': a new value trains a new solution version at deploy."""
    mode: Literal["FULL", "UPDATE"] = "FULL"
    """FULL trains on all data; UPDATE (User-Personalization and similar recipes, after a FULL version) updates the latest version."""


class ItemExploration(Strict):
    """campaignConfig.itemExplorationConfig (aws-user-personalization): strings in the API."""

    exploration_weight: float | None = Field(default=None, alias="explorationWeight", ge=0, le=1)
    """How much to recommend new or less relevant items, 0 to 1."""
    exploration_item_age_cut_off: int | None = Field(default=None, alias="explorationItemAgeCutOff", ge=1)
    """Days since an item's CREATION_TIMESTAMP within which it counts as new."""

    def to_api(self) -> dict[str, str]:
        out = {}
        if self.exploration_weight is not None:
            out["explorationWeight"] = str(self.exploration_weight)
        if self.exploration_item_age_cut_off is not None:
            out["explorationItemAgeCutOff"] = str(self.exploration_item_age_cut_off)
        return out


class Campaign(Strict):
    """A campaign serves a solution version; it bills its minProvisionedTPS every hour and cannot
    be stopped, only deleted (`enabled: false` deletes it)."""

    name: str = Field(min_length=1, max_length=40, pattern=SHORT_NAME_PATTERN)
    """Short name, unique in the dataset group; a new name replaces the campaign."""
    min_provisioned_tps: int = Field(default=1, ge=1, alias="minProvisionedTPS")
    """Billed floor of transactions per second, every hour the campaign exists."""
    item_exploration: ItemExploration | None = Field(default=None, alias="itemExploration")
    """campaignConfig.itemExplorationConfig (aws-user-personalization only)."""
    metadata: bool = False  # campaignConfig.enableMetadataWithRecommendations (billed extra)
    """Return item metadata with recommendations (campaignConfig.enableMetadataWithRecommendations; billed extra)."""
    sync_with_latest_solution_version: bool = Field(default=False, alias="syncWithLatestSolutionVersion")
    """Serve the solution's latest version automatically (campaignConfig.syncWithLatestSolutionVersion)."""
    attribution_source: str | None = Field(default=None, alias="attributionSource", pattern=ATTRIBUTION_SOURCE_PATTERN, max_length=256)
    """The eventAttributionSource applications send with events that follow this campaign's results (default: the name with '-' as '_')."""
    enabled: bool = True
    """false deletes the campaign (the only way to stop its hourly charge) and keeps its source known."""

    @property
    def source_name(self) -> str:
        """The eventAttributionSource applications send for this campaign's results."""
        return self.attribution_source or self.name.replace("-", "_")

    def campaign_config(self) -> dict[str, Any]:
        """CreateCampaign's campaignConfig (API spelling)."""
        config: dict[str, Any] = {}
        if self.item_exploration is not None and self.item_exploration.to_api():
            config["itemExplorationConfig"] = self.item_exploration.to_api()
        if self.metadata:
            config["enableMetadataWithRecommendations"] = True
        if self.sync_with_latest_solution_version:
            config["syncWithLatestSolutionVersion"] = True
        return config


class Solution(Strict):
    """A custom solution (recipe + training settings), its trained versions and its campaigns."""

    name: str = Field(min_length=1, max_length=30, pattern=SHORT_NAME_PATTERN)
    """Short name, unique in the dataset group."""
    recipe: str
    """A custom recipe, e.g. `aws-user-personalization`, `aws-similar-items`, or its ARN."""
    event_type: str | None = Field(default=None, alias="eventType", min_length=1, max_length=256)
    """Train on this event type only."""
    event_value_threshold: float | None = Field(default=None, alias="eventValueThreshold")
    """Train on events with EVENT_VALUE at or above it only."""
    events: list[SolutionEvent] = Field(default_factory=list)
    """Event types and weights for v2 recipes (solutionConfig.eventsConfig)."""
    auto_training: AutoTraining = Field(default_factory=AutoTraining, alias="autoTraining")
    """Personalize's own periodic retraining."""
    perform_hpo: bool = Field(default=False, alias="performHPO")
    """Tune hyperparameters while training (more training hours)."""
    training: Training = Field(default_factory=Training)
    """What a deploy trains."""
    campaigns: list[Campaign] = Field(default_factory=list)
    """Campaigns serving the solution's trained version."""

    @property
    def recipe_arn(self) -> str:
        return self.recipe if self.recipe.startswith("arn:") else RECIPE_ARN_PREFIX + self.recipe

    def create_request(self, name: str, dataset_group_arn: str) -> dict[str, Any]:
        """CreateSolution's input (the solution handler appends a digest of the create-only parts to `name`)."""
        request: dict[str, Any] = {"name": name, "datasetGroupArn": dataset_group_arn, "recipeArn": self.recipe_arn}
        if self.perform_hpo:
            request["performHPO"] = True
        if self.event_type is not None:
            request["eventType"] = self.event_type
        solution_config: dict[str, Any] = {}
        if self.event_value_threshold is not None:
            solution_config["eventValueThreshold"] = format(self.event_value_threshold, "g")  # a string in the API
        if self.events:
            solution_config["eventsConfig"] = {"eventParametersList": [e.to_api() for e in self.events]}
        request["performAutoTraining"] = self.auto_training.enabled
        if self.auto_training.enabled and self.auto_training.schedule:
            solution_config["autoTrainingConfig"] = {"schedulingExpression": self.auto_training.schedule}
        if solution_config:
            request["solutionConfig"] = solution_config
        return request


class Filter(Strict):
    name: str = Field(min_length=1, max_length=30, pattern=SHORT_NAME_PATTERN)
    """Short name, unique in the dataset group."""
    expression: str = Field(min_length=1, max_length=2500)
    """A Personalize filter expression, e.g. `EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Purchase")`; checked against the group's schemas."""


class DatasetGroup(Strict):
    name: str = Field(min_length=1, max_length=30, pattern=SHORT_NAME_PATTERN)
    """Short name, unique in the config; part of every physical name in the group."""
    domain: Literal["ECOMMERCE", "VIDEO_ON_DEMAND"] | None = None
    """ECOMMERCE or VIDEO_ON_DEMAND for a domain group (recommenders); empty for a custom group (solutions and campaigns only)."""
    datasets: Datasets
    """The group's datasets."""
    event_tracker: bool = Field(default=True, alias="eventTracker")
    """Create an event tracker so applications can send PutEvents."""
    metric_attribution: MetricAttributionConfig | None = Field(default=None, alias="metricAttribution")
    """The metrics Personalize attributes to each source."""
    recommenders: list[Recommender] = Field(default_factory=list)
    """Domain recommenders (domain groups only)."""
    attribution_sources: list[Annotated[str, Field(pattern=ATTRIBUTION_SOURCE_PATTERN, max_length=256)]] = Field(
        default_factory=list, alias="attributionSources"
    )
    """Other sources that send events (third-party widgets, e-mails), besides the recommenders' and campaigns'."""
    solutions: list[Solution] = Field(default_factory=list)
    """Custom solutions, their trainings and campaigns."""
    filters: list[Filter] = Field(default_factory=list)
    """Filters applications may pass with GetRecommendations."""
    experiments: list[Experiment] = Field(default_factory=list)
    """Randomized experiments between the group's sources, assigned by AppConfig feature flags (docs/experiments.md)."""
    timezone: str | None = None
    """The shop's time zone (IANA name, e.g. America/Los_Angeles): `report` clusters the group's days by its local day (default UTC; `--timezone` overrides)."""

    @field_validator("timezone")
    @classmethod
    def _known_time_zone(cls, timezone: str | None) -> str | None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        if timezone is None:
            return None
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{timezone!r} is not an IANA time zone name; use one like Europe/Berlin or America/Los_Angeles") from None
        return timezone

    def campaigns(self, *, enabled_only: bool = False) -> list[tuple[Solution, Campaign]]:
        """Every campaign of the group with its solution, in config order."""
        return [(s, c) for s in self.solutions for c in s.campaigns if c.enabled or not enabled_only]

    def all_sources(self) -> list[str]:
        """Recommenders' sources first, then campaigns', then the other known sources (third parties etc.)."""
        return [r.source_name for r in self.recommenders] + [c.source_name for _, c in self.campaigns()] + list(self.attribution_sources)


class Encryption(Strict):
    """SSE-S3 by default; ``kms`` creates a customer key, or uses ``kmsKeyArn`` when given."""

    mode: Literal["S3_MANAGED", "KMS"] = "S3_MANAGED"
    """S3_MANAGED (SSE-S3) or KMS (a customer managed key for the data, billed monthly)."""
    kms_key_arn: str | None = Field(default=None, alias="kmsKeyArn", pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
    """With mode KMS: use this existing key instead of creating one."""

    @model_validator(mode="after")
    def _arn_needs_kms(self) -> Encryption:
        if self.kms_key_arn and self.mode != "KMS":
            raise ValueError("kmsKeyArn is set but mode is S3_MANAGED; set mode: KMS to use the key, or drop kmsKeyArn")
        return self


class DerivedMetric(Strict):
    """Metric math per attribution source, e.g. ``sumMargin / countViews``."""

    name: str = Field(pattern=r"^[a-z][A-Za-z0-9_]*$", max_length=64)
    """Name of the derived metric on the dashboard."""
    expression: str = Field(min_length=1, max_length=256)
    """Metric math over the metric names, e.g. `sumMargin / countViews`, per source."""
    label: str | None = None
    """Label on the dashboard (default: the name)."""


class Alarm(Strict):
    """Alarm when a source's metric stays at or below a threshold for N 15-minute periods."""

    name: str = Field(pattern=SHORT_NAME_PATTERN, max_length=40)
    """Alarm name suffix; the alarm is `<name>-<this>`."""
    dataset_group: str = Field(alias="datasetGroup")
    """The dataset group whose metric it watches."""
    metric: str
    """A metricName of that group's metric attribution."""
    source: str
    """The attribution source to watch."""
    threshold: float = 0.0
    """Alarm when the metric stays at or below this value."""
    periods: int = Field(default=4, ge=1, le=96)
    """For this many consecutive 15-minute periods (1 to 96)."""


class IngestionAlarms(Strict):
    """PutEvents error alarms, one per error class (4xx, 5xx) and dataset group with an event tracker.

    Off by default: the default environment is a demo whose alarms would notify nobody, and
    alarms bring the encrypted topic with its customer managed key (about 1 USD a month).
    """

    enabled: bool = False
    """Create the PutEvents 4xx and 5xx alarms of every group with an event tracker."""
    threshold: int = Field(default=1, ge=1, le=1_000_000)  # errors per 5-minute period that count as a breach
    """Errors per 5-minute period that count as a breach."""
    periods: int = Field(default=1, ge=1, le=288)  # consecutive breaching 5-minute periods before the alarm fires
    """Consecutive breaching 5-minute periods before the alarm fires."""


class Dashboard(Strict):
    enabled: bool = True
    """Create the CloudWatch dashboard stack (billed monthly)."""
    derived_metrics: list[DerivedMetric] = Field(default_factory=list, alias="derivedMetrics")
    """Metric math shown per source."""
    alarms: list[Alarm] = Field(default_factory=list)
    """Alarms on attribution metrics."""
    ingestion_alarms: IngestionAlarms = Field(default_factory=IngestionAlarms, alias="ingestionAlarms")
    """PutEvents error alarms."""
    alarm_email: str | None = Field(default=None, alias="alarmEmail", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    """E-mail address subscribed to the alarm topic."""
    # Glue table + Athena workgroup + saved queries over the S3 metric reports; free while unused.
    report_queries: bool = Field(default=True, alias="reportQueries")
    """Glue table, Athena workgroup and saved queries over the S3 metric reports (free while unused; Athena bills per TB scanned)."""

    def any_alarms(self) -> bool:
        return bool(self.alarms) or self.ingestion_alarms.enabled


class AppConfig(Strict):
    name: str = Field(min_length=1, max_length=20, pattern=SHORT_NAME_PATTERN)
    """The environment's name: starts every stack and physical name, so environments can share an account."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Tags for every taggable resource."""
    removal_policy: Literal["RETAIN", "DESTROY"] = Field(default="RETAIN", alias="removalPolicy")
    """RETAIN keeps the buckets and their data on destroy; DESTROY empties and deletes them."""
    reuse_retained_buckets: bool = Field(default=False, alias="reuseRetainedBuckets")
    """Use the buckets an earlier RETAIN destroy left instead of creating them (docs/storage-lifecycle.md)."""
    encryption: Encryption = Field(default_factory=Encryption)
    """How the data bucket is encrypted."""
    noncurrent_version_days: int = Field(default=30, ge=1, le=3650, alias="noncurrentVersionDays")
    """Days the data bucket keeps replaced object versions."""
    long_wait_timeout_hours: float = Field(default=8, gt=0, le=LONG_WAIT_MAX_HOURS, alias="longWaitTimeoutHours")
    """How long a deploy waits for an import, a training or a recommender, and a destroy for the teardown (at most 12, CloudFormation's WaitCondition limit). The old name `recommenderReadyTimeoutHours` is still read, with a warning."""
    recommender_poll_minutes: int = Field(default=5, ge=1, le=60, alias="recommenderPollMinutes")
    """How often the deploy checks a recommender's status."""
    dataset_groups: Annotated[list[DatasetGroup], Field(min_length=1)] = Field(alias="datasetGroups")
    """The Personalize dataset groups of the environment."""
    dashboard: Dashboard = Field(default_factory=Dashboard)
    """The CloudWatch dashboard, alarms and report queries."""
    external_buckets: list[str] = Field(default_factory=list, alias="externalBuckets")
    """Buckets outside this app that a `dataImport.location` (s3://...) reads. The stack cannot edit their policies: each owner adds the bucket policy printed at synth (docs/iam-authorization.md)."""

    def external_import_locations(self) -> list[str]:
        """Every dataImport location in another bucket (an s3:// URI), in config order."""
        return [d.data_import.location for g in self.dataset_groups for d in g.datasets.present().values()
                if d.data_import and d.data_import.location.startswith("s3://")]

    def physical_name(self, *parts: str) -> str:
        """Personalize names derive from the environment name so environments can share an account."""
        return address_book.physical_name(self.name, *parts)

    def recommender_name(self, group: DatasetGroup, recommender: Recommender) -> str:
        """A recommender's physical name carries a short hash of its recipe: Personalize cannot
        change a recommender's recipe, so a new recipe means a new recommender, and a new name
        lets CloudFormation create it before deleting the old one."""
        recipe_tag = hashlib.sha256(recommender.recipe_arn.encode()).hexdigest()[:4]
        return self.physical_name(group.name, recommender.name, recipe_tag)

    def solution_base_name(self, group: DatasetGroup, solution: Solution) -> str:
        """The solution's name before the handler appends `-<8 hex>` of its create-only settings
        (lambdas/personalize_resources/solution.py physical_name)."""
        return self.physical_name(group.name, solution.name)

    def campaign_name(self, group: DatasetGroup, campaign: Campaign) -> str:
        """Campaigns update in place (version, TPS, config); only a new name replaces one."""
        return self.physical_name(group.name, campaign.name)

    def filter_name(self, group: DatasetGroup, filter_: Filter) -> str:
        """Any change of a filter's expression replaces it, and CloudFormation cannot replace a
        custom-named resource under the same name: the name carries a hash of the expression."""
        digest = hashlib.sha256(filter_.expression.encode()).hexdigest()[:6]
        return self.physical_name(group.name, filter_.name, digest)

    def solution_version_name(self, group: DatasetGroup, solution: Solution) -> str:
        """Name of the version a deployment trains: a retry of the same request adopts it
        instead of training twice; a new `training.version` or mode is a new name."""
        settings = solution.model_dump(mode="json", by_alias=True, exclude={"campaigns"})
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:6]
        return self.physical_name(group.name, solution.name, digest)

    def fingerprint(self) -> str:
        return hashlib.sha256(self.model_dump_json(by_alias=True).encode()).hexdigest()[:12]


class ConfigError(Exception):
    def __init__(self, source: str, issues: list[ConfigIssue]):
        self.source = source
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        count = f"{len(issues)} configuration problem{'' if len(issues) == 1 else 's'}"
        super().__init__(f"{source}: {count}:\n{lines}")


def load_config(path: str | Path, *, choose_with: str | None = None) -> AppConfig:
    """Read and validate a config file; raise ConfigError naming every problem.

    `choose_with` tells how the caller's user names the file (`-c config=PATH`, `make synth
    CONFIG=PATH`, `--config PATH`), for the message when it cannot be read."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        how = f" with {choose_with}" if choose_with else ""
        raise ConfigError(source, [ConfigIssue("(file)", f"cannot read it ({err.strerror}); pass an existing file{how}")]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise ConfigError(source, [ConfigIssue(where, f"not valid YAML ({getattr(err, 'problem', err)}); fix the syntax there")]) from None
    return parse_config(raw, source)


class ConfigDeprecationWarning(UserWarning):
    """A config key that still works under an old name; app.py prints it at synth."""


# Old top-level key -> its new name. The old one is still read, with a warning.
RENAMED_KEYS = {"recommenderReadyTimeoutHours": "longWaitTimeoutHours"}


def _renamed(raw: dict, source: str) -> tuple[dict, dict[str, str]]:
    """``raw`` with each old key under its new name, and new -> old for the keys renamed."""
    renamed = {}
    for old, new in RENAMED_KEYS.items():
        if old not in raw:
            continue
        if new in raw:
            raise ConfigError(source, [ConfigIssue(old, f"is the old name of `{new}`, which is set too; remove `{old}`")])
        warnings.warn(f"{source}: `{old}` is deprecated; rename it `{new}` (it bounds every long wait, not only recommenders')", ConfigDeprecationWarning, stacklevel=3)
        raw = {(new if key == old else key): value for key, value in raw.items()}
        renamed[new] = old
    return raw, renamed


def parse_config(raw: Any, source: str = "config") -> AppConfig:
    if not isinstance(raw, dict):
        raise ConfigError(source, [ConfigIssue("(top level)", "must be a mapping with at least `name` and `datasetGroups`")])
    raw, renamed = _renamed(raw, source)
    try:
        config = AppConfig.model_validate(raw)
    except ValidationError as err:
        issues = [_issue_from_pydantic(e, raw) for e in err.errors()]
        # Name the key as the file spells it.
        raise ConfigError(source, [ConfigIssue(renamed.get(i.path, i.path), i.message) for i in issues]) from None
    issues = _semantic_issues(config)
    if issues:
        raise ConfigError(source, issues)
    return config


# --- formatting pydantic errors -----------------------------------------------------------------

# How to fix a value that does not match a field's pattern, per pattern.
PATTERN_HINTS = {
    SHORT_NAME_PATTERN: "use lower-case letters, digits and '-', starting with a letter or digit",
    ATTRIBUTION_SOURCE_PATTERN: "use letters, digits, '_' and '-', starting with a letter or digit",
    r"^[A-Za-z][A-Za-z0-9_]*$": "start with a letter, then use letters, digits and '_'",
    r"^[a-z][A-Za-z0-9_]*$": "start with a lower-case letter, then use letters, digits and '_'",
    r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$": "use a KMS key ARN such as arn:aws:kms:REGION:ACCOUNT:key/KEY-ID",
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$": "use an email address such as team@example.com",
    r"^[A-Za-z0-9._-]{1,20}$": "use up to 20 letters, digits, '.', '_' or '-', e.g. \"2\"",
    r"^rate\(\d+ days?\)$": "write rate(N days), e.g. rate(7 days)",
}


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _known_fields(raw: Any, loc: tuple[Any, ...]) -> list[str]:
    """Aliases the model accepts at the parent of `loc`, for "did you mean" hints."""
    model: Any = AppConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return []
        model = _inner_model(field.annotation)
        if model is None:
            return []
    return [f.alias or n for n, f in model.model_fields.items()]


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    metadata_origin = getattr(annotation, "__origin__", None)
    if metadata_origin is not None and metadata_origin is not annotation:
        return _inner_model(metadata_origin)
    return None


def _issue_from_pydantic(error: dict[str, Any], raw: Any) -> ConfigIssue:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _known_fields(raw, loc)
        hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
        fix = f"did you mean `{hint[0]}`?" if hint else f"allowed here: {', '.join(known)}" if known else "remove it"
        return ConfigIssue(_path(loc), f"unknown field; {fix}")
    if kind == "missing":
        return ConfigIssue(_path(loc), "is required; add it (see config/default.yaml for an example)")
    if kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        hint = PATTERN_HINTS.get(pattern, "change it to match")
        return ConfigIssue(_path(loc), f"{error['input']!r} does not match {pattern}; {hint}")
    if kind == "string_type" and isinstance(error.get("input"), (int, float, bool, datetime.date)):
        return ConfigIssue(_path(loc), f"must be a string, but YAML read {error['input']!r} as {type(error['input']).__name__}; put it in quotes, e.g. \"{error['input']}\"")
    if kind in {"enum", "literal_error"}:
        expected = error.get("ctx", {}).get("expected", "")
        return ConfigIssue(_path(loc), f"{error['input']!r} is not allowed; use one of {expected}")
    if kind == "value_error":
        return ConfigIssue(_path(loc), str(error.get("ctx", {}).get("error", error["msg"])))
    return ConfigIssue(_path(loc), f"{error['msg'].rstrip('.')} (got {error.get('input')!r}); fix the value")


# --- rules that span fields ---------------------------------------------------------------------


@cache
def _personalize_model():
    return get_session().get_service_model("personalize")


def _scheduling_expression_doc(pattern: str) -> re.Match[str]:
    """A phrase of botocore's documentation of AutoTrainingConfig.schedulingExpression."""
    doc = _personalize_model().shape_for("AutoTrainingConfig").members["schedulingExpression"].documentation
    found = re.search(pattern, doc)
    if found is None:  # the documentation changed: fail loudly rather than guess
        raise RuntimeError(f"botocore's AutoTrainingConfig.schedulingExpression no longer documents {pattern!r}")
    return found


@cache
def auto_training_days() -> tuple[int, int]:
    """The days a `rate(N days)` auto-training schedule may name ("specify a number between 1
    and 30"); the shape's pattern alone would accept any number."""
    found = _scheduling_expression_doc(r"number between (\d+) and (\d+)")
    return int(found[1]), int(found[2])


@cache
def auto_training_default_days() -> int:
    """Days between automatic trainings without a schedule ("The default is every 7 days")."""
    return int(_scheduling_expression_doc(r"default is every (\d+) days")[1])


def _auto_training_issues(auto_training: AutoTraining, path: str) -> list[ConfigIssue]:
    if auto_training.schedule is None:
        return []
    days = auto_training.interval_days
    low, high = auto_training_days()
    if low <= days <= high:
        return []
    return [ConfigIssue(f"{path}.schedule", f"{auto_training.schedule} trains every {days} days, but Personalize accepts {low} to {high} days (botocore AutoTrainingConfig.schedulingExpression); write e.g. rate({min(max(days, low), high)} days)")]


def _shape_issues(value: Any, shape_name: str, path: str) -> list[ConfigIssue]:
    """Validate a request fragment with botocore's own model, so the API is not re-typed here."""
    shape = _personalize_model().shape_for(shape_name)
    report = ParamValidator().validate(value, shape)
    issues = []
    if report.has_errors():
        for line in report.generate_report().splitlines():
            issues.append(ConfigIssue(path, line.strip() + " (per the Personalize API model)"))
    issues += _length_issues(value, shape, path)
    return issues


def _length_issues(value: Any, shape: Any, path: str) -> list[ConfigIssue]:
    """botocore checks types and minimums; maximum sizes, key patterns and booleans given for
    numbers (botocore takes `true` as an integer, as Python does) are checked here."""
    issues: list[ConfigIssue] = []
    if isinstance(value, bool) and shape.type_name in {"integer", "long", "float", "double"}:
        issues.append(ConfigIssue(path, f"must be a number, but YAML read {str(value).lower()} as a boolean; write a number (per the Personalize API model, a {shape.type_name})"))
    maximum = shape.metadata.get("max")
    if maximum is not None and isinstance(value, (str, list, dict)) and len(value) > maximum:
        issues.append(ConfigIssue(path, f"has {len(value)} entries/characters; the API allows at most {maximum}"))
    if shape.type_name == "structure" and isinstance(value, dict):
        for key, member in shape.members.items():
            if key in value:
                issues += _length_issues(value[key], member, f"{path}.{key}")
    elif shape.type_name == "map" and isinstance(value, dict):
        pattern = shape.key.metadata.get("pattern")
        for key, item in value.items():
            if pattern and not re.match(pattern, str(key)):
                issues.append(ConfigIssue(f"{path}.{key}", f"key does not match {pattern}"))
            issues += _length_issues(item, shape.value, f"{path}.{key}")
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            issues += _length_issues(item, shape.member, f"{path}[{index}]")
    return issues


def _semantic_issues(config: AppConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    add = lambda path, message: issues.append(ConfigIssue(path, message))  # noqa: E731

    for name in _duplicates([g.name for g in config.dataset_groups]):
        add("datasetGroups", f"dataset group name {name!r} is used twice; names must be unique")
    if config.reuse_retained_buckets:
        if config.removal_policy != "RETAIN":
            add("reuseRetainedBuckets", "needs removalPolicy: RETAIN (DESTROY deletes the buckets, so none is left to reuse); set removalPolicy: RETAIN or drop reuseRetainedBuckets")
        if config.encryption.mode == "KMS" and not config.encryption.kms_key_arn:
            add("encryption.kmsKeyArn", "reuseRetainedBuckets keeps the retained data bucket, whose objects are encrypted with the key the earlier"
                " storage stack created (RETAIN kept it): set kmsKeyArn to that key (the earlier storage stack's output DataKeyArn)")

    for g_index, group in enumerate(config.dataset_groups):
        base = f"datasetGroups[{g_index}]"
        datasets = group.datasets.present()
        for dataset_type, dataset in datasets.items():
            issues += _schema_issues(dataset.schema_, dataset_type, f"{base}.datasets.{dataset_type}.schema", group.domain)
            if dataset.data_import is not None:
                issues += _import_issues(dataset.data_import, dataset_type, f"{base}.datasets.{dataset_type}.dataImport")
                issues += _external_bucket_issues(config, dataset.data_import, f"{base}.datasets.{dataset_type}.dataImport")
        for dataset_type in datasets:
            longest = config.physical_name(group.name, dataset_type, "import", "0123456789")
            if len(longest) > PERSONALIZE_NAME_MAX:
                add(f"{base}.name", f"names built from it (e.g. {longest!r}) exceed {PERSONALIZE_NAME_MAX} characters; shorten `name` or the dataset group name")
                break

        if group.metric_attribution is not None:
            issues += _metric_issues(group, f"{base}.metricAttribution")

        if group.recommenders and group.domain is None:
            add(f"{base}.recommenders", "recommenders need a domain dataset group; set `domain: ECOMMERCE` or `domain: VIDEO_ON_DEMAND`")
        for name in _duplicates([r.name for r in group.recommenders]):
            add(f"{base}.recommenders", f"recommender name {name!r} is used twice; names must be unique in a dataset group")
        for r_index, recommender in enumerate(group.recommenders):
            path = f"{base}.recommenders[{r_index}]"
            allowed = recipes.domain_recipe_names(group.domain or "")
            recipe_name = recommender.recipe_arn.removeprefix(RECIPE_ARN_PREFIX)
            if group.domain and recipe_name not in allowed:
                add(f"{path}.recipe", f"{recommender.recipe!r} is not {recipes.with_article(group.domain)} recipe; use one of {', '.join(allowed)}")
            physical = config.recommender_name(group, recommender)
            if len(physical) > PERSONALIZE_NAME_MAX:
                add(f"{path}.name", f"the recommender's name {physical!r} has {len(physical)} characters, more than {PERSONALIZE_NAME_MAX}; shorten the recommender `name` (or `name` or the dataset group name)")
            if recommender.recommender_config:
                issues += _shape_issues(recommender.recommender_config, "RecommenderConfig", f"{path}.recommenderConfig")
                issues += _training_column_issues(recommender.recommender_config, datasets, f"{path}.recommenderConfig.trainingDataConfig")

        issues += _solution_issues(config, group, base)
        issues += _filter_issues(config, group, base)
        issues += experiment_issues(config, group, base)

        issues += _source_collisions(group, base)
    issues += _dashboard_issues(config)
    return issues


def location_bucket(location: str) -> str:
    """"s3://bucket/key" → "bucket"."""
    return location.removeprefix("s3://").split("/", 1)[0]


def _external_bucket_issues(config: AppConfig, data_import: DataImport, path: str) -> list[ConfigIssue]:
    # Personalize reads a bucket only when the bucket's own policy lets it (Developer Guide, "Giving
    # Amazon Personalize access to Amazon S3 resources"); a stack cannot edit another's bucket policy.
    if not data_import.location.startswith("s3://"):
        return []
    bucket = location_bucket(data_import.location)
    if bucket in config.external_buckets:
        return []
    return [ConfigIssue(f"{path}.location", f"bucket {bucket!r} is not this app's data bucket: add it to `externalBuckets` (its owner "
                        "must then add the bucket-policy statement synthesis prints), or copy the files under the data bucket's imports/ prefix "
                        "and give their key instead")]


def _source_owners(group: DatasetGroup, base: str) -> list[tuple[str, str, str]]:
    """(source, who sends it, config path) for every attribution source of the group, in
    `all_sources` order; a source taken from a name points at that name."""
    owners: list[tuple[str, str, str]] = []
    for r_index, recommender in enumerate(group.recommenders):
        field = "attributionSource" if recommender.attribution_source else "name"
        owners.append((recommender.source_name, f"recommender {recommender.name}", f"{base}.recommenders[{r_index}].{field}"))
    for s_index, solution in enumerate(group.solutions):
        for c_index, campaign in enumerate(solution.campaigns):
            field = "attributionSource" if campaign.attribution_source else "name"
            owners.append((campaign.source_name, f"campaign {campaign.name}", f"{base}.solutions[{s_index}].campaigns[{c_index}].{field}"))
    for index, source in enumerate(group.attribution_sources):
        owners.append((source, "a third-party source", f"{base}.attributionSources[{index}]"))
    return owners


def _source_collisions(group: DatasetGroup, base: str) -> list[ConfigIssue]:
    """Sources equal once upper-cased (as CloudWatch records them), reported where the second
    one is set and naming every sender that shares it."""
    issues: list[ConfigIssue] = []
    owners = _source_owners(group, base)
    for source in dict.fromkeys(_duplicates([cloudwatch_name(s) for s, _, _ in owners])):
        sharing = [(who, path) for s, who, path in owners if cloudwatch_name(s) == source]
        senders = " and ".join(f"{who} ({path})" for who, path in sharing)
        issues.append(ConfigIssue(sharing[1][1], f"attribution source {source!r} is shared by {senders}; CloudWatch upper-cases sources, so their figures would mix: give each sender its own source"))
    return issues


def known_event_types(group: DatasetGroup) -> frozenset[str] | None:
    """Event types the group's data holds: the metric attribution's and, with the sample data,
    the generator's. None when the interactions are the user's own (not known at synth)."""
    data_import = group.datasets.interactions.data_import
    if data_import is None or data_import.location != "sample":
        return None
    metrics = {m.event_type for m in group.metric_attribution.metrics} if group.metric_attribution else set()
    # Rating events exist only in the ratings variant, imported when the schema has EVENT_VALUE.
    ratings = group.datasets.interactions.schema_.field("EVENT_VALUE") is not None
    sample = {t for t in SAMPLE_EVENT_TYPES if ratings or t != SAMPLE_RATING}
    return frozenset(metrics | sample)


def _solution_issues(config: AppConfig, group: DatasetGroup, base: str) -> list[ConfigIssue]:
    """Recipe vs. group and data (stacks/recipes.py), names, campaigns."""
    issues: list[ConfigIssue] = []
    datasets = group.datasets.present()
    columns = {f.name: f.type.value for f in group.datasets.interactions.schema_.fields}
    event_types = known_event_types(group)
    for name in _duplicates([s.name for s in group.solutions]):
        issues.append(ConfigIssue(f"{base}.solutions", f"solution name {name!r} is used twice; names must be unique in a dataset group"))
    for name in _duplicates([c.name for _, c in group.campaigns()]):
        issues.append(ConfigIssue(f"{base}.solutions", f"campaign name {name!r} is used twice; campaign names must be unique in a dataset group"))
    for s_index, solution in enumerate(group.solutions):
        path = f"{base}.solutions[{s_index}]"
        settings = recipes.SolutionSettings(
            recipe=solution.recipe,
            event_type=solution.event_type,
            event_value_threshold=solution.event_value_threshold,
            events=tuple(e.to_api() for e in solution.events),
            perform_hpo=solution.perform_hpo,
            training_mode=solution.training.mode,
            known_event_types=event_types,
            interactions_columns=columns,
        )
        field_paths = {"trainingMode": "training.mode"}
        for field_name, message in recipes.solution_issues(settings, datasets=datasets):
            issues.append(ConfigIssue(f"{path}.{field_paths.get(field_name, field_name)}", message))
        if event_types is not None:
            for e_index, event in enumerate(solution.events):
                if event.event_type not in event_types:
                    issues.append(ConfigIssue(f"{path}.events[{e_index}].eventType", f"{event.event_type!r} is not an event type of this dataset group's data (known: {', '.join(sorted(event_types))}); training on it would find no interactions"))
        issues += _auto_training_issues(solution.auto_training, f"{path}.autoTraining")
        for name in _duplicates([e.event_type for e in solution.events]):
            issues.append(ConfigIssue(f"{path}.events", f"event type {name!r} is listed twice; give each event type one entry"))
        base_name = config.solution_base_name(group, solution)
        if len(base_name) > SOLUTION_BASE_NAME_MAX:
            issues.append(ConfigIssue(f"{path}.name", f"the solution's name {base_name!r} has {len(base_name)} characters; with the 9-character settings digest the handler appends it would exceed {PERSONALIZE_NAME_MAX}: keep it within {SOLUTION_BASE_NAME_MAX} by shortening the solution `name` (or `name` or the dataset group name)"))
        version_name = config.solution_version_name(group, solution)
        if len(version_name) > PERSONALIZE_NAME_MAX:
            issues.append(ConfigIssue(f"{path}.name", f"the solution version's name {version_name!r} exceeds {PERSONALIZE_NAME_MAX} characters; shorten the solution `name`"))
        for c_index, campaign in enumerate(solution.campaigns):
            physical = config.campaign_name(group, campaign)
            if len(physical) > PERSONALIZE_NAME_MAX:
                issues.append(ConfigIssue(f"{path}.campaigns[{c_index}].name", f"the campaign's name {physical!r} has {len(physical)} characters, more than {PERSONALIZE_NAME_MAX}; shorten the campaign `name`"))
            if campaign.item_exploration is not None and (entry := recipes.recipe(solution.recipe)) is not None and entry.name != "aws-user-personalization":
                issues.append(ConfigIssue(f"{path}.campaigns[{c_index}].itemExploration", f"item exploration applies to aws-user-personalization campaigns only, not {entry.name}; drop itemExploration"))
    return issues


def _filter_issues(config: AppConfig, group: DatasetGroup, base: str) -> list[ConfigIssue]:
    """Each expression parses (documented grammar) and names real, filterable columns."""
    issues: list[ConfigIssue] = []
    columns = {
        DATASET_TYPE_NAMES[t]: {f.name: filter_expressions.Column(f.type.value, f.textual) for f in d.schema_.fields}
        for t, d in group.datasets.present().items()
    }
    related = any((r := recipes.recipe(x)) is not None and r.related_items for x in [s.recipe for s in group.solutions] + [r.recipe_arn for r in group.recommenders])
    for name in _duplicates([f.name for f in group.filters]):
        issues.append(ConfigIssue(f"{base}.filters", f"filter name {name!r} is used twice; names must be unique in a dataset group"))
    for f_index, filter_ in enumerate(group.filters):
        path = f"{base}.filters[{f_index}]"
        try:
            parsed = filter_expressions.parse_filter(filter_.expression)
        except filter_expressions.FilterExpressionError as err:
            issues.append(ConfigIssue(f"{path}.expression", str(err)))  # "at character N: ..., fix"
            continue
        for message in filter_expressions.column_issues(parsed, columns):
            issues.append(ConfigIssue(f"{path}.expression", message))
        if parsed.uses_current_item and not related:
            issues.append(ConfigIssue(f"{path}.expression", "CurrentItem works only with related-items recipes (e.g. aws-similar-items); add such a solution or recommender, or drop the CurrentItem condition"))
        physical = config.filter_name(group, filter_)
        if len(physical) > PERSONALIZE_NAME_MAX:
            issues.append(ConfigIssue(f"{path}.name", f"the filter's name {physical!r} has {len(physical)} characters, more than {PERSONALIZE_NAME_MAX}; shorten the filter `name`"))
    return issues


def _training_column_issues(recommender_config: dict[str, Any], datasets: dict[str, DatasetConfig], path: str) -> list[ConfigIssue]:
    """Columns named in trainingDataConfig must exist, or CreateRecommender fails at deploy time."""
    issues: list[ConfigIssue] = []
    training = recommender_config.get("trainingDataConfig")
    for key in ("excludedDatasetColumns", "includedDatasetColumns"):
        columns = training.get(key) if isinstance(training, dict) else None
        if not isinstance(columns, dict):
            continue  # the botocore check reports wrong types
        for dataset_name, names in columns.items():
            dataset = datasets.get(str(dataset_name).lower())
            if dataset is None:
                issues.append(ConfigIssue(f"{path}.{key}.{dataset_name}", f"not a dataset of this group; use one of {', '.join(n.upper() for n in datasets)}"))
                continue
            known = [f.name for f in dataset.schema_.fields]
            for index, name in enumerate(names if isinstance(names, list) else []):
                if name not in known:
                    issues.append(ConfigIssue(f"{path}.{key}.{dataset_name}[{index}]", f"{name!r} is not a column of the {DATASET_TYPE_NAMES[str(dataset_name).lower()]} schema; use one of {', '.join(known)}"))
    return issues


def _schema_issues(schema: DatasetSchema, dataset_type: str, path: str, domain: str | None) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    names = [f.name for f in schema.fields]
    for name in _duplicates(names):
        issues.append(ConfigIssue(f"{path}.fields", f"field {name!r} is declared twice"))
    for index, field in enumerate(schema.fields):
        fpath = f"{path}.fields[{index}]"
        if not AVRO_FIELD_PATTERN.match(field.name):
            issues.append(ConfigIssue(f"{fpath}.name", f"{field.name!r} is not a valid Avro field name; use letters, digits and '_' and do not start with a digit"))
        if field.categorical and field.type is not AvroType.STRING:
            issues.append(ConfigIssue(f"{fpath}.categorical", f"only string fields can be categorical ({field.name} is {field.type.value}); drop `categorical` or make it a string"))
        if field.textual and field.type is not AvroType.STRING:
            issues.append(ConfigIssue(f"{fpath}.textual", f"only string fields can be textual ({field.name} is {field.type.value})"))
    rules = SCHEMA_RULES[(domain, dataset_type)]
    type_name = DATASET_TYPE_NAMES[dataset_type]
    where = f"{domain} domain" if domain else "custom dataset group"
    for name, rule in rules.required.items():
        field = schema.field(name)
        if field is None:
            issues.append(ConfigIssue(f"{path}.fields", f"the {type_name} schema needs a `{name}` field of type {rule.describe()} ({where}, {rules.source}); add `{rule.example(name)}`"))
            continue
        fpath = f"{path}.fields[{names.index(name)}]"
        if field.type.value not in rule.types or field.nullable:
            issues.append(ConfigIssue(f"{fpath}.type", f"`{name}` must be a non-nullable {rule.describe()} ({where}, {rules.source}); write `{rule.example(name)}`"))
        issues += _flag_issues(field, rule, fpath, f"`{name}` must be a {rule.describe()} ({where}, {rules.source})")
    for name, rule in rules.reserved.items():
        field = schema.field(name)
        if field is None:
            continue
        fpath = f"{path}.fields[{names.index(name)}]"
        reserved = f"`{name}` is a reserved name in {type_name} schemas ({where}, {rules.source})"
        if field.type.value not in rule.types:
            issues.append(ConfigIssue(f"{fpath}.type", f"{reserved}: it must be a {rule.describe()} (null allowed); write `{rule.example(name)}` or rename the field"))
        issues += _flag_issues(field, rule, fpath, f"{reserved}: it must be a {rule.describe()}")
    if rules.metadata_field is not None:
        metadata = [f for f in schema.fields if f.name not in rules.required and _is_user_metadata(f, rules)]
        if not metadata:
            issues.append(ConfigIssue(f"{path}.fields", f"the {type_name} schema needs at least one metadata field besides USER_ID ({rules.metadata_field}; {where}, {rules.source}); add e.g. `- {{name: MEMBERSHIP, type: string, categorical: true}}`"))
    return issues


def _flag_issues(field: SchemaField, rule: FieldRule, fpath: str, requirement: str) -> list[ConfigIssue]:
    """`categorical` / `textual` as the documentation fixes them for a required or reserved name."""
    if field.type is not AvroType.STRING:
        return []  # the type issue says it all
    if rule.categorical is True and not field.categorical:
        return [ConfigIssue(f"{fpath}.categorical", f"{requirement}; add `categorical: true`")]
    if rule.categorical is False and field.categorical:
        return [ConfigIssue(f"{fpath}.categorical", f"{requirement} that is not categorical; drop `categorical`")]
    if rule.textual and not field.textual:
        return [ConfigIssue(f"{fpath}.textual", f"{requirement}; add `textual: true`")]
    return []


def _is_user_metadata(field: SchemaField, rules: DatasetRules) -> bool:
    if rules.metadata_field == "any field":
        return True
    return field.type.value in NUMERIC_TYPES or (field.type is AvroType.STRING and field.categorical)


def _import_issues(data_import: DataImport, dataset_type: str, path: str) -> list[ConfigIssue]:
    location = data_import.location
    issues = []
    if location.startswith("s3://"):
        if not re.match(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$", location):
            issues.append(ConfigIssue(f"{path}.location", f"{location!r} is not a valid S3 URI; write s3://bucket/key"))
    elif location == "sample":
        if dataset_type == "users":
            issues.append(ConfigIssue(f"{path}.location", "the sample data has no Users file; point `location` at your own users CSV or drop dataImport"))
    elif location.startswith("/") or ".." in location or not location:
        issues.append(ConfigIssue(f"{path}.location", f"{location!r} must be `sample`, an s3:// URI or a key relative to the data bucket's import prefix"))
    if not re.match(r"^[A-Za-z0-9._-]{1,20}$", data_import.version):
        issues.append(ConfigIssue(f"{path}.version", "use up to 20 letters, digits, '.', '_' or '-'"))
    return issues


def _metric_issues(group: DatasetGroup, path: str) -> list[ConfigIssue]:
    attribution = group.metric_attribution
    assert attribution is not None
    issues: list[ConfigIssue] = []
    if len(attribution.metrics) > MAX_METRICS:
        issues.append(ConfigIssue(f"{path}.metrics", f"has {len(attribution.metrics)} metrics; a metric attribution allows at most {MAX_METRICS}"))
    for name in _duplicates([m.cloudwatch_name for m in attribution.metrics]):
        issues.append(ConfigIssue(f"{path}.metrics", f"metric name {name!r} appears twice (CloudWatch upper-cases names); make them unique"))
    interactions = group.datasets.interactions.schema_
    event_type = interactions.field("EVENT_TYPE")
    if "EVENT_TYPE" in SCHEMA_RULES[(group.domain, "interactions")].required:
        pass  # domain groups require it anyway; `_schema_issues` reports it
    elif event_type is None:
        issues.append(ConfigIssue(f"{group_path(path)}.datasets.interactions.schema.fields", "a metric attribution needs an `EVENT_TYPE` string field in the Interactions schema; add `- {name: EVENT_TYPE, type: string}`"))
    elif event_type.type is not AvroType.STRING:
        index = interactions.fields.index(event_type)
        issues.append(ConfigIssue(f"{group_path(path)}.datasets.interactions.schema.fields[{index}].type", f"`EVENT_TYPE` must be a string (metrics match it against eventType), not {event_type.type.value}; set `type: string`"))
    schemas = {"INTERACTIONS": group.datasets.interactions, "ITEMS": group.datasets.items}
    for index, metric in enumerate(attribution.metrics):
        mpath = f"{path}.metrics[{index}].expression"
        match = METRIC_EXPRESSION.match(metric.expression)
        if not match:
            issues.append(ConfigIssue(mpath, f"{metric.expression!r} is not SAMPLECOUNT() or SUM(INTERACTIONS.COLUMN) / SUM(ITEMS.COLUMN)"))
            continue
        if match["count"]:
            continue
        dataset_name, column = match["dataset"].upper(), match["column"]  # the model normalised it already
        if dataset_name not in schemas:
            issues.append(ConfigIssue(mpath, f"{dataset_name!r} is not a dataset a metric can read; use INTERACTIONS or ITEMS"))
            continue
        dataset = schemas[dataset_name]
        if dataset is None:
            issues.append(ConfigIssue(mpath, f"SUM({dataset_name}.{column}) needs an Items dataset; add datasets.items with a numeric `{column}` field"))
            continue
        field = dataset.schema_.field(column)
        if field is None:
            known = [f.name for f in dataset.schema_.fields if f.type.value in NUMERIC_TYPES]
            issues.append(ConfigIssue(mpath, f"the {dataset_name.title()} schema has no column {column!r}; numeric columns there: {', '.join(known) or 'none'}"))
        elif field.type.value not in NUMERIC_TYPES:
            issues.append(ConfigIssue(mpath, f"SUM needs a numeric column, but {column} is {field.type.value}; use int, long, float or double, or SAMPLECOUNT()"))
    return issues


def group_path(metric_attribution_path: str) -> str:
    return metric_attribution_path.rsplit(".", 1)[0]


def _dashboard_issues(config: AppConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    metric_names = {m.metric_name for g in config.dataset_groups if g.metric_attribution for m in g.metric_attribution.metrics}
    for index, derived in enumerate(config.dashboard.derived_metrics):
        unknown = sorted(set(METRIC_NAME_IN_EXPRESSION.findall(derived.expression)) - metric_names)
        if unknown:
            issues.append(ConfigIssue(f"dashboard.derivedMetrics[{index}].expression", f"refers to {', '.join(unknown)}, which no metric attribution defines; use metric names from {sorted(metric_names)}"))
        if not re.fullmatch(r"[A-Za-z0-9_+\-*/(). ]+", derived.expression):
            issues.append(ConfigIssue(f"dashboard.derivedMetrics[{index}].expression", "use metric names, numbers, + - * / and parentheses only"))
    for name in _duplicates([d.name for d in config.dashboard.derived_metrics]):
        issues.append(ConfigIssue("dashboard.derivedMetrics", f"derived metric {name!r} is defined twice"))
    groups = {g.name: g for g in config.dataset_groups}
    for index, alarm in enumerate(config.dashboard.alarms):
        path = f"dashboard.alarms[{index}]"
        group = groups.get(alarm.dataset_group)
        if group is None:
            issues.append(ConfigIssue(f"{path}.datasetGroup", f"no dataset group {alarm.dataset_group!r}; use one of {sorted(groups)}"))
            continue
        metrics = [m.metric_name for m in group.metric_attribution.metrics] if group.metric_attribution else []
        if group.metric_attribution is not None and not group.metric_attribution.cloudwatch:
            issues.append(ConfigIssue(f"{path}.datasetGroup", f"{group.name} does not publish metrics to CloudWatch (metricAttribution.cloudwatch is false), so the alarm would never see data; set `cloudwatch: true` or drop the alarm"))
        if alarm.metric not in metrics:
            issues.append(ConfigIssue(f"{path}.metric", f"{alarm.metric!r} is not a metric of {group.name}; use one of {metrics}"))
        if cloudwatch_name(alarm.source) not in {cloudwatch_name(s) for s in group.all_sources()}:
            issues.append(ConfigIssue(f"{path}.source", f"{alarm.source!r} is not a known source of {group.name}; add it to attributionSources or use one of {group.all_sources()}"))
    for name in _duplicates([a.name for a in config.dashboard.alarms]):
        issues.append(ConfigIssue("dashboard.alarms", f"alarm {name!r} is defined twice"))
    if config.dashboard.alarms and not config.dashboard.enabled:
        issues.append(ConfigIssue("dashboard.alarms", "alarms are declared but dashboard.enabled is false; enable the dashboard or drop the alarms"))
    if config.dashboard.ingestion_alarms.enabled and not config.dashboard.enabled:
        issues.append(ConfigIssue("dashboard.ingestionAlarms.enabled", "ingestion alarms are on but dashboard.enabled is false; enable the dashboard or set ingestionAlarms.enabled: false"))
    if config.dashboard.ingestion_alarms.enabled and not any(g.event_tracker for g in config.dataset_groups):
        issues.append(ConfigIssue("dashboard.ingestionAlarms.enabled", "no dataset group has an event tracker, so there are no PutEvents calls to watch; set `eventTracker: true` on a group or turn the alarms off"))
    return issues


