"""The root of a config file: the environment, its dataset groups and the names derived from them."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from config.models.attribution import MetricAttributionConfig
from config.models.base import ATTRIBUTION_SOURCE_PATTERN, SHORT_NAME_PATTERN, Strict
from config.models.dashboard import Dashboard
from config.models.datasets import Datasets
from config.models.experiments import Experiment
from config.models.serving import Campaign, Filter, Recommender, Solution
from lambdas.personalize_resources import address_book
from lambdas.personalize_resources.address_book import LONG_WAIT_MAX_HOURS


class DatasetGroup(Strict):
    name: str = Field(min_length=1, max_length=30, pattern=SHORT_NAME_PATTERN, description="Short name, unique in the config; part of every physical name in the group.")
    domain: Literal["ECOMMERCE", "VIDEO_ON_DEMAND"] | None = Field(default=None, description="ECOMMERCE or VIDEO_ON_DEMAND for a domain group (recommenders); empty for a custom group (solutions and campaigns only).")
    datasets: Datasets = Field(description="The group's datasets.")
    event_tracker: bool = Field(default=True, alias="eventTracker", description="Create an event tracker so applications can send PutEvents.")
    metric_attribution: MetricAttributionConfig | None = Field(default=None, alias="metricAttribution", description="The metrics Personalize attributes to each source.")
    recommenders: list[Recommender] = Field(default_factory=list, description="Domain recommenders (domain groups only).")
    attribution_sources: list[Annotated[str, Field(pattern=ATTRIBUTION_SOURCE_PATTERN, max_length=256)]] = Field(default_factory=list, alias="attributionSources", description="Other sources that send events (third-party widgets, e-mails), besides the recommenders' and campaigns'.")
    solutions: list[Solution] = Field(default_factory=list, description="Custom solutions, their trainings and campaigns.")
    filters: list[Filter] = Field(default_factory=list, description="Filters applications may pass with GetRecommendations.")
    experiments: list[Experiment] = Field(default_factory=list, description="Randomized experiments between the group's sources, assigned by AppConfig feature flags (docs/experiments.md).")
    timezone: str | None = Field(default=None, description="The shop's time zone (IANA name, e.g. America/Los_Angeles): `report` clusters the group's days by its local day (default UTC; `--timezone` overrides).")

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

    mode: Literal["S3_MANAGED", "KMS"] = Field(default="S3_MANAGED", description="S3_MANAGED (SSE-S3) or KMS (a customer managed key for the data, billed monthly).")
    kms_key_arn: str | None = Field(default=None, alias="kmsKeyArn", pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$", description="With mode KMS: use this existing key instead of creating one.")

    @model_validator(mode="after")
    def _arn_needs_kms(self) -> Encryption:
        if self.kms_key_arn and self.mode != "KMS":
            raise ValueError("kmsKeyArn is set but mode is S3_MANAGED; set mode: KMS to use the key, or drop kmsKeyArn")
        return self


class AppConfig(Strict):
    name: str = Field(min_length=1, max_length=20, pattern=SHORT_NAME_PATTERN, description="The environment's name: starts every stack and physical name, so environments can share an account.")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags for every taggable resource.")
    removal_policy: Literal["RETAIN", "DESTROY"] = Field(default="RETAIN", alias="removalPolicy", description="RETAIN keeps the buckets and their data on destroy; DESTROY empties and deletes them.")
    reuse_retained_buckets: bool = Field(default=False, alias="reuseRetainedBuckets", description="Use the buckets an earlier RETAIN destroy left instead of creating them (docs/storage-lifecycle.md).")
    encryption: Encryption = Field(default_factory=Encryption, description="How the data bucket is encrypted.")
    noncurrent_version_days: int = Field(default=30, ge=1, le=3650, alias="noncurrentVersionDays", description="Days the data bucket keeps replaced object versions.")
    long_wait_timeout_hours: float = Field(default=8, gt=0, le=LONG_WAIT_MAX_HOURS, alias="longWaitTimeoutHours", description="How long a deploy waits for an import, a training or a recommender, and a destroy for the teardown (at most 12, CloudFormation's WaitCondition limit). The old name `recommenderReadyTimeoutHours` is still read, with a warning.")
    recommender_poll_minutes: int = Field(default=5, ge=1, le=60, alias="recommenderPollMinutes", description="How often the deploy checks a recommender's status.")
    dataset_groups: Annotated[list[DatasetGroup], Field(min_length=1)] = Field(alias="datasetGroups", description="The Personalize dataset groups of the environment.")
    dashboard: Dashboard = Field(default_factory=Dashboard, description="The CloudWatch dashboard, alarms and report queries.")
    external_buckets: list[str] = Field(default_factory=list, alias="externalBuckets", description="Buckets outside this app that a `dataImport.location` (s3://...) reads. The stack cannot edit their policies: each owner adds the bucket policy printed at synth (docs/iam-authorization.md).")

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
