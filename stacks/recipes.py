"""Moved to config.recipes; removed once the importers use it."""

from config.recipes import *  # noqa: F403
