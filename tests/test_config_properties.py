"""Property-based tests of the configuration loader.

1. Any mutation of the default config (deleted keys, values replaced by other types or random
   text, renamed keys, duplicated list items, other enum values) ends in either a valid AppConfig
   or a ConfigError whose every issue names a path and a message: never another exception.
2. A few valid variations of the default (extra metrics, renamed recommenders, other sources, the
   video domain) build a CDK app that synthesizes. This one is slow-ish (a jsii start-up of
   ~7 s once, then a few seconds per app); it runs in the normal suite.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from config import AppConfig, ConfigError, parse_config
from config.recipes import domain_recipe_names

REPO = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((REPO / "config" / "default.yaml").read_text())

# Values that are meaningful somewhere in the config, so mutations reach the semantic checks
# instead of stopping at type errors.
INTERESTING_STRINGS = [
    "ECOMMERCE",
    "VIDEO_ON_DEMAND",
    "KMS",
    "S3_MANAGED",
    "RETAIN",
    "DESTROY",
    "FULL",
    "INCREMENTAL",
    "ACTIVE",
    "INACTIVE",
    "string",
    "int",
    "long",
    "float",
    "double",
    "boolean",
    "USER_ID",
    "ITEM_ID",
    "TIMESTAMP",
    "EVENT_TYPE",
    "MARGIN",
    "CATEGORY_L1",
    "SAMPLECOUNT()",
    "SUM(ITEMS.MARGIN)",
    "SUM(ITEMS.PRICE)",
    "SUM(Items.PRICE)",
    "GENRES",
    "CREATION_TIMESTAMP",
    "sumMargin * 1e3 / countViews",
    "SUM(ITEMS.CATEGORY_L1)",
    "SUM(INTERACTIONS.EVENT_VALUE)",
    "SUM(USERS.AGE)",
    "SUM(ITEMS.)",
    "sample",
    "s3://bucket/key",
    "s3://Bad_Bucket",
    "../up",
    "/abs",
    "",
    "retail",
    "recommended-for-you",
    "recommended_for_you",
    "RECOMMENDED_FOR_YOU",
    "third_party_widget",
    "countViews",
    "sumMargin",
    "sumMargin / countViews",
    "countViews * 2 + unknown",
    "aws-vod-top-picks",
    "aws-ecomm-recommended-for-you",
    "arn:aws:personalize:::recipe/aws-vod-more-like-x",
    "arn:aws:kms:eu-west-1:123456789012:key/abc-123",
    "x" * 70,
    "ünïcödé",
]
INTERESTING_KEYS = [
    "name",
    "domain",
    "schema",
    "fields",
    "type",
    "metricName",
    "expression",
    "recommenderConfig",
    "minRecommendationRequestsPerSecond",
    "trainingDataConfig",
    "excludedDatasetColumns",
    "INTERACTIONS",
    "ITEMS",
    "users",
    "items",
    "dataImport",
    "kmsKeyArn",
    "alarms",
    "nmae",
    "",
]



def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) else []


DEFAULT_STRINGS = sorted(set(_strings(DEFAULT)))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(INTERESTING_STRINGS),
    st.dates(),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(INTERESTING_KEYS), st.text(max_size=12), st.integers(-3, 3)), children, max_size=4),
    ),
    max_leaves=8,
)


def _locations(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every value below the root (dict keys and list indexes)."""
    found: list[tuple[Any, ...]] = []
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        found.append((*path, key))
        found += _locations(child, (*path, key))
    return found


