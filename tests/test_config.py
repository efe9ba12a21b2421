"""Configuration validation: the default reproduces the blog example, and every mistake a user
can make is reported as a ConfigIssue naming the config path and the fix, all at once.

Bad configs are small mutations of config/default.yaml loaded as a dict; each case names the
exact path expected in an issue and a phrase of its message.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

import config as configuration
from lambdas.personalize_resources.address_book import METRIC_NAME_IN_EXPRESSION
from config import (
    AppConfig,
    AvroType,
    ConfigDeprecationWarning,
    ConfigError,
    ConfigIssue,
    load_config,
    parse_config,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "config" / "default.yaml"
MULTI_CONFIG = REPO / "config" / "multi-group.yaml"
MINIMAL_CONFIG = REPO / "tests" / "configs" / "minimal.yaml"


def default_dict() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_CONFIG.read_text())


def issues_of(raw: Any) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "test.yaml")
    assert caught.value.issues, "a ConfigError must hold at least one issue"
    return caught.value.issues


def describe(issues: list[ConfigIssue]) -> str:
    return "\n".join(f"  {issue}" for issue in issues)


# --- the default config: the AWS blog example -----------------------------------------------------


@pytest.fixture(scope="module")
def default_config() -> AppConfig:
    return load_config(DEFAULT_CONFIG)


def test_default_config_loads_as_the_blog_example(default_config: AppConfig) -> None:
    assert default_config.name == "pimpact-default"
    [group] = default_config.dataset_groups
    assert group.domain == "ECOMMERCE"
    assert group.event_tracker is True

    interactions = group.datasets.interactions.schema_
    assert [(f.name, f.type, f.nullable, f.categorical) for f in interactions.fields] == [
        ("USER_ID", AvroType.STRING, False, False),
        ("ITEM_ID", AvroType.STRING, False, False),
        ("TIMESTAMP", AvroType.LONG, False, False),
        ("EVENT_TYPE", AvroType.STRING, False, False),
    ]
    assert group.datasets.items is not None
    assert [(f.name, f.type, f.nullable, f.categorical) for f in group.datasets.items.schema_.fields] == [
        ("ITEM_ID", AvroType.STRING, False, False),
        ("PRICE", AvroType.FLOAT, False, False),
        ("CATEGORY_L1", AvroType.STRING, False, True),
        ("CATEGORY_L2", AvroType.STRING, False, True),
        ("MARGIN", AvroType.DOUBLE, False, False),
    ]
    assert group.datasets.users is None

    attribution = group.metric_attribution
    assert attribution is not None
    assert [(m.metric_name, m.event_type, m.expression) for m in attribution.metrics] == [
        ("countViews", "View", "SAMPLECOUNT()"),
        ("sumMargin", "Purchase", "SUM(ITEMS.MARGIN)"),
    ]
    assert [m.cloudwatch_name for m in attribution.metrics] == ["COUNTVIEWS", "SUMMARGIN"]
    assert attribution.s3_output is True
    assert attribution.cloudwatch is True

    assert [(r.name, r.recipe_arn, r.source_name, r.state) for r in group.recommenders] == [
        ("recommended-for-you", "arn:aws:personalize:::recipe/aws-ecomm-recommended-for-you", "recommended_for_you", "ACTIVE"),
        (
            "viewed-x-also-viewed",
            "arn:aws:personalize:::recipe/aws-ecomm-customers-who-viewed-x-also-viewed",
            "viewed_X_also_viewed",
            "ACTIVE",
        ),
    ]
    assert group.all_sources() == ["recommended_for_you", "viewed_X_also_viewed", "third_party_widget"]


def test_default_config_avro_schemas(default_config: AppConfig) -> None:
    items = default_config.dataset_groups[0].datasets.items
    assert items is not None
    assert [f.to_avro() for f in items.schema_.fields] == [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "PRICE", "type": "float"},
        {"name": "CATEGORY_L1", "type": "string", "categorical": True},
        {"name": "CATEGORY_L2", "type": "string", "categorical": True},
        {"name": "MARGIN", "type": "double"},
    ]


def test_default_config_names_and_fingerprint(default_config: AppConfig) -> None:
    assert default_config.physical_name("retail", "attribution") == "pimpact-default-retail-attribution"
    assert default_config.fingerprint() == load_config(DEFAULT_CONFIG).fingerprint()
    changed = default_dict()
    changed["datasetGroups"][0]["metricAttribution"]["metrics"][0]["eventType"] = "Click"
    assert parse_config(changed).fingerprint() != default_config.fingerprint()


@pytest.mark.parametrize("path", [MULTI_CONFIG, MINIMAL_CONFIG], ids=lambda p: p.name)
def test_other_shipped_configs_load(path: Path) -> None:
    assert isinstance(load_config(path), AppConfig)


def test_every_field_pattern_has_a_fix_hint() -> None:
    """A pattern mismatch must say how to fix the value, not only print the regex."""
    patterns: set[str] = set()

    def visit(model: Any) -> None:
        for field in model.model_fields.values():
            patterns.update(str(m.pattern) for m in field.metadata if getattr(m, "pattern", None))
            for inner in _models_in(field.annotation):
                visit(inner)

    visit(AppConfig)
    assert patterns, "expected pattern-constrained fields"
    assert patterns <= set(configuration.PATTERN_HINTS), patterns - set(configuration.PATTERN_HINTS)


def _models_in(annotation: Any) -> list[type[pydantic.BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


# --- bad configs: one mutation each ---------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def group(raw: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return raw["datasetGroups"][index]


def fields(raw: dict[str, Any], dataset: str) -> list[dict[str, Any]]:
    return group(raw)["datasets"][dataset]["schema"]["fields"]


def metrics(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return group(raw)["metricAttribution"]["metrics"]


def recommender_config(raw: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return group(raw)["recommenders"][index]["recommenderConfig"]


def drop_field(dataset: str, name: str) -> Mutation:
    def mutate(raw: dict[str, Any]) -> None:
        group(raw)["datasets"][dataset]["schema"]["fields"] = [f for f in fields(raw, dataset) if f["name"] != name]

    return mutate


def add_users(data_import: dict[str, Any] | None = None, extra: list[dict[str, Any]] | None = None) -> Mutation:
    def mutate(raw: dict[str, Any]) -> None:
        users: dict[str, Any] = {"schema": {"fields": [{"name": "USER_ID", "type": "string"}, *(extra or [])]}}
        if data_import is not None:
            users["dataImport"] = data_import
        group(raw)["datasets"]["users"] = users

    return mutate


def chain(*mutations: Mutation) -> Mutation:
    def mutate(raw: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(raw)

    return mutate


def extra_metrics(count: int) -> Mutation:
    def mutate(raw: dict[str, Any]) -> None:
        metrics(raw).extend({"eventType": "View", "expression": "SAMPLECOUNT()", "metricName": f"extra{i}"} for i in range(count))

    return mutate


def custom_group(raw: dict[str, Any]) -> None:
    """Group 0 as a custom dataset group (no domain, so no recommenders)."""
    group(raw).pop("domain")
    group(raw).pop("recommenders")


def video_group(raw: dict[str, Any]) -> None:
    """Group 0 as a valid VIDEO_ON_DEMAND group, written from the VOD pages of the Developer Guide."""
    group(raw)["domain"] = "VIDEO_ON_DEMAND"
    group(raw)["recommenders"] = [{"name": "top-picks", "recipe": "aws-vod-top-picks"}]
    group(raw)["datasets"]["items"]["schema"]["fields"] = [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRES", "type": "string", "categorical": True},
        {"name": "CREATION_TIMESTAMP", "type": "long"},
        {"name": "MARGIN", "type": "double"},
    ]


def without_attribution(raw: dict[str, Any]) -> None:
    del group(raw)["metricAttribution"]
    raw["dashboard"]["derivedMetrics"] = []


G0 = "datasetGroups[0]"
MA = f"{G0}.metricAttribution"
INTERACTIONS = f"{G0}.datasets.interactions"
ITEMS = f"{G0}.datasets.items"

# (id, mutation, expected issue path, phrase of its message)
BAD_CONFIGS: list[tuple[str, Mutation, str, str]] = [
    # schemas: required fields per dataset type
    ("interactions-without-USER_ID", drop_field("interactions", "USER_ID"), f"{INTERACTIONS}.schema.fields", "needs a `USER_ID` field of type string"),
    ("interactions-without-ITEM_ID", drop_field("interactions", "ITEM_ID"), f"{INTERACTIONS}.schema.fields", "needs a `ITEM_ID` field of type string"),
    ("interactions-without-TIMESTAMP", drop_field("interactions", "TIMESTAMP"), f"{INTERACTIONS}.schema.fields", "needs a `TIMESTAMP` field of type long"),
    ("items-without-ITEM_ID", drop_field("items", "ITEM_ID"), f"{ITEMS}.schema.fields", "the Items schema needs a `ITEM_ID` field"),
    ("users-without-USER_ID", chain(add_users(extra=[{"name": "AGE", "type": "int"}]), drop_field("users", "USER_ID")),
     f"{G0}.datasets.users.schema.fields", "the Users schema needs a `USER_ID` field"),
    ("custom-attribution-without-EVENT_TYPE", chain(custom_group, drop_field("interactions", "EVENT_TYPE")), f"{INTERACTIONS}.schema.fields", "a metric attribution needs an `EVENT_TYPE` string field"),
    ("custom-EVENT_TYPE-not-a-string", chain(custom_group, lambda raw: fields(raw, "interactions")[3].update(type="int")), f"{INTERACTIONS}.schema.fields[3].type", "`EVENT_TYPE` must be a string"),
    ("EVENT_TYPE-not-a-string", lambda raw: fields(raw, "interactions")[3].update(type="int"), f"{INTERACTIONS}.schema.fields[3].type", "`EVENT_TYPE` must be a non-nullable string (ECOMMERCE domain"),
    ("TIMESTAMP-wrong-type", lambda raw: fields(raw, "interactions")[2].update(type="string"), f"{INTERACTIONS}.schema.fields[2].type", "`TIMESTAMP` must be a non-nullable long"),
    ("USER_ID-nullable", lambda raw: fields(raw, "interactions")[0].update(nullable=True), f"{INTERACTIONS}.schema.fields[0].type", "`USER_ID` must be a non-nullable string"),
    ("unknown-avro-type", lambda raw: fields(raw, "items")[1].update(type="decimal"), f"{ITEMS}.schema.fields[1].type", "'decimal' is not allowed; use one of"),
    ("categorical-on-float", lambda raw: fields(raw, "items")[1].update(categorical=True), f"{ITEMS}.schema.fields[1].categorical", "only string fields can be categorical (PRICE is float)"),
    ("textual-on-double", lambda raw: fields(raw, "items")[4].update(textual=True), f"{ITEMS}.schema.fields[4].textual", "only string fields can be textual"),
    ("invalid-field-name", lambda raw: fields(raw, "items")[4].update(name="GROSS-MARGIN"), f"{ITEMS}.schema.fields[4].name", "not a valid Avro field name"),
    ("field-name-starts-with-digit", lambda raw: fields(raw, "items")[2].update(name="1ST_CATEGORY"), f"{ITEMS}.schema.fields[2].name", "do not start with a digit"),
    ("duplicate-field", lambda raw: fields(raw, "items").append({"name": "PRICE", "type": "double"}), f"{ITEMS}.schema.fields", "field 'PRICE' is declared twice"),
    ("empty-schema", lambda raw: group(raw)["datasets"]["items"]["schema"].update(fields=[]), f"{ITEMS}.schema.fields", "at least 1 item"),
    ("missing-interactions", lambda raw: group(raw)["datasets"].pop("interactions"), f"{G0}.datasets.interactions", "is required; add it"),
    # documented domain requirements (config/schema_rules.py SCHEMA_RULES)
    ("ecommerce-interactions-need-EVENT_TYPE-without-attribution", chain(without_attribution, drop_field("interactions", "EVENT_TYPE")),
     f"{INTERACTIONS}.schema.fields", "the Interactions schema needs a `EVENT_TYPE` field of type string (ECOMMERCE domain"),
    ("ecommerce-items-without-PRICE", drop_field("items", "PRICE"), f"{ITEMS}.schema.fields", "needs a `PRICE` field of type float (ECOMMERCE domain"),
    ("ecommerce-items-without-CATEGORY_L1", drop_field("items", "CATEGORY_L1"), f"{ITEMS}.schema.fields", "add `- {name: CATEGORY_L1, type: string, categorical: true}`"),
    ("ecommerce-PRICE-double", lambda raw: fields(raw, "items")[1].update(type="double"), f"{ITEMS}.schema.fields[1].type", "`PRICE` must be a non-nullable float"),
    ("ecommerce-PRICE-nullable", lambda raw: fields(raw, "items")[1].update(nullable=True), f"{ITEMS}.schema.fields[1].type", "`PRICE` must be a non-nullable float"),
    ("ecommerce-CATEGORY_L1-not-categorical", lambda raw: fields(raw, "items")[2].update(categorical=False), f"{ITEMS}.schema.fields[2].categorical",
     "`CATEGORY_L1` must be a categorical string (ECOMMERCE domain, https://docs.aws.amazon.com/personalize/latest/dg/ECOMMERCE-items-dataset.html); add `categorical: true`"),
    ("ecommerce-reserved-CATEGORY_L2-not-categorical", lambda raw: fields(raw, "items")[3].update(categorical=False), f"{ITEMS}.schema.fields[3].categorical",
     "`CATEGORY_L2` is a reserved name in Items schemas (ECOMMERCE domain"),
    ("ecommerce-reserved-PRODUCT_DESCRIPTION-not-textual", lambda raw: fields(raw, "items").append({"name": "PRODUCT_DESCRIPTION", "type": "string"}),
     f"{ITEMS}.schema.fields[5].textual", "it must be a textual string; add `textual: true`"),
    ("ecommerce-reserved-CREATION_TIMESTAMP-string", lambda raw: fields(raw, "items").append({"name": "CREATION_TIMESTAMP", "type": "string"}),
     f"{ITEMS}.schema.fields[5].type", "`CREATION_TIMESTAMP` is a reserved name in Items schemas (ECOMMERCE domain, https://docs.aws.amazon.com/personalize/latest/dg/ECOMMERCE-items-dataset.html)"),
    ("ecommerce-reserved-EVENT_VALUE-int", lambda raw: fields(raw, "interactions").append({"name": "EVENT_VALUE", "type": "int"}),
     f"{INTERACTIONS}.schema.fields[4].type", "it must be a float (null allowed); write `- {name: EVENT_VALUE, type: float}` or rename the field"),
    ("ecommerce-reserved-IMPRESSION-categorical", lambda raw: fields(raw, "interactions").append({"name": "IMPRESSION", "type": "string", "categorical": True, "nullable": True}),
     f"{INTERACTIONS}.schema.fields[4].categorical", "that is not categorical; drop `categorical`"),
    ("ecommerce-users-without-metadata", add_users(), f"{G0}.datasets.users.schema.fields",
     "the Users schema needs at least one metadata field besides USER_ID (a categorical string or a number; ECOMMERCE domain"),
    ("ecommerce-users-plain-string-is-not-metadata", add_users(extra=[{"name": "NICKNAME", "type": "string"}]), f"{G0}.datasets.users.schema.fields", "at least one metadata field"),
    ("vod-items-without-GENRES", chain(video_group, drop_field("items", "GENRES")), f"{ITEMS}.schema.fields", "needs a `GENRES` field of type categorical string (VIDEO_ON_DEMAND domain"),
    ("vod-items-without-CREATION_TIMESTAMP", chain(video_group, drop_field("items", "CREATION_TIMESTAMP")), f"{ITEMS}.schema.fields", "needs a `CREATION_TIMESTAMP` field of type number (epoch seconds; long in the default schemas)"),
    ("vod-items-GENRES-not-categorical", chain(video_group, lambda raw: fields(raw, "items")[1].update(categorical=False)), f"{ITEMS}.schema.fields[1].categorical", "`GENRES` must be a categorical string"),
    ("vod-reserved-DURATION-long", chain(video_group, lambda raw: fields(raw, "items").append({"name": "DURATION", "type": "long"})),
     f"{ITEMS}.schema.fields[4].type", "`DURATION` is a reserved name in Items schemas (VIDEO_ON_DEMAND domain"),
    ("vod-interactions-need-EVENT_TYPE", chain(video_group, without_attribution, drop_field("interactions", "EVENT_TYPE")),
     f"{INTERACTIONS}.schema.fields", "needs a `EVENT_TYPE` field of type string (VIDEO_ON_DEMAND domain, https://docs.aws.amazon.com/personalize/latest/dg/VIDEO-ON-DEMAND-interactions-dataset.html)"),
    ("vod-users-reserved-SUBSCRIPTION_MODEL-not-categorical", chain(video_group, add_users(extra=[{"name": "SUBSCRIPTION_MODEL", "type": "string"}])),
     f"{G0}.datasets.users.schema.fields[1].categorical", "`SUBSCRIPTION_MODEL` is a reserved name in Users schemas"),
    ("custom-EVENT_TYPE-categorical", chain(custom_group, lambda raw: fields(raw, "interactions")[3].update(categorical=True)),
     f"{INTERACTIONS}.schema.fields[3].categorical", "`EVENT_TYPE` is a reserved name in Interactions schemas (custom dataset group"),
    ("custom-users-without-metadata", chain(custom_group, add_users()), f"{G0}.datasets.users.schema.fields", "(any field; custom dataset group"),
    # numbers: a YAML boolean is not a number, wherever a number is expected
    ("recommender-config-min-tps-true", lambda raw: recommender_config(raw).update(minRecommendationRequestsPerSecond=True),
     f"{G0}.recommenders[0].recommenderConfig.minRecommendationRequestsPerSecond", "must be a number, but YAML read true as a boolean"),
    ("noncurrent-days-true", lambda raw: raw.update(noncurrentVersionDays=True), "noncurrentVersionDays", "must be a number, but YAML read true as a boolean"),
    ("timeout-hours-false", lambda raw: raw.update(longWaitTimeoutHours=False), "longWaitTimeoutHours", "must be a number, but YAML read false as a boolean"),
    ("alarm-threshold-true", lambda raw: raw["dashboard"].update(alarms=[{"name": "quiet", "datasetGroup": "retail", "metric": "countViews", "source": "third_party_widget", "threshold": True}]),
     "dashboard.alarms[0].threshold", "must be a number"),
    # unknown keys, with a suggestion
    ("unknown-key-top-level", lambda raw: raw.update(removalPolicies="DESTROY"), "removalPolicies", "unknown field; did you mean `removalPolicy`?"),
    ("unknown-key-in-field", lambda raw: fields(raw, "items")[2].update(categorial=True), f"{ITEMS}.schema.fields[2].categorial", "did you mean `categorical`?"),
    ("unknown-key-in-metric", lambda raw: metrics(raw)[0].update(metricname=metrics(raw)[0].pop("metricName")), f"{MA}.metrics[0].metricname", "did you mean `metricName`?"),
    ("unknown-key-in-group", lambda raw: group(raw).update(recommender=group(raw).pop("recommenders")), f"{G0}.recommender", "did you mean `recommenders`?"),
    # names
    ("name-pattern", lambda raw: raw.update(name="Pimpact_Default"), "name", "use lower-case letters, digits and '-'"),
    ("name-too-long-for-pydantic", lambda raw: raw.update(name="p" * 21), "name", "at most 20 characters"),
    ("physical-names-over-63", lambda raw: (raw.update(name="pimpact-production-1"), group(raw).update(name="retail-europe-and-middle-east")),
     f"{G0}.name", "exceed 63 characters; shorten `name` or the dataset group name"),
    ("recommender-physical-name-over-63", lambda raw: (group(raw).update(name="retail-europe-ab"), group(raw)["recommenders"][0].update(name="r" * 40)),
     f"{G0}.recommenders[0].name", "more than 63; shorten the recommender `name`"),
    ("group-name-pattern", lambda raw: group(raw).update(name="Retail"), f"{G0}.name", "does not match ^[a-z0-9][a-z0-9-]*$"),
    ("metric-name-pattern", lambda raw: metrics(raw)[0].update(metricName="count-views"), f"{MA}.metrics[0].metricName", "start with a letter, then use letters, digits and '_'"),
    ("duplicate-dataset-group-names", lambda raw: raw["datasetGroups"].append(copy.deepcopy(group(raw))), "datasetGroups", "dataset group name 'retail' is used twice"),
    ("duplicate-recommender-names", lambda raw: group(raw)["recommenders"][1].update(name="recommended-for-you"), f"{G0}.recommenders", "recommender name 'recommended-for-you' is used twice"),
    # metric attribution
    ("duplicate-metric-names", lambda raw: metrics(raw)[1].update(metricName="countViews"), f"{MA}.metrics", "metric name 'COUNTVIEWS' appears twice"),
    ("metric-names-differing-in-case", lambda raw: metrics(raw)[1].update(metricName="COUNTviews"), f"{MA}.metrics", "CloudWatch upper-cases names"),
    ("metric-expression-grammar", lambda raw: metrics(raw)[1].update(expression="SUM(ITEMS.MARGIN) * 2"), f"{MA}.metrics[1].expression", "is not SAMPLECOUNT() or SUM(INTERACTIONS.COLUMN)"),
    ("metric-expression-count", lambda raw: metrics(raw)[0].update(expression="COUNT(*)"), f"{MA}.metrics[0].expression", "is not SAMPLECOUNT()"),
    ("metric-unknown-dataset", lambda raw: metrics(raw)[1].update(expression="SUM(USERS.AGE)"), f"{MA}.metrics[1].expression", "use INTERACTIONS or ITEMS"),
    ("sum-missing-column", lambda raw: metrics(raw)[1].update(expression="SUM(ITEMS.COST)"), f"{MA}.metrics[1].expression", "the Items schema has no column 'COST'; numeric columns there: PRICE, MARGIN"),
    ("sum-non-numeric-column", lambda raw: metrics(raw)[1].update(expression="SUM(ITEMS.CATEGORY_L1)"), f"{MA}.metrics[1].expression", "SUM needs a numeric column, but CATEGORY_L1 is string"),
    ("sum-interactions-missing-column", lambda raw: metrics(raw)[1].update(expression="SUM(INTERACTIONS.EVENT_VALUE)"), f"{MA}.metrics[1].expression", "the Interactions schema has no column 'EVENT_VALUE'"),
    ("items-metric-without-items-dataset", lambda raw: group(raw)["datasets"].pop("items"), f"{MA}.metrics[1].expression", "needs an Items dataset; add datasets.items"),
    ("more-than-10-metrics", extra_metrics(9), f"{MA}.metrics", "has 11 metrics; a metric attribution allows at most 10"),
    ("no-metrics", lambda raw: group(raw)["metricAttribution"].update(metrics=[]), f"{MA}.metrics", "at least 1 item"),
    # recommenders
    ("recipe-not-in-domain", lambda raw: group(raw).update(domain="VIDEO_ON_DEMAND"), f"{G0}.recommenders[0].recipe", "is not a VIDEO_ON_DEMAND recipe; use one of aws-vod-"),
    ("vod-recipe-in-ecommerce", lambda raw: group(raw)["recommenders"][1].update(recipe="aws-vod-top-picks"), f"{G0}.recommenders[1].recipe", "is not an ECOMMERCE recipe; use one of aws-ecomm-"),
    ("recipe-arn-not-in-domain", lambda raw: group(raw)["recommenders"][0].update(recipe="arn:aws:personalize:::recipe/aws-vod-more-like-x"), f"{G0}.recommenders[0].recipe", "is not an ECOMMERCE recipe"),
    ("unknown-domain", lambda raw: group(raw).update(domain="RETAIL"), f"{G0}.domain", "'RETAIL' is not allowed; use one of 'ECOMMERCE' or 'VIDEO_ON_DEMAND'"),
    ("recommenders-on-custom-group", lambda raw: group(raw).pop("domain"), f"{G0}.recommenders", "recommenders need a domain dataset group; set `domain: ECOMMERCE`"),
    ("recommender-state", lambda raw: group(raw)["recommenders"][0].update(state="STOPPED"), f"{G0}.recommenders[0].state", "use one of 'ACTIVE' or 'INACTIVE'"),
    ("recommender-config-unknown-key", lambda raw: recommender_config(raw).update(minRecommendationRequestPerSecond=2),
     f"{G0}.recommenders[0].recommenderConfig", 'Unknown parameter in input: "minRecommendationRequestPerSecond"'),
    ("recommender-config-min-tps-0", lambda raw: recommender_config(raw).update(minRecommendationRequestsPerSecond=0),
     f"{G0}.recommenders[0].recommenderConfig", "minRecommendationRequestsPerSecond, value: 0, valid min value: 1"),
    ("recommender-config-wrong-type", lambda raw: recommender_config(raw, 1).update(minRecommendationRequestsPerSecond="2"),
     f"{G0}.recommenders[1].recommenderConfig", "Invalid type for parameter minRecommendationRequestsPerSecond"),
    ("recommender-config-too-many-hyperparameters", lambda raw: recommender_config(raw).update(itemExplorationConfig={f"p{i}": "1" for i in range(101)}),
     f"{G0}.recommenders[0].recommenderConfig.itemExplorationConfig", "the API allows at most 100"),
    ("recommender-config-excluded-unknown-column", lambda raw: recommender_config(raw).update(trainingDataConfig={"excludedDatasetColumns": {"ITEMS": ["PRICE", "COST"]}}),
     f"{G0}.recommenders[0].recommenderConfig.trainingDataConfig.excludedDatasetColumns.ITEMS[1]", "'COST' is not a column of the Items schema"),
    ("recommender-config-excluded-missing-dataset", lambda raw: recommender_config(raw).update(trainingDataConfig={"excludedDatasetColumns": {"USERS": ["AGE"]}}),
     f"{G0}.recommenders[0].recommenderConfig.trainingDataConfig.excludedDatasetColumns.USERS", "not a dataset of this group; use one of INTERACTIONS, ITEMS"),
    # attribution sources
    ("sources-differing-in-case", lambda raw: group(raw).update(attributionSources=["RECOMMENDED_FOR_YOU"]), f"{G0}.attributionSources[0]",
     f"'RECOMMENDED_FOR_YOU' is shared by recommender recommended-for-you ({G0}.recommenders[0].attributionSource) and a third-party source"),
    ("default-source-collides", lambda raw: (group(raw)["recommenders"][1].pop("attributionSource"), group(raw)["recommenders"][1].update(name="recommended-for-you-2"),
                                             group(raw).update(attributionSources=["Recommended_For_You_2"])), f"{G0}.attributionSources[0]",
     f"recommender recommended-for-you-2 ({G0}.recommenders[1].name) and a third-party source ({G0}.attributionSources[0]); CloudWatch upper-cases sources"),
    ("campaign-source-collides-with-recommender", lambda raw: group(raw).update(solutions=[
        {"name": "similar", "recipe": "aws-similar-items", "campaigns": [{"name": "similar", "attributionSource": "Recommended_For_You"}]}]),
     f"{G0}.solutions[0].campaigns[0].attributionSource",
     f"shared by recommender recommended-for-you ({G0}.recommenders[0].attributionSource) and campaign similar ({G0}.solutions[0].campaigns[0].attributionSource)"),
    ("source-pattern", lambda raw: group(raw)["recommenders"][0].update(attributionSource="for you"), f"{G0}.recommenders[0].attributionSource", "use letters, digits, '_' and '-'"),
    ("third-party-source-pattern", lambda raw: group(raw).update(attributionSources=["-widget"]), f"{G0}.attributionSources[0]", "does not match"),
    # imports
    ("absolute-import-location", lambda raw: group(raw)["datasets"]["interactions"]["dataImport"].update(location="/data/interactions.csv"),
     f"{INTERACTIONS}.dataImport.location", "must be `sample`, an s3:// URI or a key relative to the data bucket's import prefix"),
    ("parent-dir-import-location", lambda raw: group(raw)["datasets"]["items"]["dataImport"].update(location="../items.csv"), f"{ITEMS}.dataImport.location", "must be `sample`"),
    ("bad-s3-uri", lambda raw: group(raw)["datasets"]["items"]["dataImport"].update(location="s3://My_Bucket/items.csv"), f"{ITEMS}.dataImport.location", "is not a valid S3 URI; write s3://bucket/key"),
    ("undeclared-external-bucket", lambda raw: group(raw)["datasets"]["items"]["dataImport"].update(location="s3://partner-exports/items/"),
     f"{ITEMS}.dataImport.location", "bucket 'partner-exports' is not this app's data bucket: add it to `externalBuckets`"),
    ("sample-for-users", add_users({"location": "sample"}), f"{G0}.datasets.users.dataImport.location", "the sample data has no Users file"),
    ("import-mode", lambda raw: group(raw)["datasets"]["items"]["dataImport"].update(mode="DELTA"), f"{ITEMS}.dataImport.mode", "use one of 'FULL' or 'INCREMENTAL'"),
    ("import-version-chars", lambda raw: group(raw)["datasets"]["items"]["dataImport"].update(version="v 2"), f"{ITEMS}.dataImport.version", "use up to 20 letters, digits"),
    ("import-version-unquoted-number", lambda raw: group(raw)["datasets"]["items"]["dataImport"].update(version=2), f"{ITEMS}.dataImport.version", 'put it in quotes, e.g. "2"'),
    # dashboard
    ("derived-metric-unknown-metric", lambda raw: raw["dashboard"]["derivedMetrics"][0].update(expression="sumMargin / countView"),
     "dashboard.derivedMetrics[0].expression", "refers to countView, which no metric attribution defines"),
    ("derived-metric-bad-characters", lambda raw: raw["dashboard"]["derivedMetrics"][0].update(expression="sumMargin % countViews"),
     "dashboard.derivedMetrics[0].expression", "use metric names, numbers, + - * / and parentheses only"),
    ("duplicate-derived-metrics", lambda raw: raw["dashboard"]["derivedMetrics"].append(dict(raw["dashboard"]["derivedMetrics"][0])), "dashboard.derivedMetrics", "'marginPerView' is defined twice"),
    ("alarm-unknown-metric", lambda raw: raw["dashboard"].update(alarms=[{"name": "quiet", "datasetGroup": "retail", "metric": "countClicks", "source": "third_party_widget"}]),
     "dashboard.alarms[0].metric", "'countClicks' is not a metric of retail; use one of ['countViews', 'sumMargin']"),
    ("alarm-unknown-source", lambda raw: raw["dashboard"].update(alarms=[{"name": "quiet", "datasetGroup": "retail", "metric": "countViews", "source": "vendor_widget"}]),
     "dashboard.alarms[0].source", "'vendor_widget' is not a known source of retail; add it to attributionSources"),
    ("alarm-unknown-group", lambda raw: raw["dashboard"].update(alarms=[{"name": "quiet", "datasetGroup": "shop", "metric": "countViews", "source": "third_party_widget"}]),
     "dashboard.alarms[0].datasetGroup", "no dataset group 'shop'; use one of ['retail']"),
    ("alarm-without-cloudwatch", lambda raw: (group(raw)["metricAttribution"].update(cloudwatch=False),
                                              raw["dashboard"].update(alarms=[{"name": "quiet", "datasetGroup": "retail", "metric": "countViews", "source": "third_party_widget"}])),
     "dashboard.alarms[0].datasetGroup", "does not publish metrics to CloudWatch (metricAttribution.cloudwatch is false)"),
    ("alarm-periods", lambda raw: raw["dashboard"].update(alarms=[{"name": "quiet", "datasetGroup": "retail", "metric": "countViews", "source": "third_party_widget", "periods": 0}]),
     "dashboard.alarms[0].periods", "greater than or equal to 1"),
    ("alarms-with-dashboard-disabled", lambda raw: raw["dashboard"].update(enabled=False, alarms=[{"name": "quiet", "datasetGroup": "retail", "metric": "countViews", "source": "third_party_widget"}]),
     "dashboard.alarms", "dashboard.enabled is false"),
    ("alarm-email", lambda raw: raw["dashboard"].update(alarmEmail="team-at-example.com"), "dashboard.alarmEmail", "use an email address"),
    # encryption and stack settings
    ("kms-key-arn-with-s3-managed", lambda raw: raw["encryption"].update(kmsKeyArn="arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
     "encryption", "kmsKeyArn is set but mode is S3_MANAGED; set mode: KMS"),
    ("kms-key-arn-malformed", lambda raw: raw["encryption"].update(mode="KMS", kmsKeyArn="alias/personalize"), "encryption.kmsKeyArn", "use a KMS key ARN such as arn:aws:kms:"),
    ("removal-policy", lambda raw: raw.update(removalPolicy="DELETE"), "removalPolicy", "'DELETE' is not allowed; use one of 'RETAIN' or 'DESTROY'"),
    ("timeout-over-12-hours", lambda raw: raw.update(longWaitTimeoutHours=13), "longWaitTimeoutHours", "less than or equal to 12"),
    ("no-dataset-groups", lambda raw: raw.update(datasetGroups=[]), "datasetGroups", "at least 1 item"),
    ("missing-name", lambda raw: raw.pop("name"), "name", "is required"),
    ("tags-not-strings", lambda raw: raw["tags"].update(cost_center=1234), "tags.cost_center", 'put it in quotes, e.g. "1234"'),
]


def test_enough_distinct_bad_configs() -> None:
    assert len(BAD_CONFIGS) >= 20
    assert len({case[0] for case in BAD_CONFIGS}) == len(BAD_CONFIGS)


@pytest.mark.parametrize(("mutation", "path", "phrase"), [case[1:] for case in BAD_CONFIGS], ids=[case[0] for case in BAD_CONFIGS])
def test_bad_config_names_path_and_fix(mutation: Mutation, path: str, phrase: str) -> None:
    raw = default_dict()
    mutation(raw)
    issues = issues_of(raw)
    assert any(issue.path == path and phrase in issue.message for issue in issues), f"expected {path}: ...{phrase}...; got\n{describe(issues)}"
    for issue in issues:
        assert issue.path and issue.message, issue


def test_issues_of_one_kind_are_all_reported_together() -> None:
    """Semantic problems anywhere in the file come back in one error, in file order."""
    raw = default_dict()
    fields(raw, "items")[1]["categorical"] = True
    metrics(raw)[1]["expression"] = "SUM(ITEMS.COST)"
    group(raw)["recommenders"][1]["recipe"] = "aws-vod-top-picks"
    recommender_config(raw)["minRecommendationRequestsPerSecond"] = 0
    raw["dashboard"]["derivedMetrics"][0]["expression"] = "sumMargin / clicks"
    issues = issues_of(raw)
    assert [issue.path for issue in issues] == [
        f"{ITEMS}.schema.fields[1].categorical",
        f"{MA}.metrics[1].expression",
        f"{G0}.recommenders[0].recommenderConfig",
        f"{G0}.recommenders[1].recipe",
        "dashboard.derivedMetrics[0].expression",
    ], describe(issues)


def test_structural_issues_are_all_reported_together() -> None:
    raw = default_dict()
    raw["removalPolicy"] = "DELETE"
    group(raw)["eventTracker"] = "sometimes"
    fields(raw, "items")[0]["type"] = "text"
    metrics(raw)[0]["metricNmae"] = metrics(raw)[0].pop("metricName")
    raw["dashboard"]["alarms"] = [{"name": "x", "datasetGroup": "retail", "metric": "countViews"}]
    issues = issues_of(raw)
    paths = {issue.path for issue in issues}
    assert {
        "removalPolicy",
        f"{G0}.eventTracker",
        f"{ITEMS}.schema.fields[0].type",
        f"{MA}.metrics[0].metricName",
        f"{MA}.metrics[0].metricNmae",
        "dashboard.alarms[0].source",
    } <= paths, describe(issues)


def test_config_error_message_lists_every_issue() -> None:
    raw = default_dict()
    metrics(raw)[0]["expression"] = "COUNT()"
    metrics(raw)[1]["expression"] = "SUM(ITEMS.CATEGORY_L2)"
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, "config/broken.yaml")
    text = str(caught.value)
    assert text.startswith("config/broken.yaml: 2 configuration problems:")
    assert f"  - {MA}.metrics[0].expression: 'COUNT()'" in text
    assert f"  - {MA}.metrics[1].expression: SUM needs a numeric column" in text


def test_valid_mutations_pass() -> None:
    """Counterparts of some bad configs that must stay accepted."""
    raw = default_dict()
    group(raw)["recommenders"][0]["recipe"] = "arn:aws:personalize:::recipe/aws-ecomm-popular-items-by-views"
    metrics(raw).extend({"eventType": "Purchase", "expression": "SUM(ITEMS.PRICE)", "metricName": f"revenue{i}"} for i in range(8))
    recommender_config(raw, 1)["trainingDataConfig"] = {"excludedDatasetColumns": {"ITEMS": ["CATEGORY_L2"]}}
    group(raw)["datasets"]["items"]["dataImport"] = {"location": "s3://partner-exports/items/", "mode": "INCREMENTAL", "version": "2026-11"}
    raw["externalBuckets"] = ["partner-exports"]
    raw["encryption"] = {"mode": "KMS", "kmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
    raw["dashboard"]["alarms"] = [{"name": "widget-quiet", "datasetGroup": "retail", "metric": "countViews", "source": "THIRD_PARTY_WIDGET"}]
    config = parse_config(raw)
    assert len(config.dataset_groups[0].metric_attribution.metrics) == 10  # type: ignore[union-attr]


def test_event_type_is_only_required_with_a_metric_attribution_in_a_custom_group() -> None:
    raw = default_dict()
    chain(custom_group, without_attribution, drop_field("interactions", "EVENT_TYPE"))(raw)
    config = parse_config(raw)
    assert config.dataset_groups[0].metric_attribution is None and config.dataset_groups[0].domain is None


def test_documented_domain_schemas_pass() -> None:
    """The default schemas of the Developer Guide's domain pages, with every reserved name in
    its documented form, and Users datasets with one metadata field."""
    ecommerce = default_dict()
    fields(ecommerce, "interactions").extend(
        [
            {"name": "EVENT_VALUE", "type": "float", "nullable": True},
            {"name": "IMPRESSION", "type": "string", "nullable": True},
            {"name": "RECOMMENDATION_ID", "type": "string", "nullable": True},
            {"name": "EVENT_ATTRIBUTION_SOURCE", "type": "string", "nullable": True},
        ]
    )
    fields(ecommerce, "items").extend(
        [
            {"name": "CATEGORY_L3", "type": "string", "categorical": True, "nullable": True},
            {"name": "PRODUCT_DESCRIPTION", "type": "string", "textual": True, "nullable": True},
            {"name": "CREATION_TIMESTAMP", "type": "float"},  # the ECOMMERCE Items page's type; long passes too
            {"name": "GENDER", "type": "string", "categorical": True, "nullable": True},
        ]
    )
    add_users(extra=[{"name": "MEMBERSHIP", "type": "string", "categorical": True}])(ecommerce)
    assert parse_config(ecommerce).dataset_groups[0].datasets.users is not None

    video = default_dict()
    video_group(video)
    fields(video, "items").extend([{"name": "DURATION", "type": "float"}, {"name": "CONTENT_OWNER", "type": "string", "categorical": True, "nullable": True}])
    add_users(extra=[{"name": "SUBSCRIPTION_MODEL", "type": "string", "categorical": True}])(video)
    assert parse_config(video).dataset_groups[0].domain == "VIDEO_ON_DEMAND"

    custom = default_dict()
    chain(custom_group, add_users(extra=[{"name": "NICKNAME", "type": "string"}]))(custom)  # custom Users: any metadata field
    fields(custom, "items")[2]["categorical"] = False  # CATEGORY_L1 means nothing special without a domain
    assert parse_config(custom).dataset_groups[0].domain is None


def test_every_schema_rule_cites_its_page() -> None:
    for (domain, dataset_type), rules in configuration.SCHEMA_RULES.items():
        assert rules.source.startswith("https://docs.aws.amazon.com/personalize/latest/dg/"), (domain, dataset_type)
        assert rules.required, (domain, dataset_type)
    assert {key for key in configuration.SCHEMA_RULES} == {(d, t) for d in ("ECOMMERCE", "VIDEO_ON_DEMAND", None) for t in ("interactions", "items", "users")}


@pytest.mark.parametrize("written", ["SUM(Items.MARGIN)", "SUM(items.MARGIN)", "SUM( iTeMs.MARGIN )", "SUM(ITEMS.MARGIN)"])
def test_expression_dataset_names_are_case_insensitive_and_upper_cased(written: str) -> None:
    raw = default_dict()
    metrics(raw)[1]["expression"] = written
    metric = parse_config(raw).dataset_groups[0].metric_attribution.metrics[1]  # type: ignore[union-attr]
    assert metric.expression == written.replace("Items", "ITEMS").replace("items", "ITEMS").replace("iTeMs", "ITEMS")
    assert "ITEMS.MARGIN" in metric.expression


def test_column_names_stay_case_sensitive() -> None:
    raw = default_dict()
    metrics(raw)[1]["expression"] = "SUM(Items.margin)"
    issues = issues_of(raw)
    assert [issue.path for issue in issues] == [f"{MA}.metrics[1].expression"]
    assert "no column 'margin'" in issues[0].message


@pytest.mark.parametrize("expression", ["sumMargin * 1e3 / countViews", "1.5E-2 * sumMargin", "(sumMargin + 2) / (countViews + 1e+0)", "100*sumMargin/countViews"])
def test_numbers_in_derived_metrics_are_not_metric_names(expression: str) -> None:
    raw = default_dict()
    raw["dashboard"]["derivedMetrics"][0]["expression"] = expression
    assert parse_config(raw).dashboard.derived_metrics[0].expression == expression


def test_metric_names_in_an_expression_skip_exponents() -> None:
    assert METRIC_NAME_IN_EXPRESSION.findall("sumMargin * 1e3 / countViews2") == ["sumMargin", "countViews2"]


# --- reading files ------------------------------------------------------------------------------


def test_bad_yaml_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: pimpact\ndatasetGroups:\n  - name: retail\n    domain: [ECOMMERCE\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [issue] = caught.value.issues
    assert re.fullmatch(r"line \d+, column \d+", issue.path), issue
    assert issue.path == "line 5, column 1"
    assert "not valid YAML" in issue.message and "fix the syntax there" in issue.message
    assert str(path) in str(caught.value)


def test_tab_indentation_is_reported_with_position(tmp_path: Path) -> None:
    path = tmp_path / "tabs.yaml"
    path.write_text("name: pimpact\ndatasetGroups:\n\t- name: retail\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.issues[0].path.startswith("line 3, column ")


@pytest.mark.parametrize("text", ["- name: pimpact\n", "just a string\n", "", "42\n"], ids=["list", "string", "empty", "number"])
def test_non_mapping_top_level(tmp_path: Path, text: str) -> None:
    path = tmp_path / "top.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [issue] = caught.value.issues
    assert issue.path == "(top level)"
    assert "must be a mapping with at least `name` and `datasetGroups`" in issue.message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, choose_with="--config PATH")
    [issue] = caught.value.issues
    assert issue.path == "(file)"
    assert "cannot read it" in issue.message and "pass an existing file with --config PATH" in issue.message
    assert str(path) in str(caught.value)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.issues[0].path == "(file)"


# --- app.py end to end --------------------------------------------------------------------------


def test_app_reports_config_errors_without_traceback(tmp_path: Path) -> None:
    """Two bad configs through `python app.py`, run side by side: exit 2, the field, no traceback."""
    semantic = default_dict()
    metrics(semantic)[1]["expression"] = "SUM(ITEMS.CATEGORY_L1)"
    group(semantic)["recommenders"][0]["recommenderConfig"]["minRecommendationRequestsPerSecond"] = 0
    (tmp_path / "semantic.yaml").write_text(yaml.safe_dump(semantic))
    (tmp_path / "syntax.yaml").write_text("name: pimpact\ndatasetGroups: [\n")

    env = {k: v for k, v in os.environ.items() if k != "CDK_CONTEXT_JSON"}
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    runs = {}
    for name in ("semantic", "syntax"):
        runs[name] = subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=REPO,
            env={**env, "PERSONALIZE_IMPACT_CONFIG": str(tmp_path / f"{name}.yaml"), "CDK_OUTDIR": str(tmp_path / f"out-{name}")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    results = {name: (run.communicate(timeout=180), run.returncode) for name, run in runs.items()}

    (_, err), code = results["semantic"]
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith("error: ")
    assert f"{MA}.metrics[1].expression: SUM needs a numeric column" in err
    assert f"{G0}.recommenders[0].recommenderConfig: Invalid value for parameter minRecommendationRequestsPerSecond" in err
    assert "2 configuration problems:" in err

    (_, err), code = results["syntax"]
    assert code == 2, err
    assert "Traceback" not in err
    assert "syntax.yaml" in err and "line 3, column 1: not valid YAML" in err


def test_the_old_name_of_the_long_wait_timeout_still_works_with_a_warning() -> None:
    raw = default_dict()
    raw["recommenderReadyTimeoutHours"] = raw.pop("longWaitTimeoutHours") + 2
    with pytest.warns(ConfigDeprecationWarning, match="`recommenderReadyTimeoutHours` is deprecated; rename it `longWaitTimeoutHours`"):
        config = parse_config(raw)
    assert config.long_wait_timeout_hours == 10


def test_the_old_name_of_the_long_wait_timeout_is_named_in_its_errors() -> None:
    raw = default_dict()
    raw["recommenderReadyTimeoutHours"] = raw.pop("longWaitTimeoutHours") + 5
    with pytest.warns(ConfigDeprecationWarning), pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert [issue.path for issue in caught.value.issues] == ["recommenderReadyTimeoutHours"]


def test_both_names_of_the_long_wait_timeout_are_refused() -> None:
    raw = {**default_dict(), "recommenderReadyTimeoutHours": 8}
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert [str(issue) for issue in caught.value.issues] == [
        "recommenderReadyTimeoutHours: is the old name of `longWaitTimeoutHours`, which is set too; remove `recommenderReadyTimeoutHours`"
    ]


def test_synth_prints_the_deprecation_and_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = default_dict()
    raw["recommenderReadyTimeoutHours"] = raw.pop("longWaitTimeoutHours")
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(raw))
    import app

    config = app.load_or_report(str(path))
    assert config is not None and config.long_wait_timeout_hours == 8
    assert capsys.readouterr().err == (
        f"warning: {path}: `recommenderReadyTimeoutHours` is deprecated; rename it `longWaitTimeoutHours`"
        " (it bounds every long wait, not only recommenders')\n"
    )


@pytest.mark.parametrize(
    ("changes", "path", "fix"),
    [
        ({"removalPolicy": "DESTROY"}, "reuseRetainedBuckets", "set removalPolicy: RETAIN"),
        ({"encryption": {"mode": "KMS"}}, "encryption.kmsKeyArn", "DataKeyArn"),
    ],
)
def test_reusing_retained_buckets_needs_retain_and_the_retained_key(changes, path, fix):
    raw = {**yaml.safe_load((REPO / "config" / "default.yaml").read_text()), "reuseRetainedBuckets": True, **changes}
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    [issue] = caught.value.issues
    assert issue.path == path and fix in issue.message


def test_unknown_time_zone_names_the_field_and_an_example(tmp_path):
    text = (REPO / "config" / "default.yaml").read_text().replace("  - name: retail\n", "  - name: retail\n    timezone: Mars/Olympus\n", 1)
    path = tmp_path / "tz.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "datasetGroups[0].timezone: 'Mars/Olympus' is not an IANA time zone name; use one like Europe/Berlin" in str(error.value)
