"""Moved to config.feature_flags; removed once the importers use it."""

from config.feature_flags import *  # noqa: F403
