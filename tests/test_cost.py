"""What a deploy bills (stacks/cost.py, tools/cost.py), against the arithmetic written out by
hand for each shipped config, at the prices of the table (a price edit does not break these)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from config import load_config
from stacks.cost import HOURS_PER_MONTH, NEW_VERSION, PRICES_CSV, estimate, price_table, prices
from tools import cost as cost_tool

REPO = Path(__file__).resolve().parents[1]
P = {key: price.usd for key, price in prices().items()}
REQUESTS = P["personalize.recommender_requests"]  # USD per 1,000 requests
TPS_HOUR = P["personalize.campaign_tps_hour"]
METRIC = P["cloudwatch.custom_metric_month"]
DASHBOARD = P["cloudwatch.dashboard_month"]
ALARM = P["cloudwatch.alarm_month"]
KEY = P["kms.key_month"]


def per_hour_at_floor(requests_per_second: int) -> float:
    """A recommender bills its floor every hour: requests/s x 3,600 s, priced per 1,000."""
    return requests_per_second * 3600 / 1000 * REQUESTS


HAND = {
    # Two ACTIVE recommenders at 1 request/s; 2 metrics x (2 recommenders + third_party_widget); one dashboard.
    "config/default.yaml": {
        "hourly": 2 * per_hour_at_floor(1),
        "monthly": 2 * (2 + 1) * METRIC + DASHBOARD,
        "recommenders_off_saves": 2 * per_hour_at_floor(1),
        "campaigns_off_saves": None,
        "trainings_per_new_version": 0,
        "unread_hourly": 0,
    },
    # Two campaigns at 1 TPS; 2 metrics x (2 campaigns + vendor_widget); one dashboard; two solutions train.
    "config/custom-solutions.yaml": {
        "hourly": 2 * 1 * TPS_HOUR,
        "monthly": 2 * (2 + 1) * METRIC + DASHBOARD,
        "recommenders_off_saves": None,
        "campaigns_off_saves": 2 * 1 * TPS_HOUR,
        "trainings_per_new_version": 2,
        "unread_hourly": 0,
    },
    # shop: for-you at 2 requests/s (+ metadata, price unread), also-viewed INACTIVE (bills nothing);
    # video: top-picks at 1 request/s. Series: shop 3 metrics x (2 recommenders + vendor_widget),
    # video 1 metric x 1 recommender. Alarms: widget-silent + PutEvents 4xx/5xx for both groups.
    # Keys: the data key (encryption KMS, no kmsKeyArn) and the alarm topic's key.
    "config/multi-group.yaml": {
        "hourly": per_hour_at_floor(2) + per_hour_at_floor(1),
        "monthly": (3 * (2 + 1) + 1 * 1) * METRIC + DASHBOARD + (1 + 2 * 2) * ALARM + 2 * KEY,
        "recommenders_off_saves": per_hour_at_floor(2) + per_hour_at_floor(1),
        "campaigns_off_saves": None,
        "trainings_per_new_version": 0,
        "unread_hourly": 1,
    },
}


# config/default.yaml plus two experiments: AppConfig bills per request (usage), nothing fixed.
HAND["config/experiments.yaml"] = dict(HAND["config/default.yaml"])


def test_every_shipped_config_has_a_hand_calculation():
    assert sorted(HAND) == sorted(f"config/{p.name}" for p in (REPO / "config").glob("*.yaml"))


@pytest.mark.parametrize("path", sorted(HAND))
def test_estimate_matches_the_hand_calculation(path):
    hand = HAND[path]
    got = estimate(load_config(REPO / path))
    assert got.hourly == pytest.approx(hand["hourly"])
    assert got.monthly_fixed == pytest.approx(hand["monthly"])
    assert got.month == pytest.approx(hand["hourly"] * HOURS_PER_MONTH + hand["monthly"])
    saves = got.savings_per_hour()
    assert saves.get("RecommendersEnabled") == (pytest.approx(hand["recommenders_off_saves"]) if hand["recommenders_off_saves"] else None)
    assert saves.get("CampaignsEnabled") == (pytest.approx(hand["campaigns_off_saves"]) if hand["campaigns_off_saves"] else None)
    assert got.trainings(NEW_VERSION) == hand["trainings_per_new_version"]
    assert len(got.unknown("hourly")) == hand["unread_hourly"]


def test_the_default_config_in_dollars():
    """The figures a new user sees for config/default.yaml at the table's us-east-1 prices."""
    got = estimate(load_config(REPO / "config/default.yaml"))
    assert got.hourly == pytest.approx(2 * 3.6 * 0.0556)  # 0.40032
    assert got.month == pytest.approx(0.40032 * 730 + 6 * 0.30 + 3.00)  # 297.03


