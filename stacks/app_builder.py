"""Builds the CDK app from a validated config: the one place stacks are wired together."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.configuration import AppConfig
from stacks.dashboard_stack import DashboardStack
from stacks.nag import acknowledge_allowed_wildcards
from stacks.tidy import drop_redundant_depends_on
from stacks.personalize_stack import PersonalizeStack
from stacks.storage_stack import StorageStack


CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """Feature flags from cdk.json, for apps built outside the CDK CLI (tests, benchmarks)."""
    return json.loads(CDK_JSON.read_text())["context"]


def new_app(outdir: str | None = None, extra_context: dict[str, Any] | None = None) -> cdk.App:
    return cdk.App(outdir=outdir, context={**cdk_json_context(), **(extra_context or {})})


def build_app(config: AppConfig, app: cdk.App | None = None, *, nag: bool = True) -> cdk.App:
    """Add every stack of `config` to `app` (environment-agnostic: no account or region)."""
    app = app or cdk.App()
    storage = StorageStack(app, f"{config.name}-storage", config=config, description=f"{config.name}: data bucket, access logs, key (stateful)")
    personalize = PersonalizeStack(
        app,
        f"{config.name}-personalize",
        config=config,
        storage=storage,
        description=f"{config.name}: Amazon Personalize dataset groups, metric attribution, imports, recommenders",
    )
    stacks: list[cdk.Stack] = [storage, personalize]
    if config.dashboard.enabled:
        # No dependency: the dashboard derives ARNs and the bucket name from the config's names.
        stacks.append(
            DashboardStack(app, f"{config.name}-dashboard", config=config, description=f"{config.name}: CloudWatch dashboard and alarms for metric attribution")
        )
    for stack in stacks:
        for key, value in sorted(config.tags.items()):
            cdk.Tags.of(stack).add(key, value)
        drop_redundant_depends_on(stack)
    if nag:
        acknowledge_allowed_wildcards(app)
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app
