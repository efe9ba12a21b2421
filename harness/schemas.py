"""What CloudFormation publishes about a resource type, read from its registry schema (the copy
cfn-lint bundles): which properties are create-only (a change to one replaces the resource) and
which properties name it (its primary identifier, when the template sets it).

Resource type schemas: https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html
("createOnlyProperties: ... can only be specified on create; a change requires replacement").
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from harness.intrinsics import REGION

_ABSENT = object()


@cache
def schema(kind: str) -> Mapping[str, Any] | None:
    """The registry schema of ``kind``; None for custom resources and unknown types."""
    # Imported at first use: cfn-lint's import (0.4 s) is most of the harness's, and processes
    # that never deploy a template (tests/harness's hash-seed runs) need none of it.
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError

    try:
        return PROVIDER_SCHEMA_MANAGER.get_resource_schema(REGION, kind).schema
    except ResourceNotFoundError:
        return None


def _paths(kind: str, key: str) -> list[tuple[str, ...]]:
    pointers = (schema(kind) or {}).get(key) or []
    return [tuple(p.removeprefix("/properties/").split("/")) for p in pointers if p.startswith("/properties/")]


def _at(properties: Any, path: tuple[str, ...]) -> Any:
    value = properties
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def replacing_changes(kind: str, old: Mapping, new: Mapping) -> list[str]:
    """The create-only properties that differ between ``old`` and ``new`` (empty: in place)."""
    return ["/".join(path) for path in _paths(kind, "createOnlyProperties") if _at(old, path) != _at(new, path)]


def custom_name(kind: str, properties: Mapping) -> tuple | None:
    """The name the template gives the resource, or None when CloudFormation generates one.

    A custom name is the primary identifier when every part of it is a writable property the
    template sets (BucketName, LogGroupName, a bucket policy's Bucket). Types identified by a
    read-only ARN (Personalize types, state machines, topics) are named by their create-only
    ``Name`` or ``<Type>Name`` property, the "Name type" convention
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html).
    """
    read_only = set(_paths(kind, "readOnlyProperties"))
    identifier = _paths(kind, "primaryIdentifier")
    if identifier and not read_only & set(identifier):
        values = tuple(_at(properties, path) for path in identifier)
        return None if _ABSENT in values else values
    create_only = _paths(kind, "createOnlyProperties")
    for key in ("Name", f"{kind.rsplit('::', 1)[-1]}Name"):
        if (key,) in create_only and isinstance(properties.get(key), str):
            return (properties[key],)
    return None
