"""Typed, validated configuration: one YAML file per environment (the files beside this package).

Structure and types are checked by pydantic (config.models; unknown keys are errors, with a
"did you mean" hint); rules that span fields (schemas vs. metrics, recipes vs. domain, name
lengths once prefixed) by config.rules. Every problem becomes a `ConfigIssue` that names the
config path (e.g. ``datasetGroups[0].metricAttribution.metrics[2].expression``), what is wrong
and how to fix it; `load_config` raises one `ConfigError` holding all of them.
"""

from __future__ import annotations

from config.errors import ConfigError, ConfigIssue
from config.loading import PATTERN_HINTS, RENAMED_KEYS, ConfigDeprecationWarning, load_config, parse_config
from config.models import *  # noqa: F403 - the models are the package's public names
from config import models
from config.personalize_api import auto_training_days, auto_training_default_days
from config.rules.solutions import known_event_types
from config.schema_rules import DATASET_TYPE_NAMES, SCHEMA_RULES

__all__ = [
    "ConfigDeprecationWarning",
    "ConfigError",
    "ConfigIssue",
    "DATASET_TYPE_NAMES",
    "PATTERN_HINTS",
    "RENAMED_KEYS",
    "SCHEMA_RULES",
    "auto_training_days",
    "auto_training_default_days",
    "known_event_types",
    "load_config",
    "parse_config",
]
__all__ += models.__all__
