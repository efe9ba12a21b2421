"""send_events --experiment: users assigned to arms by the experiment's own flag (the split rule
AppConfig evaluates, config/feature_flags.py), their events attributed to their arm, and each
user's outcomes counted as the group's metric attribution counts them, written one row per user
for `report --experiment --units` (the whole loop offline)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lambdas.personalize_resources import catalogue
from config import METRIC_EXPRESSION, AppConfig, DatasetGroup
from config.experiments import Experiment, flag_document
from config.feature_flags import evaluate
from tools._cli import CliError
from tools.events.traffic import EventBatch
from tools.impact.experiments import DAY_COLUMN, SOURCE_COLUMN, UNIT_COLUMN


def find_experiment(group: DatasetGroup, name: str) -> Experiment:
    experiment = next((e for e in group.experiments if e.name == name), None)
    if experiment is None:
        raise CliError(f"--experiment {name!r} is not an experiment of group {group.name}; known: {[e.name for e in group.experiments]}")
    return experiment


def arm_of(config: AppConfig, group: DatasetGroup, experiment: Experiment) -> Callable[[str], str]:
    """The user's arm as the deployed flag gives it (the same document, the same evaluation)."""
    document = flag_document(config, group, {})
    return lambda user_id: evaluate(document, experiment.name, {experiment.unit: user_id})["eventAttributionSource"]


@dataclass
class UnitOutcomes:
    """Per user: arm, first day and the experiment's metrics, from the events generated."""

    group: DatasetGroup
    experiment: Experiment
    rows: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        metrics = {m.metric_name: m for m in self.group.metric_attribution.metrics} if self.group.metric_attribution else {}
        self.names = [self.experiment.primary_metric, *self.experiment.guardrail_metrics]
        self.rules = []
        for name in self.names:
            metric = metrics[name]
            match = METRIC_EXPRESSION.match(metric.expression)
            column = None if match is None or match["count"] else match["column"].lower()
            self.rules.append((name, metric.event_type, column))
        self.items = {i.item_id: i for i in catalogue.sample_items()}

    def tap(self, batches: Iterable[EventBatch]) -> Iterator[EventBatch]:
        for batch in batches:
            for event in batch.events:
                source = event.get("metricAttribution", {}).get("eventAttributionSource")
                row = self.rows.setdefault(batch.user_id, {UNIT_COLUMN: batch.user_id, SOURCE_COLUMN: source,
                                                            DAY_COLUMN: event["sentAt"].date().isoformat(), **dict.fromkeys(self.names, 0.0)})
                for name, event_type, column in self.rules:
                    if event["eventType"] == event_type:
                        item = self.items.get(event["itemId"])
                        row[name] += 1 if column is None else float(getattr(item, column, 0) or 0) if item else 0.0
            yield batch

    def write(self, path: Path) -> int:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, [UNIT_COLUMN, SOURCE_COLUMN, DAY_COLUMN, *self.names])
            writer.writeheader()
            writer.writerows(self.rows.values())
        return len(self.rows)
