"""Step Functions executions interpreted on the simulated clock: the Provider framework's waiter
(Task with Retry and Catch) and the recommender poller (Wait → Task → Choice), read from the
synthesized DefinitionString. Supports the states and fields those definitions use and fails
loudly on anything else."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from harness.kernel import Future, Kernel, Sleep, wait_any

# invoke(function_arn, input) → (output, None) or (None, (error_name, cause_json))
Invoke = Callable[[str, Any], tuple[Any, tuple[str, str] | None]]
SUPPORTED = {"Task", "Wait", "Choice", "Succeed", "Fail", "Pass"}
UNSUPPORTED_FIELDS = {"InputPath", "OutputPath", "Parameters", "ResultSelector", "Arguments", "Output", "Assign",
                      "TimeoutSecondsPath", "HeartbeatSeconds", "Timestamp", "TimestampPath"}


class DefinitionError(Exception):
    pass


def _matches(errors: list[str], name: str) -> bool:
    return "States.ALL" in errors or name in errors


def _path(document: Any, path: str) -> Any:
    if not path.startswith("$"):
        raise DefinitionError(f"unsupported path {path}")
    value = document
    for part in [p for p in path[1:].split(".") if p]:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _with_result(document: Any, path: Any, result: Any) -> Any:
    """Where ResultPath puts a result: "$" (default) replaces, "$.a.b" sets, null keeps the input."""
    if path is None:
        return document
    if path == "$":
        return result
    parts = [p for p in path.removeprefix("$").split(".") if p]
    updated = json.loads(json.dumps(document)) if isinstance(document, Mapping) else {}
    target = updated
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = result
    return updated


def _choice_holds(rule: Mapping, document: Any) -> bool:
    if "And" in rule:
        return all(_choice_holds(r, document) for r in rule["And"])
    if "Or" in rule:
        return any(_choice_holds(r, document) for r in rule["Or"])
    if "Not" in rule:
        return not _choice_holds(rule["Not"], document)
    value = _path(document, rule["Variable"])
    for operator, expected in rule.items():
        if operator in ("Variable", "Next"):
            continue
        if operator in ("BooleanEquals", "StringEquals", "NumericEquals"):
            return value == expected
        if operator == "IsPresent":
            return (value is not None) == expected
        raise DefinitionError(f"unsupported Choice operator {operator}")
    raise DefinitionError(f"Choice rule without operator: {rule}")


def check_definition(definition: Mapping) -> None:
    """Raises DefinitionError for anything this interpreter would not run faithfully."""
    for name, state in definition["States"].items():
            if state["Type"] not in SUPPORTED:
                raise DefinitionError(f"state {name}: type {state['Type']} unsupported")
            unsupported = UNSUPPORTED_FIELDS & set(state)
            if unsupported:
                raise DefinitionError(f"state {name}: {sorted(unsupported)} not interpreted by the simulator")


class Execution:
    def __init__(self, arn: str, definition: Mapping, document: Any) -> None:
        self.arn, self.definition, self.input = arn, definition, document
        self.status = "RUNNING"
        self.error: tuple[str, str] | None = None
        self.history: list[str] = []


def run(kernel: Kernel, execution: Execution, invoke: Invoke, *, task_fault: Callable[[str], str | None] | None = None):
    """The execution as a kernel process; ends with execution.status SUCCEEDED/FAILED/TIMED_OUT."""
    definition = execution.definition
    timeout = definition.get("TimeoutSeconds")
    body = kernel.spawn(_states(kernel, execution, invoke, task_fault))
    if timeout:
        timer = Future("execution timeout")
        kernel.after(float(timeout), timer.resolve)
        first = yield wait_any(kernel, body, timer)
        if first is timer and execution.status == "RUNNING":
            execution.status, execution.error = "TIMED_OUT", ("States.Timeout", "execution timed out")
            execution.history.append("TIMED_OUT")
            # The body process is abandoned: nothing it does afterwards is observed.
            execution.abandoned = True
            return
    else:
        yield body


def _states(kernel: Kernel, execution: Execution, invoke: Invoke, task_fault):
    states = execution.definition["States"]
    name, document = execution.definition["StartAt"], execution.input
    while True:
        if getattr(execution, "abandoned", False):
            return
        state = states[name]
        execution.history.append(name)
        kind = state["Type"]
        if kind == "Wait":
            seconds = state["Seconds"] if "Seconds" in state else _path(document, state["SecondsPath"])
            if not isinstance(seconds, (int, float)) or seconds < 0:
                execution.status, execution.error = "FAILED", ("States.Runtime", f"{name}: SecondsPath gave {seconds!r}")
                return
            yield Sleep(float(seconds))
        elif kind == "Pass":
            document = state.get("Result", document)
        elif kind == "Choice":
            name = next((rule["Next"] for rule in state["Choices"] if _choice_holds(rule, document)), state.get("Default"))
            if name is None:
                execution.status, execution.error = "FAILED", ("States.NoChoiceMatched", "")
                return
            continue
        elif kind == "Succeed":
            execution.status = "SUCCEEDED"
            return
        elif kind == "Fail":
            execution.status, execution.error = "FAILED", (state.get("Error", ""), state.get("Cause", ""))
            return
        elif kind == "Task":
            attempts: dict[int, int] = {}
            while True:
                if getattr(execution, "abandoned", False):
                    return
                fault = task_fault(state["Resource"]) if task_fault else None
                output, error = (None, (fault, json.dumps({"errorMessage": fault}))) if fault else invoke(state["Resource"], document)
                if error is None:
                    document = _with_result(document, state.get("ResultPath", "$"), output)
                    break
                retry_index = next((i for i, r in enumerate(state.get("Retry", [])) if _matches(r["ErrorEquals"], error[0])), None)
                if retry_index is not None:
                    retry = state["Retry"][retry_index]
                    count = attempts.get(retry_index, 0)
                    if count < retry.get("MaxAttempts", 3):
                        attempts[retry_index] = count + 1
                        yield Sleep(retry.get("IntervalSeconds", 1) * retry.get("BackoffRate", 2.0) ** count)
                        continue
                catch = next((c for c in state.get("Catch", []) if _matches(c["ErrorEquals"], error[0])), None)
                if catch is None:
                    execution.status, execution.error = "FAILED", error
                    execution.history.append(f"FAILED {error[0]}")
                    return
                document = _with_result(document, catch.get("ResultPath", "$"), {"Error": error[0], "Cause": error[1]})
                name = catch["Next"]
                break
            if error is not None:
                continue  # caught: on to the Catch's state
        else:
            raise DefinitionError(kind)
        if state.get("End"):
            execution.status = "SUCCEEDED"
            return
        name = state["Next"]
