"""Builds the CDK app from a validated config: the one place stacks are wired together."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.cli_context import cdk_json_context
from config import AppConfig
from stacks.dashboard_stack import DashboardStack
from stacks.nag import acknowledge_allowed_wildcards
from stacks.personalize_stack import PersonalizeStack
from stacks.storage_stack import StorageStack
from stacks.tidy import tidy
from stacks.template_validation import cloudformation_validated_app

UNTAGGABLE_IN_PLACE = [
    "AWS::Personalize::DatasetGroup",
    "AWS::Personalize::Schema",
    "AWS::Personalize::Dataset",
    "AWS::Personalize::EventTracker",
]


def new_app(outdir: str | None = None, overrides: dict[str, Any] | None = None, *, validate_templates: bool = True) -> cdk.App:
    """An app with context merged in the CLI's order: cdk.json, then the CLI's `-c` values
    (CDK_CONTEXT_JSON, which the App reads itself), then `overrides`. Its templates are checked by
    CDK's built-in CloudFormation validation, run beside the app (stacks/template_validation.py).
    `validate_templates=False` turns that off: app.py for CDK's own switch (CDK_VALIDATION=false),
    and the simulator's many config variants, whose configs the test session's templates cover.
    cdk.json's `@aws-cdk/core:validateAgainstDefaultRules` decides whether its findings are errors."""
    props: dict[str, Any] = {"outdir": outdir, "context": cdk_json_context(), "post_cli_context": overrides or None}
    if validate_templates:
        return cloudformation_validated_app(**props)
    return cdk.App(**props, builtin_cloud_formation_validation=False)


def add_environment(
    app: cdk.App,
    config: AppConfig,
    *,
    synthesizer: Callable[[], cdk.IStackSynthesizer] | None = None,
    parameterized: bool = False,
    with_dashboard: bool = True,
) -> list[cdk.Stack]:
    """Add every stack of `config` to `app` (environment-agnostic: no account or region).

    `parameterized` turns per-account settings into stack parameters (stacks/deployment.py);
    `synthesizer` makes one synthesizer per stack (a synthesizer binds to a single stack), e.g.
    to point a release's assets at the organization's buckets. `with_dashboard=False` leaves the
    dashboard stack out (nothing else reads it): the simulator's variants that never deploy it.
    """

    def common() -> dict[str, Any]:
        return {"synthesizer": synthesizer() if synthesizer else None, "parameterized": parameterized}

    storage = StorageStack(app, f"{config.name}-storage", config=config, description=f"{config.name}: data bucket, access logs, key (stateful)", **common())
    personalize = PersonalizeStack(
        app,
        f"{config.name}-personalize",
        config=config,
        storage=storage,
        description=f"{config.name}: Amazon Personalize dataset groups, metric attribution, imports, recommenders",
        **common(),
    )
    stacks: list[cdk.Stack] = [storage, personalize]
    if config.dashboard.enabled and with_dashboard:
        # The dashboard derives ARNs and the bucket name from the config's names; it depends on the
        # personalize stack only to read the solutions' offline metrics (SSM) that stack writes.
        dashboard = DashboardStack(
            app, f"{config.name}-dashboard", config=config, description=f"{config.name}: CloudWatch dashboard, alarms and report queries (Glue, Athena) for metric attribution", **common()
        )
        if dashboard.reads_personalize_outputs:
            dashboard.add_stack_dependency(personalize)
        stacks.append(dashboard)
    for stack in stacks:
        for key, value in sorted(config.tags.items()):
            # CloudFormation treats Tags of the native Personalize types as create-only: a tag
            # change would replace a custom-named dataset group, which it refuses. Recommenders
            # (the billed part) are tagged by their handler, which updates tags in place.
            cdk.Tags.of(stack).add(key, value, exclude_resource_types=UNTAGGABLE_IN_PLACE)
        tidy(stack)
    return stacks


def enable_nag(app: cdk.App) -> None:
    """cdk-nag AwsSolutions at synth; the reviewed wildcard allowances acknowledged first."""
    acknowledge_allowed_wildcards(app)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def build_app(config: AppConfig, app: cdk.App | None = None, *, nag: bool = True) -> cdk.App:
    app = app or new_app()
    add_environment(app, config)
    if nag:
        enable_nag(app)
    return app
