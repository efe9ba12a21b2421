#!/usr/bin/env python3
"""send-events pacing on a simulated clock: the rate reached, calls per batch, fullest window.

Runs the real sender (tools/events/sender.py) and rate limiter over generated traffic with a
client that only records when each call went, on a fake clock (no waiting, no AWS). Prints one
row per --rate; `--json` prints the figures as JSON.

    .venv/bin/python benchmarks/send_events_rate_benchmark.py [--events 5000] [--rates 20 50 200]
"""

from __future__ import annotations

import argparse
import bisect
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.events.inputs import sample_catalogue_items, sample_user_ids  # noqa: E402
from tools.events.rate_limit import RateLimiter  # noqa: E402
from tools.events.sender import send_batches  # noqa: E402
from tools.events.traffic import TrafficModel, generate_batches  # noqa: E402
from tools.events.validation import PutEventsValidator  # noqa: E402


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class RecordingClient:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: list[tuple[float, int]] = []

    def put_events(self, **request) -> dict:
        self.calls.append((self.clock(), len(request["eventList"])))
        return {}


def measure(rate: float, events: int, seed: int) -> dict:
    model = TrafficModel(event_count=events, users=sample_user_ids(100), items=sample_catalogue_items(300))
    batches = list(generate_batches(model, seed))
    clock = FakeClock()
    client = RecordingClient(clock)
    limiter = RateLimiter(rate, clock=clock, sleep=clock.sleep)
    summary = send_batches(batches, client, "t", validator=PutEventsValidator(), limiter=limiter, clock=clock, sleep=clock.sleep)
    times = [t for t, _ in client.calls]
    counts = [n for _, n in client.calls]
    prefix = [0]
    for n in counts:
        prefix.append(prefix[-1] + n)
    # The fullest half-open window [t, t + 1 s) that starts at a call.
    fullest = max(prefix[bisect.bisect_left(times, t + 1.0)] - prefix[i] for i, t in enumerate(times))
    # Rate over the whole run: the last call's events count as sent at its start.
    reached = (summary.events_total - counts[-1]) / times[-1] if times[-1] else float("nan")
    return {
        "rate": rate,
        "events": summary.events_total,
        "batches": len(batches),
        "calls": len(client.calls),
        "calls_per_batch": round(len(client.calls) / len(batches), 3),
        "events_per_second": round(reached, 2),
        "share_of_rate": round(reached / rate, 3),
        "fullest_window": fullest,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rates", type=float, nargs="+", default=[20, 50, 200])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [measure(rate, args.events, args.seed) for rate in args.rates]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'--rate':>7} {'events/s':>9} {'of rate':>8} {'calls/batch':>12} {'fullest 1 s window':>19}")
    for row in rows:
        print(
            f"{row['rate']:>7g} {row['events_per_second']:>9.2f} {row['share_of_rate']:>8.1%} "
            f"{row['calls_per_batch']:>12.2f} {row['fullest_window']:>19}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
