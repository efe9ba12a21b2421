"""IAM as the simulated account has it at each moment, evaluated the way IAM does.

Identity policies: role name → inline policies, each in force only `propagation_seconds` after
CloudFormation wrote it (IAM is eventually consistent: until then the previous document, or
none, applies). Resource policies: bucket and key policies by the resource's ARN.

A request is one action on one resource with its context keys. Which resource that is comes from
AWS's Service Authorization Reference (stacks/iam_reference.py): the ARN of one of the action's
resource types, or "*" for an action without resource types, which only a statement whose
Resource matches "*" allows. An explicit Deny wins; anything else needs an Allow whose Action,
Resource and Condition all match. Condition operators the templates use are evaluated; any other
operator, and a condition key the reference does not list for the action, is reported (and such
a condition does not hold).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stacks.iam_reference import UnknownActionError, action as reference_action, as_list, glob_matches
from harness.kernel import Clock

STRING_OPERATORS = {"StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Bool"}


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Decision:
    allowed: bool
    reason: str
    propagating: bool = False  # denied only because a policy written is not in force yet


@dataclass
class _Version:
    in_force_at: float
    statements: list[dict] | None  # None: the policy was deleted


def principal_matches(principal: Any, service: str) -> bool:
    """A resource policy's Principal names `service` (a service principal) or everyone."""
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return service in as_list(principal.get("Service", [])) or "*" in as_list(principal.get("AWS", []))
    return False


@dataclass
class Iam:
    clock: Clock = field(default_factory=Clock)
    propagation_seconds: float = 0.0
    # Seconds the calling Lambda has waited (slept) in its current invocation: its own clock.
    offset: Callable[[], float] = lambda: 0.0
    # role name → policy logical id → versions, oldest first
    policies: dict[str, dict[str, list[_Version]]] = field(default_factory=lambda: defaultdict(dict))
    resource_policies: dict[str, list[dict]] = field(default_factory=dict)
    denied: list[str] = field(default_factory=list)
    unknown_conditions: set[str] = field(default_factory=set)

    # --- what CloudFormation (or a bucket owner) writes ----------------------------------------

    def put_policy(self, role: str, policy_id: str, document: Mapping) -> None:
        self._version(role, policy_id, as_list(document.get("Statement", [])))

    def delete_policy(self, role: str, policy_id: str) -> None:
        if policy_id in self.policies.get(role, {}):
            self._version(role, policy_id, None)

    def _version(self, role: str, policy_id: str, statements: list[dict] | None) -> None:
        self.policies[role].setdefault(policy_id, []).append(_Version(self.clock.epoch() + self.propagation_seconds, statements))

    def put_resource_policy(self, arn: str, document: Mapping) -> None:
        self.resource_policies[arn] = as_list(document.get("Statement", []))

    def delete_resource_policy(self, arn: str) -> None:
        self.resource_policies.pop(arn, None)

    def statements_in_force(self, role: str, *, written: bool = False) -> list[dict]:
        """The statements in force now (or, `written`, as last written, in force or not)."""
        now = self.clock.epoch() + self.offset()
        found = []
        for versions in self.policies.get(role, {}).values():
            current = [v for v in versions if written or v.in_force_at <= now]
            if current and current[-1].statements:
                found += current[-1].statements
        return found

    # --- evaluation ---------------------------------------------------------------------------

    def authorize(self, role: str, request: Request) -> Decision:
        """The role's identity policies, as in force now, on one request."""
        verdict = self._verdict(self.statements_in_force(role), request)
        if verdict == "Allow":
            return Decision(True, "")
        what = "explicitly denied" if verdict == "Deny" else "not allowed"
        propagating = self._verdict(self.statements_in_force(role, written=True), request) == "Allow"
        note = " (the policy that allows it is not in force yet)" if propagating else ""
        return Decision(False, f"{role} is {what} {request.action} on {request.resource}{note}", propagating)

    def resource_policy_allows(self, resource_arn: str, service: str, request: Request) -> Decision:
        """The resource's own policy (bucket or key policy) on a request by a service principal."""
        statements = [s for s in self.resource_policies.get(resource_arn, []) if principal_matches(s.get("Principal"), service)]
        verdict = self._verdict(statements, request)
        if verdict == "Allow":
            return Decision(True, "")
        if resource_arn not in self.resource_policies:
            return Decision(False, f"{resource_arn} has no policy that lets {service} {request.action}")
        return Decision(False, f"the policy of {resource_arn} does not let {service} {request.action} on {request.resource}")

    def evaluate(self, role: str, action: str, resources: Iterable[str], context: Mapping[str, str]) -> Decision:
        for resource in resources:
            decision = self.authorize(role, Request(action, resource, context))
            if not decision.allowed:
                return decision
        return Decision(True, "")

    def check(self, role: str, action: str, resources: Iterable[str], context: Mapping[str, str] | None = None) -> str | None:
        """None if allowed, else the denial (also recorded)."""
        decision = self.evaluate(role, action, list(resources), context or {})
        if decision.allowed:
            return None
        self.denied.append(decision.reason)
        return decision.reason

    def _verdict(self, statements: list[dict], request: Request) -> str:
        verdict = "None"
        for statement in statements:
            if not self._applies(statement, request):
                continue
            if statement.get("Effect") == "Deny":
                return "Deny"
            if statement.get("Effect") == "Allow":
                verdict = "Allow"
        return verdict

    def _applies(self, statement: Mapping, request: Request) -> bool:
        action = request.action.lower()
        if "Action" in statement:
            if not any(glob_matches(a.lower(), action) for a in as_list(statement["Action"])):
                return False
        elif any(glob_matches(a.lower(), action) for a in as_list(statement.get("NotAction", []))):
            return False
        if "Resource" in statement:
            if not any(glob_matches(r, request.resource) for r in as_list(statement["Resource"])):
                return False
        elif any(glob_matches(r, request.resource) for r in as_list(statement.get("NotResource", []))):
            return False
        return self._conditions_hold(statement.get("Condition") or {}, request)

    def _conditions_hold(self, conditions: Mapping, request: Request) -> bool:
        try:
            reference = reference_action(request.action)
        except UnknownActionError:
            reference = None
        for operator, tests in conditions.items():
            base = operator.removesuffix("IfExists")
            if base not in STRING_OPERATORS:
                self.unknown_conditions.add(operator)
                return False
            for key, expected in tests.items():
                if reference is not None and not reference.supports_condition_key(key):
                    self.unknown_conditions.add(f"{key} (not a key of {request.action})")
                    return False
                actual = request.context.get(key)
                if actual is None:
                    # An absent key: only ...IfExists and the negated operators hold.
                    if operator.endswith("IfExists") or "Not" in base:
                        continue
                    return False
                if not _compare(base, actual, as_list(expected)):
                    return False
        return True


def _compare(operator: str, actual: str, expected: list) -> bool:
    values = [str(e) for e in expected]
    if operator == "Bool":
        return actual.lower() in (v.lower() for v in values)
    if operator in ("StringEquals", "ArnEquals"):
        return actual in values
    if operator in ("StringNotEquals", "ArnNotEquals"):
        return actual not in values
    if operator in ("StringLike", "ArnLike"):
        return any(glob_matches(v, actual) for v in values)
    return not any(glob_matches(v, actual) for v in values)  # StringNotLike, ArnNotLike
