"""The CloudWatch dashboard: derived metrics, alarms on attribution metrics, ingestion alarms."""

from __future__ import annotations

from pydantic import Field

from config.models.base import SHORT_NAME_PATTERN, Strict


class DerivedMetric(Strict):
    """Metric math per attribution source, e.g. ``sumMargin / countViews``."""

    name: str = Field(pattern=r"^[a-z][A-Za-z0-9_]*$", max_length=64, description="Name of the derived metric on the dashboard.")
    expression: str = Field(min_length=1, max_length=256, description="Metric math over the metric names, e.g. `sumMargin / countViews`, per source.")
    label: str | None = Field(default=None, description="Label on the dashboard (default: the name).")


class Alarm(Strict):
    """Alarm when a source's metric stays at or below a threshold for N 15-minute periods."""

    name: str = Field(pattern=SHORT_NAME_PATTERN, max_length=40, description="Alarm name suffix; the alarm is `<name>-<this>`.")
    dataset_group: str = Field(alias="datasetGroup", description="The dataset group whose metric it watches.")
    metric: str = Field(description="A metricName of that group's metric attribution.")
    source: str = Field(description="The attribution source to watch.")
    threshold: float = Field(default=0.0, description="Alarm when the metric stays at or below this value.")
    periods: int = Field(default=4, ge=1, le=96, description="For this many consecutive 15-minute periods (1 to 96).")


class IngestionAlarms(Strict):
    """PutEvents error alarms, one per error class (4xx, 5xx) and dataset group with an event tracker.

    Off by default: the default environment is a demo whose alarms would notify nobody, and
    alarms bring the encrypted topic with its customer managed key (about 1 USD a month).
    """

    enabled: bool = Field(default=False, description="Create the PutEvents 4xx and 5xx alarms of every group with an event tracker.")
    threshold: int = Field(default=1, ge=1, le=1_000_000, description="Errors per 5-minute period that count as a breach.")  # errors per 5-minute period that count as a breach
    periods: int = Field(default=1, ge=1, le=288, description="Consecutive breaching 5-minute periods before the alarm fires.")  # consecutive breaching 5-minute periods before the alarm fires


class Dashboard(Strict):
    enabled: bool = Field(default=True, description="Create the CloudWatch dashboard stack (billed monthly).")
    derived_metrics: list[DerivedMetric] = Field(default_factory=list, alias="derivedMetrics", description="Metric math shown per source.")
    alarms: list[Alarm] = Field(default_factory=list, description="Alarms on attribution metrics.")
    ingestion_alarms: IngestionAlarms = Field(default_factory=IngestionAlarms, alias="ingestionAlarms", description="PutEvents error alarms.")
    alarm_email: str | None = Field(default=None, alias="alarmEmail", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description="E-mail address subscribed to the alarm topic.")
    # Glue table + Athena workgroup + saved queries over the S3 metric reports; free while unused.
    report_queries: bool = Field(default=True, alias="reportQueries", description="Glue table, Athena workgroup and saved queries over the S3 metric reports (free while unused; Athena bills per TB scanned).")

    def any_alarms(self) -> bool:
        return bool(self.alarms) or self.ingestion_alarms.enabled
