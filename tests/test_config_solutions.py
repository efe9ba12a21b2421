"""Config of custom solutions, campaigns and filters: the example loads, and each mistake is one
ConfigIssue naming the path and the fix (mutations of config/custom-solutions.yaml)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from lambdas.personalize_resources import solution as solution_handler
from config import ConfigError, ConfigIssue, load_config, parse_config

REPO = Path(__file__).resolve().parents[1]
CUSTOM_CONFIG = REPO / "config" / "custom-solutions.yaml"
RAW = yaml.safe_load(CUSTOM_CONFIG.read_text())


def issues_of(raw: Any) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "test.yaml")
    return caught.value.issues


def test_example_loads_with_solutions_campaigns_and_filters():
    config = load_config(CUSTOM_CONFIG)
    group = config.dataset_groups[0]
    assert group.domain is None
    assert [s.name for s in group.solutions] == ["top-picks", "similar"]
    assert [c.name for _, c in group.campaigns()] == ["top-picks", "similar"]
    # Campaigns are sources beside the third party, in that order (dashboard and report read it).
    assert group.all_sources() == ["top_picks", "similar_items", "vendor_widget"]
    request = group.solutions[0].create_request("n", "arn:dg")
    assert request["eventType"] == "Rating" and request["solutionConfig"] == {"eventValueThreshold": "3.5"}
    assert request["performAutoTraining"] is False
    # The solution handler accepts the request and the name with its digest fits Personalize.
    desired = solution_handler.desired_solution(group.solutions[0].create_request(config.solution_base_name(group, group.solutions[0]), "arn:dg"))
    assert len(solution_handler.physical_name(desired)) <= 63


def test_names_change_with_what_replaces_the_resource():
    config = load_config(CUSTOM_CONFIG)
    group = config.dataset_groups[0]
    other = copy.deepcopy(RAW)
    other["datasetGroups"][0]["filters"][0]["expression"] = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("View")'
    other["datasetGroups"][0]["solutions"][0]["training"]["version"] = "2"
    changed = parse_config(other)
    changed_group = changed.dataset_groups[0]
    assert config.filter_name(group, group.filters[0]) != changed.filter_name(changed_group, changed_group.filters[0])
    assert config.solution_version_name(group, group.solutions[0]) != changed.solution_version_name(changed_group, changed_group.solutions[0])
    # Campaign names stay: campaigns update in place.
    assert config.campaign_name(group, group.solutions[0].campaigns[0]) == changed.campaign_name(changed_group, changed_group.solutions[0].campaigns[0])


def solution(raw: dict, index: int = 0) -> dict:
    return raw["datasetGroups"][0]["solutions"][index]


def group(raw: dict) -> dict:
    return raw["datasetGroups"][0]


def drop_event_value(raw: dict) -> None:
    fields = group(raw)["datasets"]["interactions"]["schema"]["fields"]
    fields[:] = [f for f in fields if f["name"] != "EVENT_VALUE"]


CASES: list[tuple[str, Callable[[dict], Any], str, str]] = [
    ("domain recipe as solution", lambda r: solution(r).update(recipe="aws-ecomm-recommended-for-you"),
     "datasetGroups[0].solutions[0].recipe", "runs as a recommender"),
    ("unknown recipe", lambda r: solution(r).update(recipe="aws-nope"), "datasetGroups[0].solutions[0].recipe", "not a known Personalize recipe"),
    ("threshold without event type", lambda r: solution(r).pop("eventType"),
     "datasetGroups[0].solutions[0].eventValueThreshold", "set eventType too"),
    ("threshold without EVENT_VALUE", drop_event_value, "datasetGroups[0].solutions[0].eventValueThreshold", "add EVENT_VALUE"),
    ("unknown event type", lambda r: solution(r).update(eventType="Like"), "datasetGroups[0].solutions[0].eventType", "not an event type"),
    ("Rating without the ratings variant", lambda r: (drop_event_value(r), solution(r).pop("eventValueThreshold")),
     "datasetGroups[0].solutions[0].eventType", "known: Purchase, View"),
    ("events on a v1 recipe", lambda r: solution(r, 1).update(events=[{"eventType": "View", "weight": 0.5}]),
     "datasetGroups[0].solutions[1].events", "does not take an events configuration"),
    ("event weight above 1", lambda r: solution(r, 1).update(recipe="aws-user-personalization-v2", events=[{"eventType": "View", "weight": 2}]),
     "datasetGroups[0].solutions[1].events[0].weight", "less than or equal to 1"),
    ("HPO on a recipe without it", lambda r: solution(r, 1).update(recipe="aws-popularity-count", performHPO=True), "datasetGroups[0].solutions[1].performHPO", "no hyperparameters"),
    ("UPDATE training on similar items", lambda r: solution(r, 1).update(training={"mode": "UPDATE"}),
     "datasetGroups[0].solutions[1].training.mode", "use FULL"),
    ("TPS zero", lambda r: solution(r)["campaigns"][0].update(minProvisionedTPS=0),
     "datasetGroups[0].solutions[0].campaigns[0].minProvisionedTPS", "greater than or equal to 1"),
    ("schedule while auto-training off", lambda r: solution(r).update(autoTraining={"enabled": False, "schedule": "rate(7 days)"}),
     "datasetGroups[0].solutions[0].autoTraining", "set `enabled: true`"),
    ("bad schedule", lambda r: solution(r).update(autoTraining={"enabled": True, "schedule": "daily"}),
     "datasetGroups[0].solutions[0].autoTraining.schedule", "does not match"),
    ("long solution name", lambda r: (group(r).update(name="r" * 30), solution(r).update(name="a" * 30)),
     "datasetGroups[0].solutions[0].name", "settings digest"),
    ("duplicate campaign", lambda r: solution(r, 1)["campaigns"][0].update(name="top-picks"), "datasetGroups[0].solutions", "used twice"),
    ("duplicate campaign source", lambda r: solution(r, 1)["campaigns"][0].update(attributionSource="TOP_PICKS"),
     "datasetGroups[0].solutions[1].campaigns[0].attributionSource",
     "shared by campaign top-picks (datasetGroups[0].solutions[0].campaigns[0].attributionSource) and campaign similar"),
    # botocore documents 1-30 days for schedulingExpression; its pattern alone accepts rate(45 days).
    ("schedule beyond 30 days", lambda r: solution(r).update(autoTraining={"enabled": True, "schedule": "rate(45 days)"}),
     "datasetGroups[0].solutions[0].autoTraining.schedule", "rate(45 days) trains every 45 days, but Personalize accepts 1 to 30 days"),
    ("schedule of 0 days", lambda r: solution(r).update(autoTraining={"enabled": True, "schedule": "rate(0 days)"}),
     "datasetGroups[0].solutions[0].autoTraining.schedule", "write e.g. rate(1 days)"),
    ("exploration on similar items", lambda r: solution(r, 1)["campaigns"][0].update(itemExploration={"explorationWeight": 0.1}),
     "datasetGroups[0].solutions[1].campaigns[0].itemExploration", "aws-user-personalization campaigns only"),
    ("filter syntax", lambda r: group(r)["filters"][0].update(expression="EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN"),
     "datasetGroups[0].filters[0].expression", "at character"),
    ("filter unknown column", lambda r: group(r)["filters"][0].update(expression='INCLUDE ItemID WHERE Items.GENRE IN ("x")'),
     "datasetGroups[0].filters[0].expression", "has no field GENRE"),
    ("filter compares a string as a number", lambda r: group(r)["filters"][0].update(expression='INCLUDE ItemID WHERE Items.CATEGORY_L1 > 3'),
     "datasetGroups[0].filters[0].expression", "compares numbers"),
    ("CurrentItem without related items", lambda r: (r["datasetGroups"][0]["solutions"].pop(1), group(r)["filters"][0].update(
        expression="INCLUDE ItemID WHERE Items.CATEGORY_L1 IN CurrentItem.CATEGORY_L1")),
     "datasetGroups[0].filters[0].expression", "related-items"),
    ("duplicate filter", lambda r: group(r)["filters"].append(dict(group(r)["filters"][0])), "datasetGroups[0].filters", "used twice"),
    ("unknown key", lambda r: solution(r).update(eventTyp="Rating"), "datasetGroups[0].solutions[0].eventTyp", "did you mean `eventType`"),
]


@pytest.mark.parametrize(("mutate", "path", "phrase"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_mistake_is_reported_with_path_and_fix(mutate, path, phrase):
    raw = copy.deepcopy(RAW)
    mutate(raw)
    issues = issues_of(raw)
    matching = [i for i in issues if i.path == path and phrase in i.message]
    assert matching, f"expected {path}: ...{phrase}... in\n" + "\n".join(map(str, issues))


def test_event_types_are_not_checked_against_own_data():
    """With the user's own interactions the event types are unknown at synth: no false alarm."""
    raw = copy.deepcopy(RAW)
    group(raw)["datasets"]["interactions"]["dataImport"]["location"] = "s3://my-bucket/ratings.csv"
    raw["externalBuckets"] = ["my-bucket"]
    solution(raw).update(eventType="Like")
    assert parse_config(raw).dataset_groups[0].solutions[0].event_type == "Like"


def test_disabled_campaign_stays_a_known_source():
    raw = copy.deepcopy(RAW)
    solution(raw)["campaigns"][0]["enabled"] = False
    group_config = parse_config(raw).dataset_groups[0]
    assert [c.name for _, c in group_config.campaigns(enabled_only=True)] == ["similar"]
    assert "top_picks" in group_config.all_sources()


def test_auto_training_range_is_read_from_botocore():
    """The 1-30 days come from the model's documentation of schedulingExpression, not from us."""
    from config import auto_training_days

    assert auto_training_days() == (1, 30)


def test_auto_training_default_interval_is_read_from_botocore():
    from config import AutoTraining, auto_training_default_days

    assert auto_training_default_days() == 7
    assert AutoTraining(enabled=True).interval_days == 7
    assert AutoTraining(enabled=True, schedule="rate(3 days)").interval_days == 3
