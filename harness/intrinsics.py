"""CloudFormation intrinsic functions and conditions over a template's resolved state."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
NO_VALUE = object()


class TemplateError(Exception):
    """The template uses something the simulator cannot resolve (reported, never ignored)."""


class Resolver:
    """``ref(logical_id)`` and ``get_att(logical_id, attribute)`` come from the stack's state."""

    def __init__(self, template: Mapping, stack_name: str, parameters: Mapping[str, str],
                 ref: Callable[[str], Any], get_att: Callable[[str, str], Any],
                 import_value: Callable[[str], Any] | None = None,
                 stack_output: Callable[[str, str], Any] | None = None, stack_id: str | None = None) -> None:
        self.template, self.stack_name = template, stack_name
        self.parameters = {
            name: parameters.get(name, spec.get("Default"))
            for name, spec in (template.get("Parameters") or {}).items()
        }
        self._ref, self._get_att, self._import_value = ref, get_att, import_value
        self._stack_output = stack_output
        self.pseudo = {
            "AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": stack_name,
            "AWS::StackId": stack_id or f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack_name}/sim",
            "AWS::NoValue": NO_VALUE,
        }
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return self._conditions[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, arg)
            if key.startswith("Fn::"):
                raise TemplateError(f"intrinsic {key} is not supported by the simulator")
        return {k: r for k, r in ((k, self.resolve(v)) for k, v in value.items()) if r is not NO_VALUE}

    def _ref_value(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            if self.parameters[name] is None:
                raise TemplateError(f"parameter {name} has no value")
            return self.parameters[name]
        return self._ref(name)


def _ref(resolver: Resolver, name: str) -> Any:
    return resolver._ref_value(name)


def _get_att(resolver: Resolver, arg: Any) -> Any:
    if isinstance(arg, str):
        arg = arg.split(".", 1)
    logical_id, attribute = resolver.resolve(arg)
    return resolver._get_att(logical_id, attribute)


_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def _sub(resolver: Resolver, arg: Any) -> str:
    text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], resolver.resolve(arg[1]))

    def replace(match: re.Match) -> str:
        name = match.group(1).strip()
        if name in variables:
            return str(variables[name])
        if "." in name and name.split(".", 1)[0] not in resolver.pseudo:
            logical_id, attribute = name.split(".", 1)
            return str(resolver._get_att(logical_id, attribute))
        return str(resolver._ref_value(name))

    return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")


def _join(resolver: Resolver, arg: Any) -> str:
    separator, items = arg
    return str(separator).join(str(item) for item in resolver.resolve(items))


def _select(resolver: Resolver, arg: Any) -> Any:
    index, items = resolver.resolve(arg)
    return items[int(index)]


def _split(resolver: Resolver, arg: Any) -> list:
    separator, text = resolver.resolve(arg)
    return text.split(separator)


def _if(resolver: Resolver, arg: Any) -> Any:
    name, when_true, when_false = arg
    return resolver.resolve(when_true if resolver.condition(name) else when_false)


def _equals(resolver: Resolver, arg: Any) -> bool:
    left, right = resolver.resolve(arg)
    return str(left) == str(right)


def _import_value(resolver: Resolver, arg: Any) -> Any:
    if resolver._import_value is None:
        raise TemplateError("Fn::ImportValue used but no other stack exports values")
    return resolver._import_value(resolver.resolve(arg))


def _get_stack_output(resolver: Resolver, arg: Any) -> Any:
    spec = resolver.resolve(arg)
    if resolver._stack_output is None:
        raise TemplateError("Fn::GetStackOutput used but no other stack was deployed")
    return resolver._stack_output(spec["StackName"], spec["OutputName"])


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Sub": _sub,
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::And": lambda r, arg: all(r.resolve(item) for item in arg),
    "Fn::Or": lambda r, arg: any(r.resolve(item) for item in arg),
    "Fn::Not": lambda r, arg: not r.resolve(arg[0]),
    "Condition": lambda r, name: r.condition(name),
    "Fn::ImportValue": _import_value,
    "Fn::GetStackOutput": _get_stack_output,
}


def references(value: Any) -> set[str]:
    """Logical ids ``value`` refers to (Ref, GetAtt, Sub variables): CloudFormation's implicit edges."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, Mapping):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str) and not arg.startswith("AWS::"):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                for name in _SUB_VARIABLE.findall(text):
                    head = name.split(".", 1)[0].strip()
                    if not head.startswith("AWS::"):
                        found.add(head)
                if not isinstance(arg, str):
                    found |= references(arg[1])
            else:
                found |= references(arg)
    return found
