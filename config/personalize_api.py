"""Facts read from botocore's Personalize service model, so the API is not re-typed here."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from botocore.session import get_session


@cache
def personalize_model() -> Any:
    return get_session().get_service_model("personalize")


def _scheduling_expression_doc(pattern: str) -> re.Match[str]:
    """A phrase of botocore's documentation of AutoTrainingConfig.schedulingExpression."""
    doc = personalize_model().shape_for("AutoTrainingConfig").members["schedulingExpression"].documentation
    found = re.search(pattern, doc)
    if found is None:  # the documentation changed: fail loudly rather than guess
        raise RuntimeError(f"botocore's AutoTrainingConfig.schedulingExpression no longer documents {pattern!r}")
    return found


@cache
def auto_training_days() -> tuple[int, int]:
    """The days a `rate(N days)` auto-training schedule may name ("specify a number between 1
    and 30"); the shape's pattern alone would accept any number."""
    found = _scheduling_expression_doc(r"number between (\d+) and (\d+)")
    return int(found[1]), int(found[2])


@cache
def auto_training_default_days() -> int:
    """Days between automatic trainings without a schedule ("The default is every 7 days")."""
    return int(_scheduling_expression_doc(r"default is every (\d+) days")[1])
