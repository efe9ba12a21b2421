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
        called = world_factory.recorder.by_handler[handler.__name__]
        assert called == set(handler.API_OPERATIONS)
        assert len(handler.API_OPERATIONS) == len(called), "no duplicates"
        assert called <= set(botocore.session.get_session().get_service_model("personalize").operation_names)
