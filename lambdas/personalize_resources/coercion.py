"""CloudFormation's all-strings properties typed by botocore's ``personalize`` input shapes."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import botocore.session

from .errors import HandlerError


@functools.lru_cache(maxsize=1)
def service_model():
    return botocore.session.get_session().get_service_model("personalize")


_TRUE = {"true"}
_FALSE = {"false"}


def coerce(operation_name: str, request: Mapping[str, Any], model: Any = None) -> dict:
    """Return ``request`` converted to the types of the operation's input shape.

    CloudFormation turns every scalar into a string; this walks the botocore
    shape so handlers never hand-type the API. Keys the shape does not know
    are kept as they are so botocore's validation names them.
    """
    shape = (model or service_model()).operation_model(operation_name).input_shape
    return _coerce_value(request, shape, operation_name)


def _coerce_value(value: Any, shape: Any, path: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            raise HandlerError(f"{path}: expected an object, got {value!r}")
        return {
            key: _coerce_value(item, shape.members[key], f"{path}.{key}") if key in shape.members else item
            for key, item in value.items()
        }
    if kind == "list":
        if not isinstance(value, list):
            raise HandlerError(f"{path}: expected a list, got {value!r}")
        return [_coerce_value(item, shape.member, f"{path}[{index}]") for index, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, Mapping):
            raise HandlerError(f"{path}: expected an object, got {value!r}")
        return {key: _coerce_value(item, shape.value, f"{path}.{key}") for key, item in value.items()}
    if kind in ("integer", "long"):
        return _to_number(value, int, path)
    if kind in ("float", "double"):
        return _to_number(value, float, path)
    if kind == "boolean":
        return _to_bool(value, path)
    return value


def _to_number(value: Any, kind: type, path: str) -> Any:
    if isinstance(value, bool):
        raise HandlerError(f"{path}: expected a number, got {value!r}")
    if isinstance(value, (int, float)) and not (kind is int and isinstance(value, float) and not value.is_integer()):
        return kind(value)
    if isinstance(value, str):
        try:
            return kind(value.strip())
        except ValueError:
            pass
    raise HandlerError(f"{path}: expected {'an integer' if kind is int else 'a number'}, got {value!r}")


def _to_bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise HandlerError(f"{path}: expected true or false, got {value!r}")
