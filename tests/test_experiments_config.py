"""Experiments: config checks (path + fix), the split rules under AppConfig's documented ordered
evaluation, and the flag document against AppConfig's published FeatureFlags schema."""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import ConfigError, load_config, parse_config
from config.experiments import flag_document, split_seed
from config.feature_flags import cumulative_split_rules, evaluate, split_rule
from harness.appconfig import flag_document_problems

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS_CONFIG = REPO / "config" / "experiments.yaml"
USERS = 20_000


def experiments_dict() -> dict[str, Any]:
    return yaml.safe_load(EXPERIMENTS_CONFIG.read_text())


def issues_of(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "test")
    return [str(issue) for issue in caught.value.issues]


def experiment(raw: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return raw["datasetGroups"][0]["experiments"][index]


def shares(document: dict, flag: str, users: int = USERS) -> dict[str, float]:
    counts = Counter(evaluate(document, flag, {"userId": f"user-{i}"})["_variant"] for i in range(users))
    return {name: 100 * count / users for name, count in counts.items()}


def hand_written(rules: list[str | None]) -> dict:
    """A flag with variants A, B, ... and the given rules (None: the default)."""
    variants = [{"name": chr(65 + i), "enabled": True, **({"rule": r} if r else {})} for i, r in enumerate(rules)]
    return {"version": "1", "values": {"f": {"_variants": variants}}}


# --- the shipped example ----------------------------------------------------------------------------


def test_shipped_example_loads_with_two_experiments() -> None:
    config = load_config(EXPERIMENTS_CONFIG)
    assert [e.name for e in config.dataset_groups[0].experiments] == ["home-widget", "product-page"]


# --- mistakes are reported with their path and the fix ----------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "path", "phrase"),
    [
        (lambda e: e["arms"][0].update(weight=60), "experiments[0].arms", "add up to 110, not 100"),
        (lambda e: e["arms"][0].update(source="nobody"), "experiments[0].arms[0].source", "is not a source of dataset group"),
        (lambda e: e["arms"][1].update(source="third_party_widget"), "experiments[0].arms", "is in two arms"),
        (lambda e: e.update(winner="recommended_for_you"), "experiments[0].winner", "set `end`"),
        (lambda e: e.update(end="2026-12-01", winner="recommended_for_you"), "experiments[0].end", "is not after start"),
        (lambda e: e.update(end="2026-12-31", winner="nobody"), "experiments[0].winner", "is not an arm"),
        (lambda e: e.update(primaryMetric="revenue"), "experiments[0].primaryMetric", "is not a metric"),
        (lambda e: e.update(guardrailMetrics=["sumMargin"]), "experiments[0].guardrailMetrics", "is the primary metric"),
        (lambda e: e.update(name="2nd-test"), "experiments[0].name", "must start with a letter"),
        (lambda e: e.update(unit="sessionId"), "experiments[0].unit", "'userId'"),
        (lambda e: e.update(arms=e["arms"][:1]), "experiments[0].arms", "at least 2"),
        (lambda e: e["arms"][0].update(weight=0), "experiments[0].arms[0].weight", "greater than or equal to 1"),
        (lambda e: e.update(minimumDetectableEffect=0), "experiments[0].minimumDetectableEffect", "greater than 0"),
        (lambda e: e.update(arm=[]), "experiments[0].arm", "did you mean `arms`"),
    ],
)
def test_experiment_mistakes_name_path_and_fix(mutate, path: str, phrase: str) -> None:
    raw = experiments_dict()
    mutate(experiment(raw))
    issues = issues_of(raw)
    assert any(i.startswith(f"datasetGroups[0].{path}") and phrase in i for i in issues), issues


def test_an_inactive_recommender_cannot_be_an_arm() -> None:
    raw = experiments_dict()
    raw["datasetGroups"][0]["recommenders"][0]["state"] = "INACTIVE"
    issues = issues_of(raw)
    assert any("experiments[0].arms[1].source" in i and "set `state: ACTIVE`" in i for i in issues), issues


def test_duplicate_experiment_names() -> None:
    raw = experiments_dict()
    experiment(raw, 1)["name"] = "home-widget"
    assert any("'home-widget' is used twice" in i for i in issues_of(raw))


# --- the split: AppConfig's documented ordered evaluation ------------------------------------------------


@pytest.mark.parametrize(
    ("percentages", "expected"),
    [
        # "Understanding the split operator": the user guide's own examples.
        ((20,), {"A": 20, "B": 80}),
        ((20, 20), {"A": 20, "C": 80}),  # B: 0 %
        ((20, 25), {"A": 20, "B": 5, "C": 75}),
    ],
)
def test_evaluation_reproduces_the_user_guide_examples(percentages: tuple[int, ...], expected: dict[str, float]) -> None:
    document = hand_written([split_rule("userId", p, "s") for p in percentages] + [None])
    measured = shares(document, "f")
    assert set(measured) == set(expected)
    for name, share in expected.items():
        assert measured[name] == pytest.approx(share, abs=1.2)


