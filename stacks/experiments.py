"""Randomized experiments between attribution sources: the config models, the rules that span
fields, and the AppConfig feature-flag document that assigns users to arms.

An experiment splits users (by ``$userId``) between arms, each arm a source of the dataset group
(a recommender, a campaign or another attribution source) with a weight; the weights add up to
100. The first arm is the control. ``winner`` (with ``end``) routes everyone to one arm.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from stacks.config_base import SHORT_NAME_PATTERN, ConfigIssue, Strict
from stacks.config_base import duplicates as _duplicates
from stacks.feature_flags import (
    FLAG_KEY_PATTERN,
    FLAG_SCHEMA_VERSION,
    MAX_VARIANTS,
    VARIANT_NAME_MAX,
    cumulative_split_rules,
)

if TYPE_CHECKING:
    from stacks.configuration import AppConfig, DatasetGroup

# A split is broken when units per arm depart from the weights with chi-square p below this
# (Fabijan et al., "Diagnosing Sample Ratio Mismatch in Online Controlled Experiments", KDD 2019).
SRM_P_THRESHOLD = 0.001
ENVIRONMENT_NAME = "live"  # the AppConfig environment applications read the flags from
# Attributes every variant carries (the flag's attribute definitions name them once).
SOURCE_ATTRIBUTE = "source"
ARN_ATTRIBUTE = "arn"
EVENT_SOURCE_ATTRIBUTE = "eventAttributionSource"


class Arm(Strict):
    source: str = Field(min_length=1)
    """The source users of this arm get: a recommender's or campaign's attributionSource, or one of `attributionSources`."""
    weight: int = Field(ge=1, le=99)
    """Percent of users in this arm; the weights of an experiment add up to 100."""


class Experiment(Strict):
    name: str = Field(min_length=1, max_length=40, pattern=SHORT_NAME_PATTERN)
    """The AppConfig flag key: starts with a letter, unique in the dataset group."""
    arms: Annotated[list[Arm], Field(min_length=2, max_length=MAX_VARIANTS)]
    """The arms in order; the first is the control."""
    unit: Literal["userId"] = "userId"
    """What the split hashes and the analysis counts (the PutEvents userId)."""
    start: datetime.date
    """First day analysed."""
    end: datetime.date | None = None
    """Last day analysed; required with `winner`."""
    winner: str | None = None
    """With `end`: the arm everyone gets from then on (a single default variant)."""
    primary_metric: str = Field(alias="primaryMetric", min_length=1)
    """The metricAttribution metric the verdict is about."""
    guardrail_metrics: list[str] = Field(default_factory=list, alias="guardrailMetrics")
    """Other metricAttribution metrics that must not get worse."""
    minimum_detectable_effect: float = Field(alias="minimumDetectableEffect", gt=0, le=10)
    """Relative lift the test is sized for (0.05 = +5 %); also the scale of the always-valid interval."""

    @property
    def control(self) -> Arm:
        return self.arms[0]

    @property
    def weights(self) -> dict[str, int]:
        return {arm.source: arm.weight for arm in self.arms}


def application_name(config: AppConfig) -> str:
    return config.physical_name("experiments")


def profile_name(group: DatasetGroup) -> str:
    """One feature-flag configuration profile per dataset group; one flag per experiment."""
    return group.name


def split_seed(config: AppConfig, group: DatasetGroup, experiment: Experiment) -> str:
    """Each experiment hashes users with its own seed: assignments of two experiments are independent."""
    return f"{config.name}/{group.name}/{experiment.name}"


def experiment_issues(config: AppConfig, group: DatasetGroup, base: str) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    add = lambda path, message: issues.append(ConfigIssue(path, message))
    for name in _duplicates([e.name for e in group.experiments]):
        add(f"{base}.experiments", f"experiment name {name!r} is used twice; names must be unique in a dataset group (each is a flag key)")
    servable = _servable_sources(group)
    known = group.all_sources()
    metrics = [m.metric_name for m in group.metric_attribution.metrics] if group.metric_attribution else []
    for index, experiment in enumerate(group.experiments):
        path = f"{base}.experiments[{index}]"
        if not re.match(FLAG_KEY_PATTERN, experiment.name):
            add(f"{path}.name", f"{experiment.name!r} must start with a letter (it is an AppConfig flag key, {FLAG_KEY_PATTERN}); e.g. 'exp-{experiment.name}'")
        for source in _duplicates([arm.source for arm in experiment.arms]):
            add(f"{path}.arms", f"source {source!r} is in two arms; give each arm its own source")
        total = sum(arm.weight for arm in experiment.arms)
        if total != 100:
            add(f"{path}.arms", f"weights add up to {total}, not 100; change them so they do (e.g. {_even_weights(len(experiment.arms))})")
        for a_index, arm in enumerate(experiment.arms):
            arm_path = f"{path}.arms[{a_index}].source"
            if arm.source not in known:
                add(arm_path, f"{arm.source!r} is not a source of dataset group {group.name!r}; use one of {known} (recommenders', campaigns' or attributionSources)")
            elif servable.get(arm.source):
                add(arm_path, f"{arm.source!r} cannot serve: {servable[arm.source]}")
            if len(arm.source) > VARIANT_NAME_MAX:
                add(arm_path, f"{arm.source!r} has {len(arm.source)} characters; an AppConfig variant name allows {VARIANT_NAME_MAX}: give the source a shorter attributionSource")
        if experiment.end is not None and experiment.end <= experiment.start:
            add(f"{path}.end", f"{experiment.end} is not after start {experiment.start}; set end later than start, or drop it")
        if experiment.winner is not None:
            if experiment.winner not in experiment.weights:
                add(f"{path}.winner", f"{experiment.winner!r} is not an arm; use one of {list(experiment.weights)}")
            if experiment.end is None:
                add(f"{path}.winner", "a winner ends the experiment: set `end` (the last day analysed) too")
        if not metrics:
            add(f"{path}.primaryMetric", "the dataset group has no metricAttribution: add one, the experiment's outcomes are its metrics")
            continue
        for m_path, metric in [(f"{path}.primaryMetric", experiment.primary_metric)] + [
            (f"{path}.guardrailMetrics[{i}]", name) for i, name in enumerate(experiment.guardrail_metrics)
        ]:
            if metric not in metrics:
                add(m_path, f"{metric!r} is not a metric of the group's metricAttribution; use one of {metrics}")
        if experiment.primary_metric in experiment.guardrail_metrics:
            add(f"{path}.guardrailMetrics", f"{experiment.primary_metric!r} is the primary metric; list only other metrics as guardrails")
    return issues


def _even_weights(arms: int) -> str:
    share, rest = divmod(100, arms)
    return "/".join(str(share + (1 if i < rest else 0)) for i in range(arms))


def _servable_sources(group: DatasetGroup) -> dict[str, str]:
    """Recommender and campaign sources, with why one cannot serve an arm ('' when it can)."""
    out = {r.source_name: ("the recommender is INACTIVE; set `state: ACTIVE`" if r.state != "ACTIVE" else "") for r in group.recommenders}
    for _, campaign in group.campaigns():
        out[campaign.source_name] = "" if campaign.enabled else "the campaign is `enabled: false` (deleted); enable it"
    return out


def arm_attributes(source: str, arn: str | None) -> dict[str, str]:
    """What the application reads from its variant: the source, what to call, what to send."""
    values = {SOURCE_ATTRIBUTE: source, EVENT_SOURCE_ATTRIBUTE: source}
    if arn is not None:
        values[ARN_ATTRIBUTE] = arn
    return values


def flag_document(config: AppConfig, group: DatasetGroup, arns: Mapping[str, str]) -> dict[str, Any]:
    """The AWS.AppConfig.FeatureFlags document of a group: one multi-variant flag per experiment.

    ``arns`` maps a recommender's or campaign's source to its ARN (other sources have none: the
    application shows their widget). A running experiment's arms are split by cumulative rules;
    one with a ``winner`` has a single, default variant: everyone gets the winner.
    """
    string = {"constraints": {"type": "string", "required": True}}
    flags: dict[str, Any] = {}
    values: dict[str, Any] = {}
    for experiment in group.experiments:
        flags[experiment.name] = {
            "name": experiment.name,
            "description": f"Arms of experiment {experiment.name} (control: {experiment.control.source})",
            "attributes": {
                SOURCE_ATTRIBUTE: string,
                EVENT_SOURCE_ATTRIBUTE: string,
                ARN_ATTRIBUTE: {"constraints": {"type": "string", "required": False}},
            },
        }
        arms = [a for a in experiment.arms if a.source == experiment.winner] if experiment.winner else experiment.arms
        rules = cumulative_split_rules([a.weight for a in arms], key=experiment.unit, seed=split_seed(config, group, experiment)) if len(arms) > 1 else [None]
        variants = []
        for arm, rule in zip(arms, rules, strict=True):
            variant: dict[str, Any] = {"name": arm.source, "enabled": True}
            if rule is not None:
                variant["rule"] = rule
            variant["attributeValues"] = arm_attributes(arm.source, arns.get(arm.source))
            variants.append(variant)
        values[experiment.name] = {"_variants": variants}
    return {"version": FLAG_SCHEMA_VERSION, "flags": flags, "values": values}


def chi_square_survival(x: float, degrees_of_freedom: int) -> float:
    """P(chi-square > x) for whole degrees of freedom, in closed form (synth has no scipy):
    even k: exp(-x/2) sum_{i<k/2} (x/2)^i / i!; odd k: erfc(sqrt(x/2)) plus
    sqrt(2x/pi) exp(-x/2) sum_{r=1}^{(k-1)/2} x^(r-1) / (3 * 5 * ... * (2r-1))."""
    if x <= 0:
        return 1.0
    if degrees_of_freedom % 2 == 0:
        term = total = 1.0
        for i in range(1, degrees_of_freedom // 2):
            term *= x / 2 / i
            total += term
        return math.exp(-x / 2) * total
    survival = math.erfc(math.sqrt(x / 2))
    term = math.sqrt(2 * x / math.pi) * math.exp(-x / 2)
    for r in range(1, (degrees_of_freedom - 1) // 2 + 1):
        survival += term
        term *= x / (2 * r + 1)
    return survival


def srm_critical_value(arms: int) -> float:
    """The chi-square statistic above which an experiment of ``arms`` arms fails the SRM check."""
    low, high = 0.0, 1000.0
    for _ in range(100):  # bisection: the survival function decreases in x
        middle = (low + high) / 2
        low, high = (middle, high) if chi_square_survival(middle, arms - 1) > SRM_P_THRESHOLD else (low, middle)
    return (low + high) / 2