def _parent(root: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        root = root[key]
    return root


@st.composite
def mutated_configs(draw: st.DrawFn) -> Any:
    config = copy.deepcopy(DEFAULT)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        locations = _locations(config)
        if not locations:
            break
        path = draw(st.sampled_from(locations))
        parent, key = _parent(config, path), path[-1]
        # Weighted towards changes that keep the types right, so the semantic checks run too.
        action = draw(st.sampled_from(["delete", "replace", "interesting", "rename", "duplicate", "duplicate", "enum", "same-type", "same-type", "same-type"]))
        if action == "delete":
            del parent[key]
        elif action == "replace":
            parent[key] = draw(values)
        elif action == "interesting":
            parent[key] = draw(st.sampled_from(INTERESTING_STRINGS))
        elif action == "rename" and isinstance(parent, dict):
            new_key = draw(st.one_of(st.sampled_from(INTERESTING_KEYS), st.text(max_size=12), st.just(str(key) + "s"), st.just(str(key).lower())))
            parent[new_key] = parent.pop(key)
        elif action == "duplicate" and isinstance(parent, list):
            parent.insert(draw(st.integers(0, len(parent))), copy.deepcopy(parent[key]))
        elif action == "enum":
            parent[key] = draw(st.sampled_from(INTERESTING_STRINGS[:16]))
        elif action == "same-type" and isinstance(parent[key], str):
            parent[key] = draw(st.sampled_from(INTERESTING_STRINGS + DEFAULT_STRINGS))
        elif action == "same-type" and isinstance(parent[key], bool):
            parent[key] = not parent[key]
        elif action == "same-type" and isinstance(parent[key], (int, float)):
            parent[key] = draw(st.integers(min_value=-1, max_value=13))
        else:  # a rename in a list or a duplicate in a dict: swap the value for a copy of another
            parent[key] = copy.deepcopy(_parent(config, draw(st.sampled_from(locations)) + (None,)))
    # Occasionally the whole document is something else (a list, a scalar).
    return draw(values) if draw(st.integers(0, 9)) == 0 else config


@settings(max_examples=200, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_configs())
def test_mutated_configs_are_valid_or_fully_reported(raw: Any) -> None:
    try:
        config = parse_config(raw, "fuzz.yaml")
    except ConfigError as error:
        assert error.issues, "a ConfigError needs at least one issue"
        for issue in error.issues:
            assert isinstance(issue.path, str) and issue.path.strip(), issue
            assert isinstance(issue.message, str) and issue.message.strip(), issue
        assert str(error).startswith("fuzz.yaml: ")
    else:
        assert isinstance(config, AppConfig)
        config.fingerprint()  # a valid config serializes


# --- valid variations synthesize -----------------------------------------------------------------

METRIC_POOL = [
    {"eventType": "Purchase", "expression": "SUM(ITEMS.PRICE)", "metricName": "revenue"},
    {"eventType": "Click", "expression": "SAMPLECOUNT()", "metricName": "countClicks"},
    {"eventType": "Purchase", "expression": "SAMPLECOUNT()", "metricName": "countPurchases"},
    {"eventType": "View", "expression": "SUM(ITEMS.MARGIN)", "metricName": "viewedMargin"},
]


@st.composite
def valid_variations(draw: st.DrawFn) -> dict[str, Any]:
    raw = copy.deepcopy(DEFAULT)
    suffix = draw(st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=4))
    raw["name"] = f"pv-{suffix}"
    group = raw["datasetGroups"][0]
    group["name"] = draw(st.sampled_from(["retail", "shop", "store-eu"]))
    group["metricAttribution"]["metrics"] += draw(st.lists(st.sampled_from(METRIC_POOL), unique_by=lambda m: m["metricName"], max_size=4))
    group["metricAttribution"]["s3Output"] = draw(st.booleans())
    group["metricAttribution"]["cloudwatch"] = draw(st.booleans())
    group["eventTracker"] = draw(st.booleans())
    group["attributionSources"] = draw(st.lists(st.sampled_from(["third_party_widget", "email-campaign", "SearchBox"]), unique=True, max_size=3))
    if draw(st.booleans()):
        group["domain"] = "VIDEO_ON_DEMAND"
        # The VIDEO_ON_DEMAND Items schema requires GENRES and CREATION_TIMESTAMP; PRICE is reserved (float).
        group["datasets"]["items"]["schema"]["fields"] = [
            {"name": "ITEM_ID", "type": "string"},
            {"name": "GENRES", "type": "string", "categorical": True},
            {"name": "CREATION_TIMESTAMP", "type": "long"},
            {"name": "PRICE", "type": "float"},
            {"name": "MARGIN", "type": "double"},
        ]
        recipes = draw(st.lists(st.sampled_from(domain_recipe_names("VIDEO_ON_DEMAND")), min_size=1, max_size=2, unique=True))
    else:
        recipes = draw(st.lists(st.sampled_from(domain_recipe_names("ECOMMERCE")), min_size=1, max_size=3, unique=True))
    group["recommenders"] = [
        {"name": f"rec-{index}-{recipe.split('-', 2)[2][:12].strip('-')}", "recipe": recipe, "state": draw(st.sampled_from(["ACTIVE", "INACTIVE"]))}
        for index, recipe in enumerate(recipes)
    ]
    if draw(st.booleans()):
        group["datasets"]["items"]["dataImport"] = {"location": "imports/items.csv", "mode": "INCREMENTAL", "version": "2"}
    raw["dashboard"]["enabled"] = draw(st.booleans())
    if raw["dashboard"]["enabled"] and group["metricAttribution"]["cloudwatch"]:
        source = draw(st.sampled_from([r["name"].replace("-", "_").upper() for r in group["recommenders"]] + group["attributionSources"]))
        raw["dashboard"]["alarms"] = [{"name": "source-quiet", "datasetGroup": group["name"], "metric": "countViews", "source": source, "periods": 8}]
        raw["dashboard"]["alarmEmail"] = draw(st.sampled_from([None, "team@example.com"]))
    raw["removalPolicy"] = draw(st.sampled_from(["RETAIN", "DESTROY"]))
    raw["encryption"] = {"mode": draw(st.sampled_from(["S3_MANAGED", "KMS"]))}
    return raw


