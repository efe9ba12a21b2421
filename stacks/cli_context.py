"""The CDK context the app runs with, without importing aws_cdk (app.py checks it before the
jsii start-up): cdk.json's context as the CLI hands it over, and the check that every other
key is one the app reads.

The CLI's context (CDK_CONTEXT_JSON of CLI 2.1148) is cdk.json's `context`, four keys it derives
from cdk.json's top-level settings, cdk.context.json's cached lookups and the `-c KEY=VALUE`
pairs of the command line. Of the `-c` keys the app reads `config` only: any other key would be
silently ignored, so a typo such as `-c confg=config/prod.yaml` would synthesize some other
environment. `unknown_context_keys` finds them.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"
CONFIG_KEY = "config"  # the one context key the app reads (-c config=PATH)
# Keys CDK itself reads: feature flags, the CLI's own settings, cached context lookups
# (cdk.context.json keys such as "availability-zones:account=...:region=...").
CDK_KEY_PREFIXES = ("@aws-cdk", "aws:cdk:", "aws-cdk:", "cdk-")
CDK_KEYS = {"acknowledged-issue-numbers"}  # `cdk acknowledge N` stores it in cdk.context.json
LOOKUP_KEY_MARK = ":account="


def cdk_json_context() -> dict[str, Any]:
    """The context the CDK CLI hands an app for this repository's cdk.json.

    The CLI sends cdk.json's `context` plus four keys derived from its top-level settings (read
    from CDK_CONTEXT_JSON of CLI 2.1148). Apps built outside the CLI (`python app.py`, the
    release, benchmarks, tests) start from the same dict, so every path gives the same templates.
    """
    settings = json.loads(CDK_JSON.read_text())
    return {
        **settings.get("context", {}),
        "aws:cdk:enable-path-metadata": settings.get("pathMetadata", True),
        "aws:cdk:enable-asset-metadata": settings.get("assetMetadata", True),
        "aws:cdk:disable-version-reporting": not settings.get("versionReporting", True),
        "aws:cdk:bundling-stacks": ["**"],
    }


def unknown_context_keys(context: dict[str, Any]) -> list[str]:
    """One message per context key nothing reads, with what was probably meant."""
    known = set(cdk_json_context()) | CDK_KEYS | {CONFIG_KEY}
    messages = []
    for key in sorted(context):
        if key in known or key.startswith(CDK_KEY_PREFIXES) or LOOKUP_KEY_MARK in key:
            continue
        close = difflib.get_close_matches(key, [CONFIG_KEY], n=1, cutoff=0.6)
        meant = f"did you mean `-c {CONFIG_KEY}={context[key]}`?" if close else f"the app reads only `-c {CONFIG_KEY}=PATH`; drop it"
        messages.append(f"context key {key!r} is not read by this app: {meant}")
    return messages
