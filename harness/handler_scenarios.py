"""Lifecycle scenarios of one handler: each runs as its own test, and all of them together
prove the handler's API_OPERATIONS exact (what the IAM policy is built from)."""

from __future__ import annotations

from types import ModuleType

import botocore.session


class Scenarios(list):
    """A list of lifecycle functions that doubles as their registering decorator."""

    def __call__(self, function):
        self.append(function)
        return function

    def assert_operations_exact(self, world_factory, handler: ModuleType) -> None:
        for lifecycle in self:
            lifecycle(world_factory())
        by_function = world_factory.recorder.by_function
        name = handler.__name__
        # Each function runs under its own role, built from its own declaration.
        assert by_function[(name, "on_event")] == set(handler.API_OPERATIONS)
        assert by_function[(name, "is_complete")] == set(handler.IS_COMPLETE_API_OPERATIONS)
        if hasattr(handler, "POLL_API_OPERATIONS"):
            assert by_function[(name, "poll")] - {"cloudformation:DescribeStackResource"} == set(handler.POLL_API_OPERATIONS)
        for declared in (handler.API_OPERATIONS, handler.IS_COMPLETE_API_OPERATIONS):
            assert len(declared) == len(set(declared)), "no duplicates"
        personalize = set(botocore.session.get_session().get_service_model("personalize").operation_names)
        assert {op for op in world_factory.recorder.by_handler[name] if ":" not in op} <= personalize