def test_auto_training_schedules_count_trainings_a_month():
    raw = load_config(REPO / "config/custom-solutions.yaml").model_dump(by_alias=True, mode="json")
    raw["datasetGroups"][0]["solutions"][0]["autoTraining"] = {"enabled": True, "schedule": "rate(10 days)"}
    raw["datasetGroups"][0]["solutions"][1]["autoTraining"] = {"enabled": True}  # botocore: every 7 days by default
    from config import parse_config

    got = estimate(parse_config(raw))
    assert got.trainings("month") == pytest.approx(HOURS_PER_MONTH / 24 / 10 + HOURS_PER_MONTH / 24 / 7)


def test_a_stopped_recommender_and_a_disabled_campaign_bill_nothing_per_hour():
    raw = load_config(REPO / "config/custom-solutions.yaml").model_dump(by_alias=True, mode="json")
    raw["datasetGroups"][0]["solutions"][1]["campaigns"][0]["enabled"] = False
    from config import parse_config

    assert estimate(parse_config(raw)).hourly == pytest.approx(1 * TPS_HOUR)


def test_price_table_rows_say_where_each_figure_comes_from():
    rows = price_table()
    assert rows and {r.status for r in rows} <= {"aws", "quoted", "unread"}
    for row in rows:
        assert row.source.startswith("https://"), row
        assert row.read_on and row.region and row.unit, row
        assert (row.usd is None) == (row.status == "unread"), row  # no figure is invented
        assert row.status != "quoted" or row.read_via, row  # a quoted figure names where it was read
    assert len({(r.key, r.region) for r in rows}) == len(rows)
    assert PRICES_CSV.name == "prices.csv"


def test_unread_prices_are_never_counted_as_zero():
    got = estimate(load_config(REPO / "config/multi-group.yaml"))
    (metadata,) = got.unknown("hourly")
    assert metadata.usd is None and "metadata" in metadata.what
    assert got.hourly == pytest.approx(per_hour_at_floor(2) + per_hour_at_floor(1))


def run_tool(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cost_tool.main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_tool_prints_the_breakdown_of_one_config():
    code, out, _ = run_tool("config/default.yaml")
    assert code == 0
    assert out.startswith("pimpact-default: bills USD 0.40/hour while deployed (USD 297.03/month with fixed charges)")
    assert "recommender retail/recommended-for-you: 1 request/s floor" in out
    assert "RecommendersEnabled=false saves USD 0.40/hour" in out


def test_tool_compares_configs():
    code, out, _ = run_tool("--markdown", "config/default.yaml", "config/multi-group.yaml")
    assert code == 0
    assert "| config/default.yaml | pimpact-default | USD 0.40 | USD 297.03 | 0 | 1 | RecommendersEnabled: USD 0.40/h |" in out


def test_tool_errors_name_the_fix():
    code, _, err = run_tool("config/default.yaml", "--region", "eu-west-1")
    assert code == 2 and "stacks/prices.csv has no prices for eu-west-1; it has us-east-1" in err
    code, _, err = run_tool("config/nope.yaml")
    assert code == 2 and "pass an existing file with make cost CONFIG=PATH" in err


@pytest.mark.parametrize("page", ["docs/cost.md", "README.md"])
def test_cost_tables_are_the_tools_output(page):
    """docs/cost.md and the README show the table `python -m tools.cost --markdown config/*.yaml`
    prints (the README's sits indented in a list item)."""
    configs = sorted(f"config/{p.name}" for p in (REPO / "config").glob("*.yaml"))
    _, out, _ = run_tool("--markdown", *configs)
    text = "\n".join(line.strip() for line in (REPO / page).read_text().splitlines())
    assert out.strip() in text
