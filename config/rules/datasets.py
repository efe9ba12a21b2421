"""Dataset rules: schemas against the documented requirements, import locations, name lengths."""

from __future__ import annotations

import re

from config.errors import ConfigIssue, Location
from config.models import AppConfig, AvroType, DataImport, DatasetGroup, DatasetSchema, SchemaField
from config.models.base import duplicates
from config.schema_rules import DATASET_TYPE_NAMES, NUMERIC_TYPES, SCHEMA_RULES, DatasetRules, FieldRule
from lambdas.personalize_resources.address_book import NAME_MAX as PERSONALIZE_NAME_MAX


AVRO_FIELD_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def dataset_issues(config: AppConfig, group: DatasetGroup, base: Location) -> list[ConfigIssue]:
    """Each dataset's schema and import, and the longest name built from the group's."""
    issues: list[ConfigIssue] = []
    datasets = group.datasets.present()
    for dataset_type, dataset in datasets.items():
        issues += schema_issues(dataset.schema_, dataset_type, (*base, "datasets", dataset_type, "schema"), group.domain)
        if dataset.data_import is not None:
            issues += import_issues(dataset.data_import, dataset_type, (*base, "datasets", dataset_type, "dataImport"))
            issues += external_bucket_issues(config, dataset.data_import, (*base, "datasets", dataset_type, "dataImport"))
    for dataset_type in datasets:
        longest = config.physical_name(group.name, dataset_type, "import", "0123456789")
        if len(longest) > PERSONALIZE_NAME_MAX:
            issues.append(ConfigIssue((*base, "name"), f"names built from it (e.g. {longest!r}) exceed {PERSONALIZE_NAME_MAX} characters; shorten `name` or the dataset group name"))
            break
    return issues


def schema_issues(schema: DatasetSchema, dataset_type: str, path: Location, domain: str | None) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    names = [f.name for f in schema.fields]
    for name in duplicates(names):
        issues.append(ConfigIssue((*path, "fields"), f"field {name!r} is declared twice"))
    for index, declared in enumerate(schema.fields):
        fpath = (*path, "fields", index)
        if not AVRO_FIELD_PATTERN.match(declared.name):
            issues.append(ConfigIssue((*fpath, "name"), f"{declared.name!r} is not a valid Avro field name; use letters, digits and '_' and do not start with a digit"))
        if declared.categorical and declared.type is not AvroType.STRING:
            issues.append(ConfigIssue((*fpath, "categorical"), f"only string fields can be categorical ({declared.name} is {declared.type.value}); drop `categorical` or make it a string"))
        if declared.textual and declared.type is not AvroType.STRING:
            issues.append(ConfigIssue((*fpath, "textual"), f"only string fields can be textual ({declared.name} is {declared.type.value})"))
    rules = SCHEMA_RULES[(domain, dataset_type)]
    type_name = DATASET_TYPE_NAMES[dataset_type]
    where = f"{domain} domain" if domain else "custom dataset group"
    for name, rule in rules.required.items():
        field = schema.field(name)
        if field is None:
            issues.append(ConfigIssue((*path, "fields"), f"the {type_name} schema needs a `{name}` field of type {rule.describe()} ({where}, {rules.source}); add `{rule.example(name)}`"))
            continue
        fpath = (*path, "fields", names.index(name))
        if field.type.value not in rule.types or field.nullable:
            issues.append(ConfigIssue((*fpath, "type"), f"`{name}` must be a non-nullable {rule.describe()} ({where}, {rules.source}); write `{rule.example(name)}`"))
        issues += _flag_issues(field, rule, fpath, f"`{name}` must be a {rule.describe()} ({where}, {rules.source})")
    for name, rule in rules.reserved.items():
        field = schema.field(name)
        if field is None:
            continue
        fpath = (*path, "fields", names.index(name))
        reserved = f"`{name}` is a reserved name in {type_name} schemas ({where}, {rules.source})"
        if field.type.value not in rule.types:
            issues.append(ConfigIssue((*fpath, "type"), f"{reserved}: it must be a {rule.describe()} (null allowed); write `{rule.example(name)}` or rename the field"))
        issues += _flag_issues(field, rule, fpath, f"{reserved}: it must be a {rule.describe()}")
    if rules.metadata_field is not None:
        metadata = [f for f in schema.fields if f.name not in rules.required and _is_user_metadata(f, rules)]
        if not metadata:
            issues.append(ConfigIssue((*path, "fields"), f"the {type_name} schema needs at least one metadata field besides USER_ID ({rules.metadata_field}; {where}, {rules.source}); add e.g. `- {{name: MEMBERSHIP, type: string, categorical: true}}`"))
    return issues


def _flag_issues(field: SchemaField, rule: FieldRule, fpath: Location, requirement: str) -> list[ConfigIssue]:
    """`categorical` / `textual` as the documentation fixes them for a required or reserved name."""
    if field.type is not AvroType.STRING:
        return []  # the type issue says it all
    if rule.categorical is True and not field.categorical:
        return [ConfigIssue((*fpath, "categorical"), f"{requirement}; add `categorical: true`")]
    if rule.categorical is False and field.categorical:
        return [ConfigIssue((*fpath, "categorical"), f"{requirement} that is not categorical; drop `categorical`")]
    if rule.textual and not field.textual:
        return [ConfigIssue((*fpath, "textual"), f"{requirement}; add `textual: true`")]
    return []


def _is_user_metadata(field: SchemaField, rules: DatasetRules) -> bool:
    if rules.metadata_field == "any field":
        return True
    return field.type.value in NUMERIC_TYPES or (field.type is AvroType.STRING and field.categorical)


def import_issues(data_import: DataImport, dataset_type: str, path: Location) -> list[ConfigIssue]:
    location = data_import.location
    issues = []
    if location.startswith("s3://"):
        if not re.match(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$", location):
            issues.append(ConfigIssue((*path, "location"), f"{location!r} is not a valid S3 URI; write s3://bucket/key"))
    elif location == "sample":
        if dataset_type == "users":
            issues.append(ConfigIssue((*path, "location"), "the sample data has no Users file; point `location` at your own users CSV or drop dataImport"))
    elif location.startswith("/") or ".." in location or not location:
        issues.append(ConfigIssue((*path, "location"), f"{location!r} must be `sample`, an s3:// URI or a key relative to the data bucket's import prefix"))
    if not re.match(r"^[A-Za-z0-9._-]{1,20}$", data_import.version):
        issues.append(ConfigIssue((*path, "version"), "use up to 20 letters, digits, '.', '_' or '-'"))
    return issues


def location_bucket(location: str) -> str:
    """"s3://bucket/key" → "bucket"."""
    return location.removeprefix("s3://").split("/", 1)[0]


def external_bucket_issues(config: AppConfig, data_import: DataImport, path: Location) -> list[ConfigIssue]:
    # Personalize reads a bucket only when the bucket's own policy lets it (Developer Guide, "Giving
    # Amazon Personalize access to Amazon S3 resources"); a stack cannot edit another's bucket policy.
    if not data_import.location.startswith("s3://"):
        return []
    bucket = location_bucket(data_import.location)
    if bucket in config.external_buckets:
        return []
    return [ConfigIssue((*path, "location"), f"bucket {bucket!r} is not this app's data bucket: add it to `externalBuckets` (its owner "
                        "must then add the bucket-policy statement synthesis prints), or copy the files under the data bucket's imports/ prefix "
                        "and give their key instead")]