def test_naive_weights_as_percentages_would_starve_later_arms() -> None:
    """The pitfall the cumulative rules avoid: 34/33/33 written as pct::34 then pct::33 gives B nothing."""
    naive = hand_written([split_rule("userId", 34, "s"), split_rule("userId", 33, "s"), None])
    assert "B" not in shares(naive, "f")
    fixed = hand_written([*cumulative_split_rules([34, 33, 33], key="userId", seed="s")])
    measured = shares(fixed, "f")
    for name, weight in zip("ABC", (34, 33, 33), strict=True):
        assert measured[name] == pytest.approx(weight, abs=1.2)


def test_generated_flags_give_each_arm_its_weight_and_validate_against_the_published_schema() -> None:
    config = load_config(EXPERIMENTS_CONFIG)
    group = config.dataset_groups[0]
    arns = {"recommended_for_you": "arn:aws:personalize:us-east-1:123456789012:recommender/x",
            "viewed_X_also_viewed": "arn:aws:personalize:us-east-1:123456789012:recommender/y"}
    document = flag_document(config, group, arns)
    assert flag_document_problems(document) == []
    for exp in group.experiments:
        measured = shares(document, exp.name)
        for arm in exp.arms:
            assert measured[arm.source] == pytest.approx(arm.weight, abs=1.2), (exp.name, measured)
    answer = evaluate(document, "home-widget", {"userId": "user-1"})
    assert answer["eventAttributionSource"] == answer["_variant"] == answer["source"]
    assert ("arn" in answer) == (answer["_variant"] in arns)


def test_without_a_user_id_everyone_gets_the_default_arm() -> None:
    config = load_config(EXPERIMENTS_CONFIG)
    document = flag_document(config, config.dataset_groups[0], {})
    assert evaluate(document, "home-widget", {})["_variant"] == "recommended_for_you"


def test_experiments_assign_independently() -> None:
    """Each experiment has its own seed: being in one arm of one experiment says nothing of the other."""
    config = load_config(EXPERIMENTS_CONFIG)
    group = config.dataset_groups[0]
    assert len({split_seed(config, group, e) for e in group.experiments}) == 2
    document = flag_document(config, group, {})
    pairs = Counter((evaluate(document, "home-widget", {"userId": f"u{i}"})["_variant"],
                     evaluate(document, "product-page", {"userId": f"u{i}"})["_variant"]) for i in range(USERS))
    within = pairs[("third_party_widget", "viewed_X_also_viewed")] / sum(v for (a, _), v in pairs.items() if a == "third_party_widget")
    assert within == pytest.approx(0.34, abs=0.02)


def test_a_winner_sends_everyone_to_it_and_reweighting_changes_only_the_rules() -> None:
    raw = experiments_dict()
    ended = copy.deepcopy(raw)
    experiment(ended).update(end="2026-12-29", winner="recommended_for_you")
    config = parse_config(ended)
    document = flag_document(config, config.dataset_groups[0], {})
    assert flag_document_problems(document) == []
    assert shares(document, "home-widget", 2000) == {"recommended_for_you": 100}
    experiment(raw)["arms"] = [{"source": "third_party_widget", "weight": 10}, {"source": "recommended_for_you", "weight": 90}]
    config = parse_config(raw)
    reweighted = flag_document(config, config.dataset_groups[0], {})
    assert reweighted["values"]["home-widget"]["_variants"][0]["rule"].startswith("(split by::$userId pct::10 ")
    assert shares(reweighted, "home-widget")["third_party_widget"] == pytest.approx(10, abs=1.2)


def test_flag_document_problems_catch_what_appconfig_refuses() -> None:
    assert flag_document_problems(hand_written([None, split_rule("userId", 50, "s")]))  # default not last
    bad = hand_written([split_rule("userId", 50, "s"), None])
    bad["values"]["Bad Key"] = bad["values"].pop("f")
    assert flag_document_problems(bad)


@pytest.mark.parametrize("degrees", [1, 2, 3, 4, 7])
def test_chi_square_survival_and_critical_value_match_scipy(degrees: int) -> None:
    from scipy.stats import chi2

    from config.experiments import (
        SRM_P_THRESHOLD,
        chi_square_survival,
        srm_critical_value,
    )

    for x in (0.3, 2.0, 9.5, 30.0):
        assert chi_square_survival(x, degrees) == pytest.approx(chi2.sf(x, degrees), rel=1e-9)
    assert srm_critical_value(degrees + 1) == pytest.approx(chi2.isf(SRM_P_THRESHOLD, degrees), rel=1e-9)


def _weights() -> Any:
    from hypothesis import strategies as st

    return st.lists(st.integers(1, 60), min_size=2, max_size=6).filter(lambda w: sum(w) <= 100 - 1).map(lambda w: [*w, 100 - sum(w)])


def test_any_weights_split_as_configured() -> None:
    """Property: for any 2-7 positive weights adding up to 100, the cumulative rules give each arm
    its weight (within 2.5 points over 5,000 users), with running totals strictly increasing."""
    from hypothesis import given, settings

    @settings(max_examples=25, deadline=None, derandomize=True)
    @given(_weights())
    def check(weights: list[int]) -> None:
        rules = cumulative_split_rules(weights, key="userId", seed="p")
        totals = [float(r.split("pct::")[1].split()[0]) for r in rules if r]
        assert totals == sorted(set(totals)) and totals[-1] < 100
        measured = shares(hand_written(rules), "f", users=5000)
        for index, weight in enumerate(weights):
            assert measured.get(chr(65 + index), 0) == pytest.approx(weight, abs=2.5), (weights, measured)

    check()
