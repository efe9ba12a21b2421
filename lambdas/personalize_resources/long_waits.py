"""The poller's Lambda step: which module follows each kind of long wait.

poller.py holds the machinery every kind uses (start, ``waiting``, ``finish``, the failure
signal); the kinds' modules import it. This module sits above both, so the imports run one way:
long_waits → import_job, recommender_poll (→ recommender), solution_version → poller.

Lambda handler: ``poll_step``. ``POLLER_API_OPERATIONS`` is the union of the kinds' operations
(the poll role's policy).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import import_job, poller, recommender, recommender_poll, solution_version, wait_condition

KINDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    recommender.RESOURCE_TYPE: recommender_poll.poll,
    import_job.RESOURCE_TYPE: import_job.poll,
    solution_version.RESOURCE_TYPE: solution_version.poll,
}
POLLER_API_OPERATIONS: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            *recommender_poll.POLL_API_OPERATIONS,
            *import_job.POLL_API_OPERATIONS,
            *solution_version.POLL_API_OPERATIONS,
            *poller.SIGNAL_ONLY_OPERATIONS,
        )
    )
)


def poll_step(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """One step: look at the resource, act at most once, never sleep. Returns the state with
    ``finished`` (the state machine's Choice), ``status`` and ``polls``."""
    state = poller.begin_step(event)
    # A missing kind is a recommender: executions started before kinds existed.
    kind = state.get("kind", recommender.RESOURCE_TYPE)
    follow = KINDS.get(kind)
    if follow is None:
        return poller.finish(state, "UNKNOWN", wait_condition.FAILURE, f"the poller cannot follow resources of kind {kind!r}")
    return follow(state)
