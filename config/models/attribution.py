"""Metric attribution: the metrics Personalize attributes to each event source."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator

from config.models.base import Strict
from lambdas.personalize_resources.address_book import cloudwatch_name


METRIC_EXPRESSION = re.compile(
    r"^\s*(?:(?P<count>SAMPLECOUNT\(\s*\))|SUM\(\s*(?P<dataset>[A-Za-z_]+)\.(?P<column>[A-Za-z_][A-Za-z0-9_]*)\s*\))\s*$"
)


class Metric(Strict):
    metric_name: str = Field(alias="metricName", min_length=1, max_length=256, pattern=r"^[A-Za-z][A-Za-z0-9_]*$", description="The metric's name; Personalize publishes it to CloudWatch upper-cased (countViews -> COUNTVIEWS).")
    event_type: str = Field(alias="eventType", min_length=1, max_length=256, description="The interactions' EVENT_TYPE the metric counts or sums (e.g. View, Purchase).")
    expression: str = Field(min_length=1, max_length=256, description="`SAMPLECOUNT()` or `SUM(DATASET.COLUMN)` with DATASET INTERACTIONS or ITEMS and a numeric COLUMN.")

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
    metrics: Annotated[list[Metric], Field(min_length=1)] = Field(description="At most 10 metrics; changing them updates the metric attribution in place.")
    s3_output: bool = Field(default=True, alias="s3Output", description="Write a report to the data bucket's metric-report prefix after each bulk import.")
    cloudwatch: bool = Field(default=True, description="Chart the metrics on the dashboard (Personalize publishes PutEvents and incremental imports to CloudWatch).")
