"""The datasets of a dataset group: schemas (Avro fields) and bulk imports."""

from __future__ import annotations

import enum
from typing import Annotated, Any

from pydantic import Field

from config.models.base import Strict


class AvroType(str, enum.Enum):
    STRING = "string"
    INT = "int"
    LONG = "long"
    FLOAT = "float"
    DOUBLE = "double"
    BOOLEAN = "boolean"


class SchemaField(Strict):
    name: str = Field(description="Field name in the Avro schema (letters, digits and '_', not starting with a digit). Domain groups reserve some names (e.g. USER_ID, PRICE) with fixed types.")
    type: AvroType = Field(description="Avro type of the field.")
    nullable: bool = Field(default=False, description="Whether the field may be empty (Avro union with null). Required domain fields cannot be nullable.")
    categorical: bool = Field(default=False, description="String fields only: the value is a category (several may be separated by '|'); filters and recipes use it as such.")
    textual: bool = Field(default=False, description="String fields only: unstructured text (e.g. PRODUCT_DESCRIPTION) that recipes read as text; filters cannot use it.")

    def to_avro(self) -> dict[str, Any]:
        avro_type: Any = ["null", self.type.value] if self.nullable else self.type.value
        field: dict[str, Any] = {"name": self.name, "type": avro_type}
        if self.categorical:
            field["categorical"] = True
        if self.textual:
            field["textual"] = True
        return field


class DatasetSchema(Strict):
    fields: Annotated[list[SchemaField], Field(min_length=1)] = Field(description="The dataset's columns, in CSV order. Personalize cannot change a schema in place: a change replaces the schema and the dataset.")

    def field(self, name: str) -> SchemaField | None:
        return next((f for f in self.fields if f.name == name), None)


class ImportMode(str, enum.Enum):
    FULL = "FULL"
    INCREMENTAL = "INCREMENTAL"


class DataImport(Strict):
    """Where a dataset's bulk data comes from.

    ``sample`` loads the generated demo data; a relative key is read from the data bucket's
    import prefix; an ``s3://`` URI points at a bucket outside the app, named in ``externalBuckets``
    (its bucket policy must let personalize.amazonaws.com read it). Changing ``location``, ``mode`` or ``version`` starts a
    new import job; the first job a stack runs on a dataset is always FULL.
    """

    location: str = Field(description="`sample` (the generated demo data), a key under the data bucket's import prefix, or an `s3://bucket/key` URI of a bucket listed in `externalBuckets` (its owner lets personalize.amazonaws.com read it).")
    mode: ImportMode = Field(default=ImportMode.FULL, description="FULL replaces the dataset's data, INCREMENTAL adds to it. The first import a stack runs on a dataset is always FULL.")
    version: str = Field(default="1", description="Any string of up to 20 letters, digits, '.', '_' or '-': a new value starts a new import job of the same location.")


class DatasetConfig(Strict):
    schema_: DatasetSchema = Field(alias="schema", description="The dataset's schema.")
    data_import: DataImport | None = Field(default=None, alias="dataImport", description="Bulk data to import at deploy time; none leaves the dataset empty (e.g. filled by PutEvents only).")


class Datasets(Strict):
    interactions: DatasetConfig = Field(description="The Interactions dataset (required): what users did with items.")
    items: DatasetConfig | None = Field(default=None, description="The Items dataset: item metadata (required by metrics that SUM an ITEMS column).")
    users: DatasetConfig | None = Field(default=None, description="The Users dataset: user metadata (at least one metadata field besides USER_ID).")

    def present(self) -> dict[str, DatasetConfig]:
        return {k: v for k, v in (("interactions", self.interactions), ("items", self.items), ("users", self.users)) if v}
