"""What the report's analysis finds: intervals, per-source figures, lifts, and its settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Interval:
    estimate: float | None
    low: float | None = None
    high: float | None = None
    note: str | None = None
    se_log: float | None = None  # standard error of log(estimate) (delta method), for p-values
    df: int | None = None  # degrees of freedom of its t quantile
    block_days: int | None = None  # consecutive days per independent block (None: hours)
    warnings: list[str] = field(default_factory=list)



@dataclass
class Pause:
    """Hours inside a source's live period with no rows where its usual activity makes that
    improbable (a stopped recommender, a disabled widget): not counted as live time."""

    start: datetime
    end: datetime
    hours: float
    expected_hours: float  # hours with its rows expected at its usual activity



@dataclass
class Comparison:
    """Source vs baseline over the hours both were live."""

    baseline: str
    window_start: datetime | None
    window_end: datetime | None
    clusters: int
    traffic_hours: float
    rate_lift: Interval
    per_1000_lift: Interval | None = None
    warnings: list[str] = field(default_factory=list)
    p_value: float | None = None  # of rate lift = 1, from the delta method
    p_adjusted: float | None = None  # Holm-adjusted over every lift of the report
    adjusted: Interval | None = None  # simultaneous (Bonferroni) interval of the rate lift



@dataclass
class SourceFigures:
    source: str
    total: float
    volume_share: float | None
    live_start: datetime
    live_end: datetime
    traffic_hours: float  # hours in which any source had rows, while this one was live
    buckets_with_data: int
    per_hour: Interval  # per clock hour live (Settings.rate_hours "active": per hour of traffic)
    exposure: float | None = None
    per_1000: Interval | None = None
    is_baseline: bool = False
    lift: Comparison | None = None
    live_hours: float = 0.0  # clock hours live: its period minus pauses
    pauses: list[Pause] = field(default_factory=list)



@dataclass
class RatesOverTime:
    period: str  # "hour" or "day"
    starts: list[datetime]
    per_hour: dict[str, list[float | None]]  # None: the source was not live or no traffic flowed



@dataclass
class MetricReport:
    metric: str
    event_types: list[str]
    math_functions: list[str]
    total: float
    first_hour: datetime
    last_hour: datetime
    baseline: str | None
    baseline_note: str | None
    sources: list[SourceFigures]
    rates_over_time: RatesOverTime



@dataclass
class DerivedFigures:
    source: str
    value: Interval



@dataclass
class DerivedReport:
    name: str
    expression: str
    label: str
    sources: list[DerivedFigures]
    note: str | None = None



@dataclass
class Exposure:
    """Recommendations served by a source: per hour (CloudWatch) or one total (impressions)."""

    origin: str
    hourly: Mapping[int, float] | None = None  # hour start (epoch s) -> count
    total: float | None = None



@dataclass
class DerivedMetric:
    name: str
    expression: str
    label: str = ""



@dataclass
class Settings:
    baseline: str | None = None
    ci: str = "delta"  # or "bootstrap"
    block: str = "day"  # or "hour"
    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0
    per: str = "auto"
    metrics: Sequence[str] = ()
    rate_hours: str = "clock"  # or "active": divide by the hours in which any source had rows
    timezone: str | None = None  # the shop's day for the day clusters (IANA name); None: UTC
    adjust: str = "holm"  # multiple comparisons over every lift of the report, or "none"



@dataclass
class Analysis:
    metrics: list[MetricReport]
    derived: list[DerivedReport]
    method: str
    comparisons: int = 0  # lifts in the multiple-comparisons family
