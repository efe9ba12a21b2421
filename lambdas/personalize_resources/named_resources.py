"""Resources found, created or adopted by name (solutions, recommenders, metric attributions)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from .account import personalize_arn
from .action_log import log_action
from .core import PersonalizeApi
from .errors import HandlerError, error_code
from .lifecycle import Finder, is_deleting, request_properties


def resource_names(kind: str) -> tuple[str, str]:
    """``"Solution"`` → (``"solution"``: response key / ARN parameter stem, ``"solution"``: log and message stem)."""
    return kind[0].lower() + kind[1:], re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower()


def find_owned(api: PersonalizeApi, kind: str, arn: str, expected: Mapping[str, Any]) -> str | None:
    """``arn`` when Describe<kind> finds it with every ``expected`` setting, else None (absent, or
    someone else's resource of that name: never deleted)."""
    key = resource_names(kind)[0]
    existing = api.describe_or_none(f"Describe{kind}", key, **{f"{key}Arn": arn})
    if existing is None or any(existing.get(setting) != value for setting, value in expected.items()):
        return None
    return arn


def owned_by_name(api: PersonalizeApi, event: Mapping[str, Any], context: Any, *, kind: str, resource_type: str,
                  parse: Callable[[Mapping[str, Any]], dict], same_keys: tuple[str, ...],
                  name: Callable[[Mapping[str, Any]], str] = lambda request: request["name"], old: bool = False) -> Finder:
    """A ``find`` for ``start_delete``: the <kind> named ``name(request)`` (the request parsed with
    ``parse`` from the event's properties, or its OldResourceProperties with ``old``), when its
    ``same_keys`` settings are the request's. Never the event's physical id itself."""
    def find() -> str | None:
        request = request_properties(event, parse, old=old)
        if request is None:
            return None
        arn = personalize_arn(context, resource_type, name(request))
        if arn == event.get("PhysicalResourceId"):
            return None
        return find_owned(api, kind, arn, {key: request[key] for key in same_keys})
    return find


def create_or_adopt(
    api: PersonalizeApi, kind: str, arn: str, request: Mapping[str, Any], *, same_keys: tuple[str, ...] = ("datasetGroupArn", "recipeArn")
) -> str:
    """Create<kind> with ``request``; when the name is taken, adopt the resource at ``arn``.

    A retried Create finds what its first attempt made: adopt it, but never someone else's
    (other ``same_keys`` under the same name), nor one being deleted.
    """
    key, stem = resource_names(kind)
    try:
        created = api.call(f"Create{kind}", **request)[f"{key}Arn"]
        log_action(f"{stem}_created", **{f"{stem}_arn": created})
        return created
    except ClientError as exc:
        if error_code(exc) != "ResourceAlreadyExistsException":
            raise
        already_exists = exc
    existing = api.describe_or_none(f"Describe{kind}", key, **{f"{key}Arn": arn})
    if existing is None:
        raise already_exists  # gone again in between: let CloudFormation retry the deployment
    what = stem.replace("_", " ")
    for setting in same_keys:
        if existing.get(setting) != request[setting]:
            raise HandlerError(
                f"a {what} named {request['name']!r} already exists with {setting} {existing.get(setting)},"
                f" not {request[setting]}; choose another name or delete it"
            )
    if is_deleting(existing):
        raise HandlerError(f"{what} {arn} is {existing['status']}; deploy again once it is gone")
    log_action(f"{stem}_adopted", **{f"{stem}_arn": arn}, status=existing.get("status"))
    return arn


def update_tags(api: PersonalizeApi, kind: str, arn: str, old_tags: list, new_tags: list) -> None:
    """Untag the removed keys and tag the new or changed ones (each call only when needed)."""
    old = {tag["tagKey"]: tag["tagValue"] for tag in old_tags}
    new = {tag["tagKey"]: tag["tagValue"] for tag in new_tags}
    removed = sorted(set(old) - set(new))
    changed = [{"tagKey": key, "tagValue": value} for key, value in new.items() if old.get(key) != value]
    if removed:
        api.call("UntagResource", resourceArn=arn, tagKeys=removed)
    if changed:
        api.call("TagResource", resourceArn=arn, tags=changed)
    if removed or changed:
        stem = resource_names(kind)[1]
        log_action(f"{stem}_tags_updated", **{f"{stem}_arn": arn}, removed=removed, changed=[tag["tagKey"] for tag in changed])
