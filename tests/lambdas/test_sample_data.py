"""Sample data: deterministic, trainable, schema-shaped; the S3 custom resource and the CLI."""

from __future__ import annotations

import collections
import csv
import io
import subprocess
import sys

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from lambdas.personalize_resources import sample_data
from lambdas.personalize_resources.sample_data import (
    CATALOG,
    INTERACTIONS_COLUMNS,
    ITEMS_COLUMNS,
    PURCHASE,
    VIEW,
    generate,
)

# DataVersion of the default data set. It changes only if the generator changes; a change
# here without a generator change means output is no longer byte-identical across Pythons.
DEFAULT_DATA_VERSION = "9b585b278ae1743d"


def parse(content: bytes) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(content.decode("utf-8")))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def assert_trainable(data: sample_data.SampleData) -> None:
    """The Amazon Personalize training minima plus the invariants recommenders rely on."""
    _, interactions = parse(data.interactions_csv)
    _, items = parse(data.items_csv)
    assert len(interactions) >= 1000
    per_user = collections.Counter(row["USER_ID"] for row in interactions)
    assert sum(1 for count in per_user.values() if count >= 2) >= 25
    assert {row["EVENT_TYPE"] for row in interactions} == {VIEW, PURCHASE}
    item_ids = {row["ITEM_ID"] for row in items}
    assert {row["ITEM_ID"] for row in interactions} <= item_ids
    viewed_so_far: dict[str, set[str]] = collections.defaultdict(set)
    for row in sorted(interactions, key=lambda r: int(r["TIMESTAMP"])):
        if row["EVENT_TYPE"] == PURCHASE:
            assert row["ITEM_ID"] in viewed_so_far[row["USER_ID"]], row
        else:
            viewed_so_far[row["USER_ID"]].add(row["ITEM_ID"])


def test_same_seed_gives_identical_bytes():
    first, second = generate(seed=7), generate(seed=7)
    assert first.interactions_csv == second.interactions_csv
    assert first.items_csv == second.items_csv
    assert first.data_version == second.data_version


def test_different_seeds_give_different_data():
    first, second = generate(seed=7), generate(seed=8)
    assert first.interactions_csv != second.interactions_csv
    assert first.items_csv != second.items_csv
    assert first.data_version != second.data_version


def test_default_data_set_is_pinned():
    assert generate().data_version == DEFAULT_DATA_VERSION


def test_default_data_set_meets_training_minima_and_requested_sizes():
    data = generate()
    assert_trainable(data)
    _, interactions = parse(data.interactions_csv)
    _, items = parse(data.items_csv)
    assert len(interactions) == sample_data.DEFAULT_INTERACTIONS
    assert len(items) == sample_data.DEFAULT_ITEMS
    assert len({row["USER_ID"] for row in interactions}) == sample_data.DEFAULT_USERS


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    users=st.integers(min_value=25, max_value=300),
    items=st.integers(min_value=sample_data.MIN_ITEMS, max_value=400),
    extra_interactions=st.integers(min_value=0, max_value=2000),
)
def test_any_accepted_size_is_trainable(seed, users, items, extra_interactions):
    interactions = max(1000, 2 * users) + extra_interactions
    data = generate(seed=seed, users=users, items=items, interactions=interactions)
    assert_trainable(data)
    # Every user has at least 2 interactions, not just 25 of them.
    _, rows = parse(data.interactions_csv)
    per_user = collections.Counter(row["USER_ID"] for row in rows)
    assert len(per_user) == users and min(per_user.values()) >= 2


def test_interactions_columns_and_types():
    header, rows = parse(generate().interactions_csv)
    assert tuple(header) == INTERACTIONS_COLUMNS == ("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE")
    timestamps = [int(row["TIMESTAMP"]) for row in rows]
    assert all(
        sample_data.BASE_TIMESTAMP <= t < sample_data.BASE_TIMESTAMP + sample_data.HISTORY_SECONDS
        for t in timestamps
    )
    assert timestamps == sorted(timestamps), "rows are in chronological order"
    assert all(row["USER_ID"] and row["ITEM_ID"] for row in rows)


def test_items_columns_and_types():
    header, rows = parse(generate().items_csv)
    assert tuple(header) == ITEMS_COLUMNS == ("ITEM_ID", "PRICE", "CATEGORY_L1", "CATEGORY_L2", "MARGIN")
    assert len({row["ITEM_ID"] for row in rows}) == len(rows)
    for row in rows:
        price, margin = float(row["PRICE"]), float(row["MARGIN"])
        assert price > 0
        assert 0 <= margin < price
        assert row["CATEGORY_L2"] in CATALOG[row["CATEGORY_L1"]][1]
        # Categorical values in Personalize are split on "|".
        assert "|" not in row["CATEGORY_L1"] + row["CATEGORY_L2"]
    assert {row["CATEGORY_L1"] for row in rows} == set(CATALOG)


