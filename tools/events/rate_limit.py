"""Pacing: at most `rate` events in any one-second window, spread evenly, no opening burst.

A token bucket that starts full lets `capacity + rate` events through in the first second
(`--rate 50` sent 100). Here a log of the calls of the last second is the guarantee: a call
may carry only as many events as the window has room for. Calls are spaced by their events'
share of a second, so events spread over the second instead of bunching at its start.

Sessions end in batches of any size, so the window often has room for part of the next batch:
waiting for room for all of it wastes rate, sending any part that fits multiplies the calls.
A call therefore carries the whole batch, or once the window has room for MIN_PART events,
that part (the sender sends the rest next). benchmarks/send_events_rate_benchmark.py measures
the rate reached, the calls per batch and the fullest one-second window.

Below one event per second the window is `1 / rate` seconds long and holds one event.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

# Added to computed wake-up times so float rounding never lands a call a hair inside the
# window it must leave (and never asks for a sleep too short to move the clock).
_EPSILON = 1e-6
MIN_PART = 5  # events: half a full PutEvents batch


class RateLimiter:
    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not rate > 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.window = max(1.0, 1.0 / rate)
        self.allowance = rate * self.window  # events allowed in one window (>= 1)
        self._clock = clock
        self._sleep = sleep
        self._log: deque[tuple[float, int]] = deque()  # (time, events) of the calls in the window
        self._in_window = 0
        self._next_time: float | None = None

    def acquire(self, wanted: int) -> tuple[int, float]:
        """Wait until a call may go; return (events it may carry, 1..wanted; seconds waited)."""
        if wanted < 1:
            raise ValueError("a call carries at least one event")
        started = now = self._clock()
        while True:
            target = now if self._next_time is None else max(now, self._next_time)
            while self._log and target - self._log[0][0] >= self.window:
                self._in_window -= self._log.popleft()[1]
            room = self.allowance - self._in_window
            if room < min(wanted, MIN_PART, self.allowance) - _EPSILON:
                target = max(target, self._log[0][0] + self.window + _EPSILON)
            if target <= now:
                break
            self._sleep(target - now)
            now = self._clock()
        allowed = min(wanted, int(room + _EPSILON))
        self._log.append((now, allowed))
        self._in_window += allowed
        self._next_time = now + allowed / self.rate
        return allowed, now - started
