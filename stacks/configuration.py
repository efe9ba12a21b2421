"""Moved to config; removed once the importers use it."""

from config import *  # noqa: F403
from config import auto_training_days, auto_training_default_days, PATTERN_HINTS, SCHEMA_RULES  # noqa: F401,E402
