"""Small readers over synthesized CloudFormation templates (plain JSON, no jsii)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any
from collections.abc import Iterator

from stacks.nag import flatten_reference
from stacks.tidy import referenced_ids


def resources(template: dict, resource_type: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def only(template: dict, resource_type: str) -> tuple[str, dict]:
    found = resources(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def text(value: Any) -> str:
    """A CloudFormation value rendered as text (`<Logical.Attr>` for references)."""
    return flatten_reference(value)


def statements(policy_resource: dict) -> list[dict]:
    return policy_resource["Properties"]["PolicyDocument"]["Statement"]


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def actions_and_resources(statement: dict) -> Iterator[tuple[str, str]]:
    for action in as_list(statement["Action"]):
        for resource in as_list(statement["Resource"]):
            yield action, text(resource)


def policies_of_role(template: dict, role_logical_id: str) -> list[dict]:
    return [p for p in resources(template, "AWS::IAM::Policy").values() if {"Ref": role_logical_id} in p["Properties"]["Roles"]]


def role_of_function(template: dict, function_logical_id: str) -> str:
    return template["Resources"][function_logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]


def function_by_handler(template: dict, handler: str) -> str:
    matches = [k for k, v in resources(template, "AWS::Lambda::Function").items() if v["Properties"].get("Handler") == handler]
    assert len(matches) == 1, f"expected one function with handler {handler}, found {matches}"
    return matches[0]


def granted(template: dict, role_logical_id: str) -> set[tuple[str, str]]:
    """Every (action, resource) pair the role's attached policies allow."""
    pairs: set[tuple[str, str]] = set()
    for policy in policies_of_role(template, role_logical_id):
        for statement in statements(policy):
            assert statement["Effect"] == "Allow"
            pairs |= set(actions_and_resources(statement))
    return pairs


def dependencies(template: dict, logical_id: str) -> set[str]:
    """Direct dependencies: DependsOn plus references in properties."""
    resource = template["Resources"][logical_id]
    return set(as_list(resource.get("DependsOn", []))) | referenced_ids(resource.get("Properties", {}))


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@functools.cache
def _cfn_lint_rules() -> Any:
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    return Runner(ConfigMixIn([])).rules


def cfn_lint(path: Path) -> list[str]:
    """cfn-lint's findings for one template file, as `cfnlint.api.lint_file` reports them (the
    same configuration: defaults, the template's own Metadata), with the rules loaded once per
    process (loading them costs ~0.4 s a call, a storage template's whole lint takes ~0.5 s)."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner.template.runner import run_template_by_file_paths

    matches = run_template_by_file_paths(ConfigMixIn(["--template", str(path)]), _cfn_lint_rules())
    return [f"{path.name}: {m.rule.id} {m.path_string}: {m.message}" for m in matches]