def test_event_mix_is_mostly_views():
    _, rows = parse(generate().interactions_csv)
    views = sum(1 for row in rows if row["EVENT_TYPE"] == VIEW)
    assert 0.75 <= views / len(rows) <= 0.85


def test_item_popularity_is_skewed():
    _, rows = parse(generate().interactions_csv)
    counts = sorted(collections.Counter(row["ITEM_ID"] for row in rows).values(), reverse=True)
    top_tenth = counts[: sample_data.DEFAULT_ITEMS // 10]
    # Uniform popularity would give the top 10% of items about 10% of interactions.
    assert sum(top_tenth) / len(rows) > 0.35


@pytest.mark.parametrize(
    "sizes, message",
    [
        ({"users": 24}, "Users must be between 25"),
        ({"items": 3}, "Items must be between"),
        ({"interactions": 999}, "Interactions must be between 1000"),
        ({"users": 600, "interactions": 1100}, "Interactions must be between 1200"),
        ({"interactions": sample_data.MAX_INTERACTIONS + 1}, "Interactions must be between"),
    ],
)
def test_sizes_that_cannot_train_are_refused(sizes, message):
    with pytest.raises(ValueError, match=message):
        generate(**sizes)


# --- custom resource ---------------------------------------------------------------------------


@pytest.fixture
def s3(monkeypatch):
    """A moto S3 client that records every operation it is asked to make."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="data-bucket")
        client.recorded = []
        client.meta.events.register(
            "before-call.s3", lambda model, **_: client.recorded.append(f"s3:{model.name}")
        )
        client.recorded.clear()
        yield client


def sample_event(request_type="Create", **properties):
    event = {
        "RequestType": request_type,
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider",
            "Bucket": "data-bucket",
            "Prefix": "imports/sample/",
            "Seed": "42",
            "Users": "200",
            "Items": "300",
            "Interactions": "5000",
            **properties,
        },
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = "s3://data-bucket/imports/sample/"
    return event


def test_create_writes_both_files_to_s3(s3):
    result = sample_data.on_event(sample_event(), None, s3=s3)

    expected = generate(seed=42, users=200, items=300, interactions=5000)
    assert result == {
        "PhysicalResourceId": "s3://data-bucket/imports/sample/",
        "Data": {
            "InteractionsLocation": "s3://data-bucket/imports/sample/interactions.csv",
            "ItemsLocation": "s3://data-bucket/imports/sample/items.csv",
            "RatingsInteractionsLocation": "s3://data-bucket/imports/sample/interactions-ratings.csv",
            "DataVersion": expected.data_version,
        },
    }
    for key, content in (
        ("imports/sample/interactions.csv", expected.interactions_csv),
        ("imports/sample/items.csv", expected.items_csv),
        ("imports/sample/interactions-ratings.csv", expected.ratings_interactions_csv),
    ):
        stored = s3.get_object(Bucket="data-bucket", Key=key)
        assert stored["ContentType"] == "text/csv"
        assert stored["Body"].read() == content


def test_ratings_variant_trains_after_the_threshold_filter():
    """config/custom-solutions.yaml trains on Rating events of at least its eventValueThreshold:
    what is left must still meet Personalize's minima (1,000 interactions, 25 users with 2+)."""
    from config import load_config

    config = load_config(sample_data.Path(__file__).resolve().parents[2] / "config" / "custom-solutions.yaml")
    [solution] = [s for s in config.dataset_groups[0].solutions if s.event_value_threshold is not None]
    data = generate()
    rows = list(csv.DictReader(io.StringIO(data.ratings_interactions_csv.decode())))
    assert list(rows[0]) == ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"]
    kept = [r for r in rows if r["EVENT_TYPE"] == solution.event_type and float(r["EVENT_VALUE"]) >= solution.event_value_threshold]
    per_user = collections.Counter(r["USER_ID"] for r in kept)
    assert len(kept) >= sample_data.MIN_INTERACTIONS
    assert sum(1 for n in per_user.values() if n >= 2) >= sample_data.MIN_USERS_WITH_TWO_INTERACTIONS
    # The other events keep an empty (null) EVENT_VALUE and are the base data's, unchanged.
    others = [r for r in rows if r["EVENT_TYPE"] != sample_data.RATING]
    assert all(r["EVENT_VALUE"] == "" for r in others) and len(others) == len(data.interactions)
    assert {float(r["EVENT_VALUE"]) for r in rows if r["EVENT_TYPE"] == sample_data.RATING} <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert generate().ratings_interactions_csv == data.ratings_interactions_csv


def test_handler_operations_are_exactly_the_declared_ones(s3):
    sample_data.on_event(sample_event(), None, s3=s3)
    sample_data.on_event(sample_event("Update", Seed="43"), None, s3=s3)
    sample_data.on_event(sample_event("Delete"), None, s3=s3)
    assert set(s3.recorded) == set(sample_data.API_OPERATIONS) == {"s3:PutObject"}


def test_update_rewrites_the_files(s3):
    created = sample_data.on_event(sample_event(), None, s3=s3)
    updated = sample_data.on_event(sample_event("Update", Seed="43"), None, s3=s3)

    assert updated["PhysicalResourceId"] == created["PhysicalResourceId"]
    assert updated["Data"]["DataVersion"] != created["Data"]["DataVersion"]
    body = s3.get_object(Bucket="data-bucket", Key="imports/sample/items.csv")["Body"].read()
    assert body == generate(seed=43).items_csv


def test_delete_is_a_no_op_and_keeps_the_data(s3):
    sample_data.on_event(sample_event(), None, s3=s3)
    s3.recorded.clear()

    result = sample_data.on_event(sample_event("Delete"), None, s3=s3)

    assert result == {"PhysicalResourceId": "s3://data-bucket/imports/sample/"}
    assert s3.recorded == []
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="data-bucket")["Contents"]]
    assert sorted(keys) == ["imports/sample/interactions-ratings.csv", "imports/sample/interactions.csv", "imports/sample/items.csv"]


