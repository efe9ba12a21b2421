"""What the Personalize Developer Guide fixes about dataset schemas, per domain and dataset type,
as data: one table, read by `config.rules.datasets`; every entry names the page it was read
from (pages read in November 2026)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field


NUMERIC_TYPES = {"int", "long", "float", "double"}
DATASET_TYPE_NAMES = {"interactions": "Interactions", "items": "Items", "users": "Users"}


# One table, read by `schema_issues`; every entry names the Developer Guide page it was read
# from (pages read in November 2026):
DG = "https://docs.aws.amazon.com/personalize/latest/dg/"
ECOMMERCE_PAGE = DG + "ECOMMERCE-datasets-and-schemas.html"  # required fields + reserved keywords, all three types
ECOMMERCE_ITEMS_PAGE = DG + "ECOMMERCE-items-dataset.html"  # ITEM_ID, PRICE (float), CATEGORY_L1 (categorical) + reserved
ECOMMERCE_USERS_PAGE = DG + "ECOMMERCE-users-dataset.html"  # USER_ID + 1 metadata field (categorical string or numerical)
VOD_PAGE = DG + "VIDEO-ON-DEMAND-datasets-and-schemas.html"  # table incl. EVENT_ATTRIBUTION_SOURCE, SUBSCRIPTION_MODEL
VOD_INTERACTIONS_PAGE = DG + "VIDEO-ON-DEMAND-interactions-dataset.html"  # USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE
VOD_ITEMS_PAGE = DG + "VIDEO-ON-DEMAND-items-dataset.html"  # ITEM_ID, GENRES, CREATION_TIMESTAMP + reserved
VOD_USERS_PAGE = DG + "VIDEO-ON-DEMAND-users-dataset.html"  # USER_ID + 1 metadata field; SUBSCRIPTION_MODEL reserved
CUSTOM_USERS_PAGE = DG + "user-dataset-requirements.html"  # "minimum one metadata field"
CUSTOM_SCHEMA_PAGE = DG + "how-it-works-dataset-schema.html"  # custom Interactions/Items (project facts file)


@dataclass(frozen=True)
class FieldRule:
    """What the documentation fixes about one field name."""

    types: tuple[str, ...]  # Avro types allowed (more than one only where the docs leave it open)
    categorical: bool | None = None  # True: must be categorical; False: must not be; None: not stated
    textual: bool = False  # must be `textual: true`
    label: str | None = None  # how messages name the type, when not simply `types`

    def describe(self) -> str:
        kind = "categorical " if self.categorical else "textual " if self.textual else ""
        return self.label or kind + " or ".join(self.types)

    def example(self, name: str) -> str:
        flags = ", categorical: true" if self.categorical else ", textual: true" if self.textual else ""
        return f"- {{name: {name}, type: {self.types[-1]}{flags}}}"


@dataclass(frozen=True)
class DatasetRules:
    source: str  # the page the rules below are read from
    required: dict[str, FieldRule]  # must be present, non-nullable, of this type
    reserved: dict[str, FieldRule] = dataclass_field(default_factory=dict)  # optional; if present, of this type (null allowed)
    # Users: "1 metadata field (categorical string or numerical)"; None = no such requirement.
    metadata_field: str | None = None


STRING = FieldRule(("string",))
PLAIN_STRING = FieldRule(("string",), categorical=False)  # "reserved string fields can't be categorical"
CATEGORICAL = FieldRule(("string",), categorical=True)  # "reserved categorical string fields must have categorical set to true"
TEXTUAL = FieldRule(("string",), textual=True)
LONG = FieldRule(("long",))
FLOAT = FieldRule(("float",))
# CREATION_TIMESTAMP: VOD_ITEMS_PAGE says "in Unix epoch time format", ECOMMERCE_ITEMS_PAGE says
# float; which Avro types CreateSchema accepts is unconfirmed, so any number passes (lenient).
EPOCH = FieldRule(("int", "float", "double", "long"), label="number (epoch seconds; long in the default schemas)")
DOMAIN_INTERACTIONS_REQUIRED = {"USER_ID": STRING, "ITEM_ID": STRING, "TIMESTAMP": LONG, "EVENT_TYPE": STRING}
DOMAIN_INTERACTIONS_RESERVED = {
    "EVENT_VALUE": FLOAT,
    "IMPRESSION": PLAIN_STRING,
    "RECOMMENDATION_ID": PLAIN_STRING,
    "EVENT_ATTRIBUTION_SOURCE": PLAIN_STRING,
}


SCHEMA_RULES: dict[tuple[str | None, str], DatasetRules] = {
    # ECOMMERCE: Interactions from ECOMMERCE_PAGE's table, Items from ECOMMERCE_ITEMS_PAGE, Users
    # from ECOMMERCE_USERS_PAGE.
    ("ECOMMERCE", "interactions"): DatasetRules(ECOMMERCE_PAGE, DOMAIN_INTERACTIONS_REQUIRED, DOMAIN_INTERACTIONS_RESERVED),
    ("ECOMMERCE", "items"): DatasetRules(
        ECOMMERCE_ITEMS_PAGE,
        {"ITEM_ID": STRING, "PRICE": FLOAT, "CATEGORY_L1": CATEGORICAL},
        {
            "CATEGORY_L2": CATEGORICAL,
            "CATEGORY_L3": CATEGORICAL,
            "PRODUCT_DESCRIPTION": TEXTUAL,
            "CREATION_TIMESTAMP": EPOCH,
            "AGE_GROUP": CATEGORICAL,
            "ADULT": CATEGORICAL,
            "GENDER": CATEGORICAL,
        },
    ),
    ("ECOMMERCE", "users"): DatasetRules(ECOMMERCE_USERS_PAGE, {"USER_ID": STRING}, metadata_field="a categorical string or a number"),
    # VIDEO_ON_DEMAND: Interactions from VOD_INTERACTIONS_PAGE (+ EVENT_ATTRIBUTION_SOURCE from
    # VOD_PAGE's table), Items from VOD_ITEMS_PAGE, Users from VOD_USERS_PAGE.
    ("VIDEO_ON_DEMAND", "interactions"): DatasetRules(VOD_INTERACTIONS_PAGE, DOMAIN_INTERACTIONS_REQUIRED, DOMAIN_INTERACTIONS_RESERVED),
    ("VIDEO_ON_DEMAND", "items"): DatasetRules(
        VOD_ITEMS_PAGE,
        {"ITEM_ID": STRING, "GENRES": CATEGORICAL, "CREATION_TIMESTAMP": EPOCH},
        {
            "PRICE": FLOAT,
            "DURATION": FLOAT,
            "GENRE_L2": CATEGORICAL,
            "GENRE_L3": CATEGORICAL,
            "AVERAGE_RATING": FLOAT,
            "PRODUCT_DESCRIPTION": TEXTUAL,
            "CONTENT_OWNER": CATEGORICAL,
            "CONTENT_CLASSIFICATION": CATEGORICAL,
        },
    ),
    ("VIDEO_ON_DEMAND", "users"): DatasetRules(
        VOD_USERS_PAGE, {"USER_ID": STRING}, {"SUBSCRIPTION_MODEL": CATEGORICAL}, metadata_field="a categorical string or a number"
    ),
    # Custom dataset groups: the general schema page (facts file: EVENT_TYPE "must be a string and
    # cannot be categorical"); Users from CUSTOM_USERS_PAGE ("minimum one metadata field", of
    # any type). Reserved keywords of custom Interactions are not re-checked here (unconfirmed).
    (None, "interactions"): DatasetRules(CUSTOM_SCHEMA_PAGE, {"USER_ID": STRING, "ITEM_ID": STRING, "TIMESTAMP": LONG}, {"EVENT_TYPE": PLAIN_STRING}),
    (None, "items"): DatasetRules(CUSTOM_SCHEMA_PAGE, {"ITEM_ID": STRING}),
    (None, "users"): DatasetRules(CUSTOM_USERS_PAGE, {"USER_ID": STRING}, metadata_field="any field"),
}
