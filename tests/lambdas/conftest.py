"""Fixtures of the handler tests, over harness/provider.py's player: ``world`` gives a fresh
``World``; ``world_factory`` builds more worlds that share one ``OperationRecorder``.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import pytest

from harness.provider import OperationRecorder, World, make_lambda_context, new_client
from lambdas.personalize_resources import core


@pytest.fixture
def world_factory(monkeypatch: pytest.MonkeyPatch) -> Callable[..., World]:
    recorder = OperationRecorder()

    def make(**fake_options: Any) -> World:
        return World(recorder, monkeypatch, **fake_options)

    make.recorder = recorder
    return make


@pytest.fixture
def world(world_factory: Callable[..., World]) -> World:
    return world_factory()


@pytest.fixture
def new_personalize_client() -> Callable[[], Any]:
    """Makes real personalize clients, e.g. for a FakePersonalize subclass to attach to."""
    return new_client


@pytest.fixture
def lambda_context() -> types.SimpleNamespace:
    return make_lambda_context()


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch):
    """A real client under ``botocore.stub.Stubber`` that the handlers will use."""
    from botocore.stub import Stubber

    client = new_client()
    monkeypatch.setattr(core, "create_client", lambda: client)
    monkeypatch.setattr(core, "sleep", lambda seconds: None)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()
