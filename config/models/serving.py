"""What serves recommendations: recommenders (domain groups), solutions with their trainings and
campaigns (custom groups), and filters."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from config.models.base import ATTRIBUTION_SOURCE_PATTERN, SHORT_NAME_PATTERN, Strict
from config.personalize_api import auto_training_default_days
from lambdas.personalize_resources.address_book import RECIPE_ARN_PREFIX


class Recommender(Strict):
    name: str = Field(min_length=1, max_length=40, pattern=SHORT_NAME_PATTERN, description="Short name, unique in the dataset group; the physical name is `<name>-<group>-<this>-<recipe hash>`.")
    recipe: str = Field(description="A use case of the group's domain, e.g. `aws-ecomm-recommended-for-you`, or its recipe ARN. A new recipe replaces the recommender.")
    attribution_source: str | None = Field(default=None, alias="attributionSource", pattern=ATTRIBUTION_SOURCE_PATTERN, max_length=256, description="The eventAttributionSource applications send with events that follow this recommender's results (default: the name with '-' as '_').")
    state: Literal["ACTIVE", "INACTIVE"] = Field(default="ACTIVE", description="ACTIVE serves (and bills its request floor every hour); INACTIVE stops it: no charge, no retraining.")
    recommender_config: dict[str, Any] = Field(default_factory=dict, alias="recommenderConfig", description="CreateRecommender's recommenderConfig as the API spells it (checked against botocore's model), e.g. `minRecommendationRequestsPerSecond` (the billed floor, default 1), `enableMetadataWithRecommendations`, `trainingDataConfig`.")

    @property
    def recipe_arn(self) -> str:
        return self.recipe if self.recipe.startswith("arn:") else RECIPE_ARN_PREFIX + self.recipe

    @property
    def source_name(self) -> str:
        """The eventAttributionSource applications send for this recommender's results."""
        return self.attribution_source or self.name.replace("-", "_")


class SolutionEvent(Strict):
    """One entry of solutionConfig.eventsConfig.eventParametersList (v2 recipes)."""

    event_type: str = Field(alias="eventType", min_length=1, max_length=256, description="An event type of the interactions data.")
    event_value_threshold: float | None = Field(default=None, alias="eventValueThreshold", description="Only events of this type with EVENT_VALUE at or above it count.")
    weight: float = Field(ge=0, le=1, description="The event type's weight in training, 0 to 1.")  # botocore EventTypeWeight: 0..1

    def to_api(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"eventType": self.event_type, "weight": self.weight}
        if self.event_value_threshold is not None:
            entry["eventValueThreshold"] = self.event_value_threshold
        return entry


class AutoTraining(Strict):
    """Personalize's own periodic retraining; off by default so deployments decide what is trained (and billed)."""

    enabled: bool = Field(default=False, description="Let Personalize train new versions on a schedule (each training bills training hours).")
    schedule: str | None = Field(default=None, pattern=r"^rate\(\d+ days?\)$", max_length=16, description="`rate(N days)` with N from 1 to 30 (botocore's AutoTrainingConfig); default every 7 days.")

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

    version: str = Field(default="1", pattern=r"^[A-Za-z0-9._-]{1,20}$", description="Any string of up to 20 letters, digits, '.', '_' or '-': a new value trains a new solution version at deploy.")
    mode: Literal["FULL", "UPDATE"] = Field(default="FULL", description="FULL trains on all data; UPDATE (User-Personalization and similar recipes, after a FULL version) updates the latest version.")


class ItemExploration(Strict):
    """campaignConfig.itemExplorationConfig (aws-user-personalization): strings in the API."""

    exploration_weight: float | None = Field(default=None, alias="explorationWeight", ge=0, le=1, description="How much to recommend new or less relevant items, 0 to 1.")
    exploration_item_age_cut_off: int | None = Field(default=None, alias="explorationItemAgeCutOff", ge=1, description="Days since an item's CREATION_TIMESTAMP within which it counts as new.")

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

    name: str = Field(min_length=1, max_length=40, pattern=SHORT_NAME_PATTERN, description="Short name, unique in the dataset group; a new name replaces the campaign.")
    min_provisioned_tps: int = Field(default=1, ge=1, alias="minProvisionedTPS", description="Billed floor of transactions per second, every hour the campaign exists.")
    item_exploration: ItemExploration | None = Field(default=None, alias="itemExploration", description="campaignConfig.itemExplorationConfig (aws-user-personalization only).")
    metadata: bool = Field(default=False, description="Return item metadata with recommendations (campaignConfig.enableMetadataWithRecommendations; billed extra).")  # campaignConfig.enableMetadataWithRecommendations (billed extra)
    sync_with_latest_solution_version: bool = Field(default=False, alias="syncWithLatestSolutionVersion", description="Serve the solution's latest version automatically (campaignConfig.syncWithLatestSolutionVersion).")
    attribution_source: str | None = Field(default=None, alias="attributionSource", pattern=ATTRIBUTION_SOURCE_PATTERN, max_length=256, description="The eventAttributionSource applications send with events that follow this campaign's results (default: the name with '-' as '_').")
    enabled: bool = Field(default=True, description="false deletes the campaign (the only way to stop its hourly charge) and keeps its source known.")

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

    name: str = Field(min_length=1, max_length=30, pattern=SHORT_NAME_PATTERN, description="Short name, unique in the dataset group.")
    recipe: str = Field(description="A custom recipe, e.g. `aws-user-personalization`, `aws-similar-items`, or its ARN.")
    event_type: str | None = Field(default=None, alias="eventType", min_length=1, max_length=256, description="Train on this event type only.")
    event_value_threshold: float | None = Field(default=None, alias="eventValueThreshold", description="Train on events with EVENT_VALUE at or above it only.")
    events: list[SolutionEvent] = Field(default_factory=list, description="Event types and weights for v2 recipes (solutionConfig.eventsConfig).")
    auto_training: AutoTraining = Field(default_factory=AutoTraining, alias="autoTraining", description="Personalize's own periodic retraining.")
    perform_hpo: bool = Field(default=False, alias="performHPO", description="Tune hyperparameters while training (more training hours).")
    training: Training = Field(default_factory=Training, description="What a deploy trains.")
    campaigns: list[Campaign] = Field(default_factory=list, description="Campaigns serving the solution's trained version.")

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
    name: str = Field(min_length=1, max_length=30, pattern=SHORT_NAME_PATTERN, description="Short name, unique in the dataset group.")
    expression: str = Field(min_length=1, max_length=2500, description='A Personalize filter expression, e.g. `EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Purchase")`; checked against the group\'s schemas.')
