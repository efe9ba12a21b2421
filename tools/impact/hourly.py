"""The hourly (source x hour) matrices of a report, the shop's days, and when each source was live."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from tools.impact.figures import Pause

BUCKETS_PER_HOUR = 4
HOUR = 3600
DAY = 86_400
PAUSE_FALSE_ALARM = 0.01  # chance that a source live throughout shows any pause


class HourlyData:
    """Dense (source x hour) matrices per metric from the hourly_by_source / traffic_by_hour results."""

    def __init__(
        self,
        hourly: Mapping[str, np.ndarray],
        traffic: Mapping[str, np.ndarray],
        *,
        timezone: str | None = None,
        whole_days: bool = True,
    ):
        hour_starts = np.asarray(traffic["hour_start"], dtype=np.int64)
        if not len(hour_starts):
            raise ValueError("no rows")
        self.first, last = int(hour_starts.min()), int(hour_starts.max())
        if whole_days:
            # The report's period is whole days of the shop (the interval's clusters): a quiet
            # first morning or last evening is part of the clock time, not cut off.
            self.first, last = _day_edges(self.first, last, timezone)
        self.hours = (last - self.first) // HOUR + 1
        self.hour_starts = self.first + HOUR * np.arange(self.hours, dtype=np.int64)
        self.traffic_hours = np.zeros(self.hours)
        self.traffic_hours[(hour_starts - self.first) // HOUR] = np.asarray(traffic["buckets"]) / BUCKETS_PER_HOUR
        metrics, rows_metric = np.unique(np.asarray(hourly["metric"], dtype=object), return_inverse=True)
        sources, rows_source = np.unique(np.asarray(hourly["source"], dtype=object), return_inverse=True)
        self.sources = [str(name) for name in sources]
        rows_hour = (np.asarray(hourly["hour_start"], dtype=np.int64) - self.first) // HOUR
        totals = np.asarray(hourly["total"], dtype=np.float64)
        buckets = np.asarray(hourly["buckets"], dtype=np.int64)
        self.values: dict[str, np.ndarray] = {}
        self.buckets: dict[str, np.ndarray] = {}
        shape = (len(self.sources), self.hours)
        for position, metric in enumerate(metrics):
            rows = rows_metric == position
            cells = np.ravel_multi_index((rows_source[rows], rows_hour[rows]), shape)
            size = shape[0] * shape[1]
            self.values[str(metric)] = np.bincount(cells, weights=totals[rows], minlength=size).reshape(shape)
            self.buckets[str(metric)] = np.bincount(cells, weights=buckets[rows], minlength=size).reshape(shape).astype(np.int64)
        self.timezone = timezone
        self.local_day = _local_days(self.hour_starts, timezone)
        # Live time of each source: the report's hours minus the runs without its rows that its
        # usual activity makes improbable (not launched yet, stopped, paused, deleted).
        any_row = np.zeros(shape, dtype=bool)
        any_row[rows_source, rows_hour] = True
        activity = sum(self.buckets.values()).astype(np.float64) if self.buckets else np.zeros(shape)
        self.live = np.zeros(shape, dtype=bool)
        self.gaps: list[list[tuple[int, int, float]]] = []
        for index in range(len(self.sources)):
            others = activity.sum(axis=0) - activity[index]
            weight = others if others.any() else self.traffic_hours * BUCKETS_PER_HOUR
            live, gaps = live_hours(any_row[index], weight)
            self.live[index] = live
            self.gaps.append(gaps)

    def served(self, index: int, counts: np.ndarray) -> None:
        """The source served recommendations in the hours with `counts` > 0: that is its live time
        (unless it served none in the report's hours: then its rows tell)."""
        serving = counts > 0
        if not serving.any():
            return
        self.live[index] = serving
        runs = _false_runs(serving)
        self.gaps[index] = [(start, stop, 0.0) for start, stop in runs if start > 0 and stop < self.hours]

    def clusters(self, block: str) -> np.ndarray:
        return self.local_day if block == "day" else self.hour_starts // HOUR

    def live_mask(self, index: int) -> np.ndarray:
        return self.live[index]

    def pauses(self, index: int) -> list[Pause]:
        """The gaps inside the live period (those before the first or after the last live hour
        are its start and end)."""
        live = np.flatnonzero(self.live[index])
        if not live.size:
            return []
        return [
            Pause(utc(self.hour_starts[start]), utc(self.hour_starts[stop - 1] + HOUR), float(stop - start), expected)
            for start, stop, expected in self.gaps[index]
            if live[0] < start and stop <= live[-1]
        ]



def _day_edges(first: int, last: int, timezone: str | None) -> tuple[int, int]:
    """The first hour of first's day and the last hour of last's day, in the shop's time zone."""
    zone = UTC if timezone is None else ZoneInfo(timezone)
    start = datetime.fromtimestamp(first, tz=zone).replace(hour=0, minute=0, second=0)
    end = datetime.fromtimestamp(last, tz=zone).replace(hour=0, minute=0, second=0) + timedelta(days=1)
    return int(start.timestamp()), int(end.timestamp()) - HOUR



def _local_days(hour_starts: np.ndarray, timezone: str | None) -> np.ndarray:
    """The day number of each hour in the shop's time zone (UTC days without one)."""
    if timezone is None:
        return hour_starts // DAY
    zone = ZoneInfo(timezone)
    offsets = np.array([datetime.fromtimestamp(int(t), tz=zone).utcoffset().total_seconds() for t in hour_starts])
    return (hour_starts + offsets.astype(np.int64)) // DAY



def _false_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each maximal run of False."""
    padded = np.concatenate(([True], flags.astype(bool), [True]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))



def live_hours(active: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int, float]]]:
    """Which hours a source was live, from the hours it has rows (`active`).

    Each run of hours without its rows is tested against its usual activity: in an hour where
    the other sources fill w buckets the source has rows with probability 1 - exp(-lam * w)
    (lam fitted on its live hours), so a run is empty by chance with probability
    exp(-lam * sum w). Runs less likely than PAUSE_FALSE_ALARM / (number of runs) are not live:
    the time before launch, pauses (stopped, INACTIVE, `enabled: false`) and the time after it
    was deleted. Hours nobody had rows in weigh nothing: a quiet night is not a pause.
    Returns the live mask and the excluded runs as (start, stop, hours with rows expected).
    """
    hours = len(active)
    if not active.any():
        return np.zeros(hours, dtype=bool), []
    runs = _false_runs(active)
    live = np.ones(hours, dtype=bool)
    excluded: list[int] = []
    expected = np.zeros(len(runs))
    for _ in range(5):
        lam = _activity_rate(active[live], weight[live])
        expected = np.array([lam * weight[start:stop].sum() for start, stop in runs])
        chosen = [i for i, value in enumerate(expected) if value > math.log(len(runs) / PAUSE_FALSE_ALARM)]
        if chosen == excluded:
            break
        excluded = chosen
        live[:] = True
        for i in excluded:
            live[runs[i][0] : runs[i][1]] = False
    lam = _activity_rate(active[live], weight[live])
    return live, [(start, stop, float((1 - np.exp(-lam * weight[start:stop])).sum())) for start, stop in (runs[i] for i in excluded)]



def _activity_rate(active: np.ndarray, weight: np.ndarray) -> float:
    """lam with sum(1 - exp(-lam * w)) = hours active, over the hours with w > 0."""
    busy = weight > 0
    hits = float(active[busy].sum())
    count = int(busy.sum())
    if count == 0 or hits == 0:
        return 0.0
    hits = min(hits, count - 0.5)  # active in every hour: as if once short, not infinitely busy
    low, high = 1e-12, 1e6
    for _ in range(100):
        middle = math.sqrt(low * high)
        if float((1 - np.exp(-middle * weight[busy])).sum()) < hits:
            low = middle
        else:
            high = middle
    return math.sqrt(low * high)



def utc(epoch: int | float) -> datetime:
    return datetime.fromtimestamp(int(epoch), tz=UTC)
