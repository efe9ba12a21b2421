"""Randomized experiments between attribution sources: the AppConfig feature-flag document that
assigns users to arms, and the sample-ratio check of the analysis (the models are in
config.models.experiments, the rules in config.rules.experiments).

An experiment splits users (by ``$userId``) between arms, each arm a source of the dataset group
(a recommender, a campaign or another attribution source) with a weight; the weights add up to
100. The first arm is the control. ``winner`` (with ``end``) routes everyone to one arm.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from config.feature_flags import FLAG_SCHEMA_VERSION, cumulative_split_rules
from config.models import AppConfig, DatasetGroup
from config.models.experiments import Experiment

# A split is broken when units per arm depart from the weights with chi-square p below this
# (Fabijan et al., "Diagnosing Sample Ratio Mismatch in Online Controlled Experiments", KDD 2019).
SRM_P_THRESHOLD = 0.001
ENVIRONMENT_NAME = "live"  # the AppConfig environment applications read the flags from
# Attributes every variant carries (the flag's attribute definitions name them once).
SOURCE_ATTRIBUTE = "source"
ARN_ATTRIBUTE = "arn"
EVENT_SOURCE_ATTRIBUTE = "eventAttributionSource"


def application_name(config: AppConfig) -> str:
    return config.physical_name("experiments")


def profile_name(group: DatasetGroup) -> str:
    """One feature-flag configuration profile per dataset group; one flag per experiment."""
    return group.name


def split_seed(config: AppConfig, group: DatasetGroup, experiment: Experiment) -> str:
    """Each experiment hashes users with its own seed: assignments of two experiments are independent."""
    return f"{config.name}/{group.name}/{experiment.name}"


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
