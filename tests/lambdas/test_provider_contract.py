"""The CDK Provider framework's isComplete contract, for EVERY handler module that has one.

The deployed framework.js throws '"Data" is not allowed if "IsComplete" is "False"' -- a fatal
error, not its Retry -- so an incomplete answer must carry no Data. Every lifecycle scenario of
every handler runs here with its is_complete wrapped by a checker; a new handler module with an
is_complete but no scenarios registered below fails the test.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import lambdas.personalize_resources as package
from lambdas.personalize_resources import dataset_export, import_job, metric_attribution, recommender, solution, solution_version, teardown_wait
from tests.lambdas import (
    test_dataset_export,
    test_import_job,
    test_metric_attribution,
    test_recommender,
    test_solution,
    test_solution_version,
    test_teardown_wait,
)


def modules_with_is_complete() -> set[str]:
    names = set()
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if callable(getattr(module, "is_complete", None)):
            names.add(module.__name__)
    return names


def recommender_lifecycles(monkeypatch) -> None:
    stack = test_recommender.Stack(monkeypatch)
    stack.create(test_recommender.properties())
    stack.settle()
    stack.update(test_recommender.properties(config={"minRecommendationRequestsPerSecond": "2"}))
    stack.update(test_recommender.properties(desired="INACTIVE"))
    stack.settle()
    stack.update(test_recommender.properties(name="shop-viewed", recipe=test_recommender.VIEWED_X_ALSO_VIEWED))
    stack.settle()
    stack.delete()


def run_scenarios(scenarios):
    def run(monkeypatch, world_factory):
        for lifecycle in scenarios:
            try:
                lifecycle(world_factory())
            except AssertionError:
                raise
            except Exception:  # scenarios that expect a handler failure raise inside pytest.raises
                pass
    return run


LIFECYCLES = {
    dataset_export.__name__: lambda monkeypatch, factory: run_scenarios(test_dataset_export.SCENARIOS)(monkeypatch, factory),
    import_job.__name__: lambda monkeypatch, factory: run_scenarios(test_import_job.SCENARIOS)(monkeypatch, factory),
    metric_attribution.__name__: lambda monkeypatch, factory: run_scenarios(test_metric_attribution.SCENARIOS)(monkeypatch, factory),
    recommender.__name__: lambda monkeypatch, factory: recommender_lifecycles(monkeypatch),
    solution.__name__: lambda monkeypatch, factory: run_scenarios(test_solution.SCENARIOS)(monkeypatch, test_solution.solutions_world_factory(factory)),
    solution_version.__name__: lambda monkeypatch, factory: run_scenarios(test_solution_version.SCENARIOS)(
        monkeypatch, test_solution.solutions_world_factory(factory)),
    teardown_wait.__name__: lambda monkeypatch, factory: run_scenarios(test_teardown_wait.SCENARIOS)(
        monkeypatch, test_teardown_wait.group_factory(monkeypatch)),
}


def test_every_handler_with_is_complete_has_lifecycles_here():
    assert modules_with_is_complete() == set(LIFECYCLES)


@pytest.mark.parametrize("module_name", sorted(LIFECYCLES))
def test_incomplete_answers_never_carry_data(module_name, monkeypatch, world_factory):
    module = importlib.import_module(module_name)
    original = module.is_complete
    answers: list[dict] = []

    def checked(event, context):
        answer = original(event, context)
        answers.append(answer)
        return answer

    monkeypatch.setattr(module, "is_complete", checked)
    LIFECYCLES[module_name](monkeypatch, world_factory)
    incomplete = [a for a in answers if not a["IsComplete"]]
    assert all(set(a) == {"IsComplete"} for a in incomplete), incomplete
    assert answers and all(set(a) == {"IsComplete", "Data"} for a in answers if a["IsComplete"])
    assert incomplete or module is recommender, "the lifecycles must include waiting answers"
