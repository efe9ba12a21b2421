"""A discrete-event kernel on a simulated clock: processes are generators that yield
``Sleep(seconds)`` or a ``Future`` to wait for; nothing waits in real time."""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

START = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


class Clock:
    """The simulated clock of the simulator's kernel and of the handler tests' fakes."""

    def __init__(self) -> None:
        self.now = START

    def advance(self, seconds: float = 0, *, minutes: float = 0, hours: float = 0) -> None:
        self.now += dt.timedelta(seconds=seconds, minutes=minutes, hours=hours)

    def epoch(self) -> float:
        return self.now.timestamp()

    @property
    def minutes(self) -> float:
        return (self.now - START).total_seconds() / 60


@dataclass(frozen=True)
class Sleep:
    seconds: float


class Future:
    def __init__(self, label: str = "") -> None:
        self.label = label
        self.done = False
        self.value: Any = None
        self._waiters: list[Callable[[], None]] = []

    def resolve(self, value: Any = None) -> None:
        if self.done:
            return
        self.done, self.value = True, value
        for wake in self._waiters:
            wake()
        self._waiters.clear()


Process = Generator[Any, Any, Any]


class Kernel:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._queue: list[tuple[dt.datetime, int, Callable[[], None]]] = []
        self._sequence = itertools.count()

    def at(self, when: dt.datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self._queue, (max(when, self.clock.now), next(self._sequence), action))

    def after(self, seconds: float, action: Callable[[], None]) -> None:
        self.at(self.clock.now + dt.timedelta(seconds=seconds), action)

    def spawn(self, process: Process) -> Future:
        """Run ``process`` from now on; the returned future resolves with its return value."""
        finished = Future()
        self.at(self.clock.now, lambda: self._step(process, finished, None))
        return finished

    def _step(self, process: Process, finished: Future, value: Any) -> None:
        try:
            waited = process.send(value)
        except StopIteration as stop:
            finished.resolve(stop.value)
            return
        if isinstance(waited, Sleep):
            self.after(waited.seconds, lambda: self._step(process, finished, None))
        elif isinstance(waited, Future):
            if waited.done:
                self.at(self.clock.now, lambda: self._step(process, finished, waited.value))
            else:
                waited._waiters.append(lambda: self.at(self.clock.now, lambda: self._step(process, finished, waited.value)))
        else:
            raise TypeError(f"a process yielded {waited!r}; yield Sleep(...) or a Future")

    def run_until(self, future: Future, limit_hours: float = 48) -> None:
        deadline = self.clock.now + dt.timedelta(hours=limit_hours)
        while not future.done:
            if not self._queue:
                raise RuntimeError(f"deadlock: nothing scheduled and {future.label or 'the operation'} unfinished")
            when, _, action = heapq.heappop(self._queue)
            if when > deadline:
                raise RuntimeError(f"{future.label or 'the operation'} unfinished after {limit_hours} simulated hours")
            if when > self.clock.now:
                self.clock.now = when
            action()


def drain(kernel: Kernel, limit_hours: float = 24) -> None:
    """Let what is still running (pollers, timers) finish, up to ``limit_hours`` from now."""
    done = Future("drain")
    kernel.after(limit_hours * 3600, done.resolve)
    while kernel._queue and not done.done:
        when, _, action = heapq.heappop(kernel._queue)
        if when > kernel.clock.now:
            kernel.clock.now = when
        action()


def wait_any(kernel: Kernel, *futures: Future) -> Future:
    first = Future()
    for future in futures:
        if future.done:
            first.resolve(future)
        else:
            future._waiters.append(lambda f=future: first.resolve(f))
    return first
