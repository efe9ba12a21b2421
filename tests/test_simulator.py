"""The whole-stack simulator (harness) as part of the test suite: every scenario must
pass. It runs in the background from session start (tests/conftest.py); this only reads its
result, one test per scenario so a failure names its scenario and why."""

from __future__ import annotations

import pytest

from harness.scenarios import SCENARIOS


# Scenarios the simulator shows failing because of the handlers or constructs (not the
# simulator), with the failing step: strict, so a fix makes the test fail until it is removed here.
KNOWN_HANDLER_FAILURES: dict[str, str] = {}


def _scenario_param(name: str):
    reason = KNOWN_HANDLER_FAILURES.get(name)
    return pytest.param(name, marks=pytest.mark.xfail(reason=reason, strict=True)) if reason else name


@pytest.mark.parametrize("name", [_scenario_param(scenario.name) for scenario in SCENARIOS])
def test_scenario_passes(simulation: dict, name: str) -> None:
    results = {result["name"]: result for result in simulation["results"]}
    assert name in results, f"the simulator did not run {name}"
    result = results[name]
    assert result["passed"], result["line"] + "\n" + "\n".join(result["problems"])


INTERRUPTED = [scenario.name for scenario in SCENARIOS if scenario.interrupted]


@pytest.mark.parametrize("name", INTERRUPTED)
def test_scenario_passes_in_the_other_start_order(simulation: dict, name: str) -> None:
    # CloudFormation starts resources that are ready at one instant in no fixed order: a
    # rollback must end the same whichever of them had started when a step failed.
    results = {result["name"]: result for result in simulation["other_start_order"]}
    assert name in results, f"the simulator did not replay {name} in the other start order"
    assert results[name]["passed"], results[name]["line"] + "\n" + "\n".join(results[name]["problems"])


def _figures(line: str) -> dict[str, str]:
    name, verdict, *pairs = line.split(" ")
    return {"name": name, "verdict": verdict, **dict(pair.split("=", 1) for pair in pairs)}


def test_every_scenario_reported_in_the_documented_format(simulation: dict) -> None:
    assert [result["name"] for result in simulation["results"]] == [scenario.name for scenario in SCENARIOS]
    for result in simulation["results"]:
        figures = _figures(result["line"])
        assert figures["verdict"] in ("PASS", "FAIL")
        assert set(figures) == {"name", "verdict", "left", "billed_h", "denied", "deploy", "bound"}
        assert int(figures["left"]) >= 0 and int(figures["denied"]) >= 0 and float(figures["billed_h"]) >= 0


def test_a_successful_create_never_beats_its_critical_path(simulation: dict) -> None:
    # The bound is a lower bound: a deploy faster than it means the model or the engine is wrong.
    for result, scenario in zip(simulation["results"], SCENARIOS):
        if scenario.steps[0].expect == "" and result["passed"]:
            figures = _figures(result["line"])
            assert float(figures["deploy"]) >= float(figures["bound"]), result["line"]


def test_default_deploy_overhead_within_3_percent(simulation: dict) -> None:
    figures = _figures(next(r["line"] for r in simulation["results"] if r["name"] == "default-create-destroy"))
    assert float(figures["deploy"]) / float(figures["bound"]) <= 1.03, figures
