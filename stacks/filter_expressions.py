"""Moved to config.filters; removed once the importers use it."""

from config.filters import *  # noqa: F403
