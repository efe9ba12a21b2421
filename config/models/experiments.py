"""A randomized experiment between a dataset group's sources (docs/experiments.md)."""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

from pydantic import Field

from config.feature_flags import MAX_VARIANTS
from config.models.base import SHORT_NAME_PATTERN, Strict


class Arm(Strict):
    source: str = Field(min_length=1, description="The source users of this arm get: a recommender's or campaign's attributionSource, or one of `attributionSources`.")
    weight: int = Field(ge=1, le=99, description="Percent of users in this arm; the weights of an experiment add up to 100.")


class Experiment(Strict):
    name: str = Field(min_length=1, max_length=40, pattern=SHORT_NAME_PATTERN, description="The AppConfig flag key: starts with a letter, unique in the dataset group.")
    arms: Annotated[list[Arm], Field(min_length=2, max_length=MAX_VARIANTS)] = Field(description="The arms in order; the first is the control.")
    unit: Literal["userId"] = Field(default="userId", description="What the split hashes and the analysis counts (the PutEvents userId).")
    start: datetime.date = Field(description="First day analysed.")
    end: datetime.date | None = Field(default=None, description="Last day analysed; required with `winner`.")
    winner: str | None = Field(default=None, description="With `end`: the arm everyone gets from then on (a single default variant).")
    primary_metric: str = Field(alias="primaryMetric", min_length=1, description="The metricAttribution metric the verdict is about.")
    guardrail_metrics: list[str] = Field(default_factory=list, alias="guardrailMetrics", description="Other metricAttribution metrics that must not get worse.")
    minimum_detectable_effect: float = Field(alias="minimumDetectableEffect", gt=0, le=10, description="Relative lift the test is sized for (0.05 = +5 %); also the scale of the always-valid interval.")

    @property
    def control(self) -> Arm:
        return self.arms[0]

    @property
    def weights(self) -> dict[str, int]:
        return {arm.source: arm.weight for arm in self.arms}