def test_delete_after_a_failed_create_touches_nothing(s3):
    event = sample_event("Delete")
    event["PhysicalResourceId"] = "not-an-s3-location"
    assert sample_data.on_event(event, None, s3=s3) == {"PhysicalResourceId": "not-an-s3-location"}
    assert s3.recorded == []


@pytest.mark.parametrize(
    "prefix, key_prefix",
    [("imports/sample", "imports/sample/"), ("/imports/", "imports/"), ("", "")],
)
def test_prefix_is_normalized_to_a_folder(s3, prefix, key_prefix):
    result = sample_data.on_event(sample_event(Prefix=prefix), None, s3=s3)
    assert result["PhysicalResourceId"] == f"s3://data-bucket/{key_prefix}"
    assert result["Data"]["ItemsLocation"] == f"s3://data-bucket/{key_prefix}items.csv"
    s3.head_object(Bucket="data-bucket", Key=f"{key_prefix}interactions.csv")


def test_omitted_sizes_use_the_defaults(s3):
    event = sample_event()
    for name in ("Seed", "Users", "Items", "Interactions"):
        del event["ResourceProperties"][name]
    result = sample_data.on_event(event, None, s3=s3)
    assert result["Data"]["DataVersion"] == DEFAULT_DATA_VERSION


@pytest.mark.parametrize(
    "properties, message",
    [
        ({"Users": "many"}, "Users must be an integer"),
        ({"Users": "10"}, "Users must be between 25"),
        ({"Bucket": ""}, "Bucket is required"),
    ],
)
def test_invalid_properties_fail_before_writing(s3, properties, message):
    with pytest.raises(ValueError, match=message):
        sample_data.on_event(sample_event(**properties), None, s3=s3)
    assert s3.recorded == []


# --- command line ------------------------------------------------------------------------------


def test_cli_writes_the_same_files(tmp_path, capsys):
    assert sample_data.main(["--out", str(tmp_path / "out"), "--seed", "5", "--users", "50"]) == 0

    expected = generate(seed=5, users=50)
    assert (tmp_path / "out" / "interactions.csv").read_bytes() == expected.interactions_csv
    assert (tmp_path / "out" / "items.csv").read_bytes() == expected.items_csv
    assert expected.data_version in capsys.readouterr().err


def test_cli_runs_as_a_module(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "lambdas.personalize_resources.sample_data", "--out", str(tmp_path)],
        capture_output=True, text=True, check=True,
    )
    assert (tmp_path / "items.csv").read_bytes() == generate().items_csv
    assert DEFAULT_DATA_VERSION in completed.stderr


def test_cli_rejects_sizes_that_cannot_train(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        sample_data.main(["--out", str(tmp_path), "--interactions", "10"])
    assert exit_info.value.code == 2
    assert "Interactions must be between" in capsys.readouterr().err


# DataVersions the generator gave before the catalogue moved to catalogue.py (computed with that
# version): the move kept every file byte-identical, at several seeds and id widths.
@pytest.mark.parametrize(
    ("sizes", "version"),
    [
        ((7, 25, 22, 1000), "271986381adc1fd7"),
        ((123, 25, 10000, 1000), "1c7b7e30ec216594"),  # five-digit item ids
        ((2**40, 1000, 999, 5000), "992c3d270c20187e"),
    ],
)
def test_output_unchanged_since_the_catalogue_moved(sizes, version):
    assert generate(*sizes).data_version == version


def test_items_come_from_the_shared_catalogue_that_send_events_uses():
    from lambdas.personalize_resources import catalogue

    data = generate()
    assert list(data.items) == catalogue.sample_items()
    # A shorter catalogue is the start of the longer one, so `send-events --items 50` names
    # deployed items with their real prices.
    assert catalogue.sample_items(50) == catalogue.sample_items()[:50]
    users = {row.user_id for row in data.interactions}
    assert users == set(catalogue.user_ids(sample_data.DEFAULT_USERS))
    assert catalogue.user_ids(3) == ["user_0001", "user_0002", "user_0003"]
