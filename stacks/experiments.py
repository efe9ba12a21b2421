"""Moved to config.experiments; removed once the importers use it."""

from config.experiments import *  # noqa: F403
