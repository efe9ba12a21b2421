"""What a run did: events sent (or validated) per source and type, failures, what was never tried."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tools._cli import format_number, format_table
from tools.events.recommendations import RecommendationStats
from tools.events.traffic import UNATTRIBUTED_SOURCE, EventBatch, event_source


@dataclass
class SendSummary:
    dry_run: bool = False
    planned_events: int = 0  # what the run set out to send (--events)
    events: Counter = field(default_factory=Counter)  # (source, event type) -> events sent or validated
    calls_by_source: Counter = field(default_factory=Counter)  # source -> calls carrying >= 1 of its events
    calls: int = 0
    retries: int = 0
    failed_calls: int = 0
    failed_events: int = 0
    invalid_calls: int = 0
    invalid_events: int = 0
    errors: Counter = field(default_factory=Counter)  # error code -> failed calls
    first_problems: list[str] = field(default_factory=list)
    rate_wait_seconds: float = 0.0
    elapsed_seconds: float = 0.0
    aborted: str | None = None
    interrupted: bool = False
    recommendations: RecommendationStats | None = None
    seed: int | None = None

    @property
    def events_total(self) -> int:
        return sum(self.events.values())

    @property
    def not_attempted(self) -> int:
        """Events never sent nor tried because the run stopped early (failures, Ctrl-C)."""
        return max(0, self.planned_events - self.events_total - self.failed_events - self.invalid_events)

    def note_problem(self, message: str) -> None:
        if len(self.first_problems) < 5:
            self.first_problems.append(message)

    def count_sent(self, batch: EventBatch) -> None:
        self.calls += 1
        sources = set()
        for event in batch.events:
            source = event_source(event)
            sources.add(source)
            self.events[(source, event["eventType"])] += 1
        for source in sources:
            self.calls_by_source[source] += 1

    @property
    def ok(self) -> bool:
        return not (self.failed_calls or self.invalid_calls or self.aborted)

    def to_json(self) -> dict[str, Any]:
        by_source: dict[str, dict[str, Any]] = {}
        for (source, event_type), count in sorted(self.events.items()):
            entry = by_source.setdefault(
                source, {"events": 0, "calls": self.calls_by_source[source], "by_event_type": {}}
            )
            entry["events"] += count
            entry["by_event_type"][event_type] = count
        recommendations = None
        if self.recommendations is not None:
            recommendations = {
                "calls": self.recommendations.calls,
                "events_with_recommendation_id": self.recommendations.events,
                "errors": dict(self.recommendations.errors),
                "disabled": self.recommendations.disabled,
            }
        return {
            "dry_run": self.dry_run,
            "seed": self.seed,
            "planned_events": self.planned_events,
            "events": self.events_total,
            "calls": self.calls,
            "by_source": by_source,
            "retries": self.retries,
            "failed_calls": self.failed_calls,
            "failed_events": self.failed_events,
            "invalid_calls": self.invalid_calls,
            "invalid_events": self.invalid_events,
            "not_attempted_events": self.not_attempted,
            "errors": dict(self.errors),
            "problems": self.first_problems,
            "recommendations": recommendations,
            "rate_wait_seconds": round(self.rate_wait_seconds, 3),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "aborted": self.aborted,
        }


def format_summary(summary: SendSummary, api_version: str, rate: float | None) -> str:
    event_types = sorted({event_type for _, event_type in summary.events})
    sources = sorted({source for source, _ in summary.events}, key=lambda s: (s == UNATTRIBUTED_SOURCE, s))
    rows = []
    for source in sources:
        counts = [summary.events[(source, t)] for t in event_types]
        calls = summary.calls_by_source[source]
        rows.append([source, *map(format_number, counts), format_number(sum(counts)), format_number(calls)])
    if sources:
        totals = [sum(summary.events[(s, t)] for s in sources) for t in event_types]
        rows.append(["total", *map(format_number, totals), format_number(sum(totals)), format_number(summary.calls)])
    headers = ["source", *event_types, "events", "calls"]
    verb = "validated (dry run, nothing sent)" if summary.dry_run else "sent"
    lines = [
        f"{format_number(summary.events_total)} of {format_number(summary.planned_events)} events "
        f"in {format_number(summary.calls)} PutEvents calls {verb}",
    ]
    if rows:
        lines += [
            "",
            format_table(headers, rows, right_align=set(range(1, len(headers)))),
            "(calls per source: calls carrying at least one of its events; one call can carry several sources)",
            "",
        ]
    if summary.dry_run:
        lines.append(f"requests checked against botocore's personalize-events {api_version} PutEvents model")
        if rate:
            lines.append(f"at --rate {rate:g} events/s a real run would take about {summary.events_total / rate:.1f} s")
    else:
        lines.append(
            f"retries: {summary.retries}   failed calls: {summary.failed_calls} ({summary.failed_events} events)"
            f"   elapsed: {summary.elapsed_seconds:.1f} s"
            f" (waiting for the rate limit: {summary.rate_wait_seconds:.1f} s)"
        )
        if summary.errors:
            lines.append("errors: " + ", ".join(f"{code} x{count}" for code, count in sorted(summary.errors.items())))
    stats = summary.recommendations
    if stats is not None:
        line = (
            f"recommendations: {stats.calls} GetRecommendations calls, "
            f"{stats.events} events sent with their recommendationId"
        )
        if stats.errors:
            line += " (errors: " + ", ".join(f"{code} x{count}" for code, count in sorted(stats.errors.items())) + ")"
        lines.append(line)
        for source, reason in sorted(stats.disabled.items()):
            lines.append(f"  - {source}: recommender no longer asked: {reason}")
    if summary.invalid_calls:
        lines.append(f"invalid requests (not sent): {summary.invalid_calls} ({summary.invalid_events} events)")
    for problem in summary.first_problems:
        lines.append(f"  - {problem}")
    if summary.not_attempted:
        lines.append(f"not attempted: {format_number(summary.not_attempted)} events (the run stopped early)")
    if summary.aborted:
        lines.append(f"aborted: {summary.aborted}")
    if summary.seed is not None:
        lines.append(f"seed: {summary.seed} (pass --seed {summary.seed} to generate the same events and ids again)")
    return "\n".join(lines)
