"""The whole-stack simulator (harness/) as part of the test suite: every scenario must pass.
Its config variants are synthesized in the background from session start (tests/conftest.py);
each scenario is played here as its own test, so the workers share them and a failure names its
scenario and why."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.aws import FrameworkBridge
from harness.scenarios import SCENARIOS, Result, run_scenario

BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
# Scenarios the simulator shows failing because of the handlers or constructs (not the
# simulator), with the failing step: strict, so a fix makes the test fail until it is removed here.
KNOWN_HANDLER_FAILURES: dict[str, str] = {}
_PLAYED: dict[tuple[str, bool], Result] = {}


@pytest.fixture(scope="session")
def framework_bridge() -> Iterator[FrameworkBridge]:
    bridge = FrameworkBridge()
    yield bridge
    bridge.close()


def played(name: str, variants: dict[str, dict], bridge: FrameworkBridge, *, reversed_order: bool = False) -> Result:
    """A scenario's result, played once per worker and start order."""
    if (name, reversed_order) not in _PLAYED:
        _PLAYED[(name, reversed_order)] = run_scenario(BY_NAME[name], variants, bridge, reversed_order=reversed_order)
    return _PLAYED[(name, reversed_order)]


def _scenario_param(name: str):
    reason = KNOWN_HANDLER_FAILURES.get(name)
    return pytest.param(name, marks=pytest.mark.xfail(reason=reason, strict=True)) if reason else name


def _figures(line: str) -> dict[str, str]:
    name, verdict, *pairs = line.split(" ")
    return {"name": name, "verdict": verdict, **dict(pair.split("=", 1) for pair in pairs)}


@pytest.mark.parametrize("name", [_scenario_param(scenario.name) for scenario in SCENARIOS])
def test_scenario_passes(simulator_variants: dict, framework_bridge: FrameworkBridge, name: str) -> None:
    result = played(name, simulator_variants, framework_bridge)
    # Reported in the documented format (docs/testing.md), passed or not.
    figures = _figures(result.line())
    assert figures["name"] == name and figures["verdict"] in ("PASS", "FAIL")
    assert set(figures) == {"name", "verdict", "left", "billed_h", "denied", "deploy", "bound"}
    assert int(figures["left"]) >= 0 and int(figures["denied"]) >= 0 and float(figures["billed_h"]) >= 0
    assert result.passed, result.line() + "\n" + "\n".join(result.problems)
    if BY_NAME[name].steps[0].expect == "":
        # The bound is a lower bound: a deploy faster than it means the model or the engine is wrong.
        assert float(figures["deploy"]) >= float(figures["bound"]), result.line()


@pytest.mark.parametrize("name", [scenario.name for scenario in SCENARIOS if scenario.interrupted])
def test_scenario_passes_in_the_other_start_order(simulator_variants: dict, framework_bridge: FrameworkBridge, name: str) -> None:
    # CloudFormation starts resources that are ready at one instant in no fixed order: a
    # rollback must end the same whichever of them had started when a step failed.
    result = played(name, simulator_variants, framework_bridge, reversed_order=True)
    assert result.passed, result.line() + "\n" + "\n".join(result.problems)


def test_default_deploy_overhead_within_3_percent(simulator_variants: dict, framework_bridge: FrameworkBridge) -> None:
    figures = _figures(played("default-create-destroy", simulator_variants, framework_bridge).line())
    assert float(figures["deploy"]) / float(figures["bound"]) <= 1.03, figures