def rich_variation() -> dict[str, Any]:
    """Everything on at once: KMS, an extra metric, a derived metric over it, an alarm with email."""
    raw = copy.deepcopy(DEFAULT)
    raw["name"] = "pv-rich"
    raw["encryption"] = {"mode": "KMS"}
    group = raw["datasetGroups"][0]
    group["metricAttribution"]["metrics"].append(METRIC_POOL[0])
    group["recommenders"][1]["name"] = "also-viewed"
    raw["dashboard"]["derivedMetrics"].append({"name": "revenuePerView", "expression": "revenue / countViews"})
    raw["dashboard"]["alarms"] = [{"name": "widget-quiet", "datasetGroup": "retail", "metric": "countViews", "source": "third_party_widget"}]
    raw["dashboard"]["alarmEmail"] = "team@example.com"
    return raw


# No shrinking: each example costs seconds of synthesis, and the failing config is printed anyway.
# One explicit example plus two generated ones: three apps (the session synthesis and the
# simulator synthesize four configs and seventeen variants besides).
@settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(valid_variations())
@example(rich_variation())
def test_slow_valid_variations_synthesize(raw: dict[str, Any]) -> None:
    """SLOW-ISH (jsii start-up once, then seconds per app): each valid variation builds a CDK app,
    with cdk-nag, that synthesizes."""
    from stacks.app_builder import build_app, new_app

    config = parse_config(raw, "variation")
    with tempfile.TemporaryDirectory(prefix="pimpact-variation-") as outdir:
        app = new_app(outdir=outdir)
        build_app(config, app)
        assembly = app.synth()
        names = {stack.stack_name for stack in assembly.stacks}
        assert {f"{config.name}-storage", f"{config.name}-personalize"} <= names
        assert all(name.startswith(f"{config.name}-") for name in names)
        assert all(Path(stack.template_full_path).is_file() for stack in assembly.stacks)
