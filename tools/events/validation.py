"""PutEvents requests checked against botocore's installed `personalize-events` model.

`validate_parameters` checks types, required members and minimums; the service also enforces
maximum lengths, list sizes and patterns from the same model (botocore leaves those to the
server), so they are checked here too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import botocore.session
from botocore.model import Shape
from botocore.validate import ParamValidationError, validate_parameters

MAX_EVENTS_PER_CALL = 10  # PutEvents eventList: 1..10 items
MAX_IMPRESSIONS = 25  # PutEvents impression list: 1..25 item ids
# The service's pattern for eventAttributionSource (printable ASCII, not all spaces).
ATTRIBUTION_SOURCE_PATTERN = re.compile(r"^[\x20-\x7E]*[\x21-\x7E]+[\x20-\x7E]*$")


class PutEventsValidator:
    def __init__(self, session: botocore.session.Session | None = None):
        service = (session or botocore.session.get_session()).get_service_model("personalize-events")
        self.input_shape = service.operation_model("PutEvents").input_shape
        self.api_version = service.api_version

    def problems(self, request: dict[str, Any]) -> list[str]:
        problems: list[str] = []
        try:
            validate_parameters(request, self.input_shape)
        except ParamValidationError as exc:
            problems.extend(str(exc.kwargs.get("report", exc)).splitlines())
        problems.extend(_limit_problems(request, self.input_shape, "PutEvents"))
        return problems


def _limit_problems(value: Any, shape: Shape, path: str) -> Iterator[str]:
    # Values of sensitive members (userId, itemId, properties) are not echoed back.
    metadata = shape.metadata
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                yield from _limit_problems(value[name], member, f"{path}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        if "max" in metadata and len(value) > metadata["max"]:
            yield f"{path}: {len(value)} entries, at most {metadata['max']} allowed"
        for index, entry in enumerate(value):
            yield from _limit_problems(entry, shape.member, f"{path}[{index}]")
    elif shape.type_name == "string" and isinstance(value, str):
        if "max" in metadata and len(value) > metadata["max"]:
            yield f"{path}: {len(value)} characters, at most {metadata['max']} allowed"
        pattern = metadata.get("pattern")
        if pattern and not re.search(pattern, value):
            yield f"{path}: does not match the pattern {pattern}"
