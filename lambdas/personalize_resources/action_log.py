"""One JSON line per handler action on the ``personalize_resources`` logger."""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger("personalize_resources")
logger.setLevel(logging.INFO)


def log_action(action: str, **fields: Any) -> None:
    logger.info(json.dumps({"action": action, **fields}, default=str, sort_keys=True))
