"""The handlers' Lambda environment: its variable names and their typed reading, in one place.

The constructs build a ``HandlerEnvironment`` and give ``to_variables()`` to the function; the
handlers read ``HandlerEnvironment.current()``. A variable is left out when its field is None.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import HandlerError

STATE_MACHINE_ENV = "POLLER_STATE_MACHINE_ARN"
POLLER_TIMEOUT_ENV = "POLLER_TIMEOUT_SECONDS"
WAIT_SECONDS_ENV = "POLLER_WAIT_SECONDS"


@dataclass(frozen=True)
class HandlerEnvironment:
    # The poller's state machine, for the handlers that start it.
    state_machine_arn: str | None = None
    # The poll step's limit: past it a wait is given up (longWaitTimeoutHours).
    poller_timeout_seconds: int | None = None
    # The recommender handler's wait between two polls (recommenderPollMinutes).
    wait_seconds: int | None = None

    def to_variables(self) -> dict[str, str]:
        values = {
            STATE_MACHINE_ENV: self.state_machine_arn,
            POLLER_TIMEOUT_ENV: self.poller_timeout_seconds,
            WAIT_SECONDS_ENV: self.wait_seconds,
        }
        return {name: str(value) for name, value in values.items() if value is not None}

    @classmethod
    def from_variables(cls, variables: Mapping[str, str]) -> HandlerEnvironment:
        return cls(
            state_machine_arn=variables.get(STATE_MACHINE_ENV) or None,
            poller_timeout_seconds=_seconds(variables, POLLER_TIMEOUT_ENV),
            wait_seconds=_seconds(variables, WAIT_SECONDS_ENV),
        )

    @classmethod
    def current(cls) -> HandlerEnvironment:
        """The running function's environment (read at each call: tests set variables)."""
        return cls.from_variables(os.environ)

    def required_state_machine_arn(self) -> str:
        if not self.state_machine_arn:
            raise HandlerError(f"environment variable {STATE_MACHINE_ENV} is not set")
        return self.state_machine_arn


def _seconds(variables: Mapping[str, str], name: str) -> int | None:
    value = variables.get(name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise HandlerError(f"environment variable {name} must be whole seconds, got {value!r}") from None
