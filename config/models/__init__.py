"""The config models by concern; pydantic checks each field alone (types, patterns, limits).

Every field has `Field(description=...)`: tools/config_reference.py generates docs/configuration.md
and config/schema.json from `AppConfig`, descriptions included.
"""

from __future__ import annotations

from config.models.app import AppConfig, DatasetGroup, Encryption
from config.models.attribution import METRIC_EXPRESSION, Metric, MetricAttributionConfig
from config.models.base import ATTRIBUTION_SOURCE_PATTERN, SHORT_NAME_PATTERN, Strict
from config.models.dashboard import Alarm, Dashboard, DerivedMetric, IngestionAlarms
from config.models.datasets import AvroType, DataImport, DatasetConfig, Datasets, DatasetSchema, ImportMode, SchemaField
from config.models.experiments import Arm, Experiment
from config.models.serving import AutoTraining, Campaign, Filter, ItemExploration, Recommender, Solution, SolutionEvent, Training

__all__ = [
    "ATTRIBUTION_SOURCE_PATTERN",
    "METRIC_EXPRESSION",
    "SHORT_NAME_PATTERN",
    "Alarm",
    "AppConfig",
    "Arm",
    "AutoTraining",
    "AvroType",
    "Campaign",
    "Dashboard",
    "DataImport",
    "DatasetConfig",
    "DatasetGroup",
    "DatasetSchema",
    "Datasets",
    "DerivedMetric",
    "Encryption",
    "Experiment",
    "Filter",
    "ImportMode",
    "IngestionAlarms",
    "ItemExploration",
    "Metric",
    "MetricAttributionConfig",
    "Recommender",
    "SchemaField",
    "Solution",
    "SolutionEvent",
    "Strict",
    "Training",
]
