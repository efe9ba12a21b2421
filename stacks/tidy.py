"""Drop DependsOn entries that a Ref or Fn::GetAtt in the same resource already implies.

CDK writes, for example, a Lambda function's DependsOn on its own role although the function's
`Role` property already points at it; cfn-lint reports each such entry (W3005). CloudFormation
orders by references anyway, so removing only those entries changes no deployment order.
The DependsOn list is replaced by a lazy value computed after CDK has resolved dependencies.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import CfnResource, IStableListProducer, Lazy, Stack
from constructs import IConstruct


def _referenced_ids(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value and isinstance(value["Fn::GetAtt"], list):
            found.add(value["Fn::GetAtt"][0])
        for item in value.values():
            found |= _referenced_ids(item)
    elif isinstance(value, list):
        for item in value:
            found |= _referenced_ids(item)
    return found


@jsii.implements(IStableListProducer)
class _NecessaryDependsOn:
    def __init__(self, resource: CfnResource) -> None:
        self._resource = resource

    def produce(self) -> list[str] | None:
        stack = Stack.of(self._resource)
        depends_on = sorted({stack.resolve(stack.get_logical_id(d)) for d in self._resource.obtain_dependencies() if Stack.of(d) is stack})
        referenced = _referenced_ids(stack.resolve(self._resource._cfn_properties))
        necessary = [logical_id for logical_id in depends_on if logical_id not in referenced]
        return necessary or None


def drop_redundant_depends_on(scope: IConstruct) -> None:
    for construct in scope.node.find_all():
        if isinstance(construct, CfnResource):
            construct.add_override("DependsOn", Lazy.list(_NecessaryDependsOn(construct), omit_empty=True))


