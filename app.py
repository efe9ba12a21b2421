#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c config=config/other.yaml` (default: config/default.yaml).

`python app.py` gives the same templates as the CLI: the app starts from cdk.json's context
merged the way the CLI merges it (stacks/app_builder.py, `new_app`), and the CLI's own context
(`-c` values, via CDK_CONTEXT_JSON) is applied over it. The only place that reads the
environment. A config problem or a cdk-nag finding ends the process with a readable message
and a non-zero exit, not a traceback; so does Ctrl-C.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from tools._entry import exit_quietly_on_interrupt  # noqa: E402  (standard library only)

exit_quietly_on_interrupt("synth")  # Ctrl-C in `make synth`: one line, not jsii's tracebacks

from stacks.configuration import AppConfig, ConfigError, load_config  # noqa: E402

DEFAULT_CONFIG = "config/default.yaml"


def requested_config_path(cli_context: dict) -> str:
    return cli_context.get("config") or os.environ.get("PERSONALIZE_IMPACT_CONFIG") or DEFAULT_CONFIG


def load_or_report(config_path: str) -> AppConfig | None:
    try:
        return load_config(config_path)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return None


def main() -> int:
    # The config is validated before aws_cdk is imported: a config mistake is reported without
    # paying for the jsii start-up (seconds). The CLI's `-c` values arrive in CDK_CONTEXT_JSON.
    config_path = requested_config_path(json.loads(os.environ.get("CDK_CONTEXT_JSON") or "{}"))
    config = load_or_report(config_path)
    if config is None:
        return 2
    from stacks.app_builder import build_app, new_app

    app = new_app()
    # Whatever the App itself read as context (e.g. a CLI that passed it some other way) wins.
    if (from_app := requested_config_path({"config": app.node.try_get_context("config")})) != config_path:
        config = load_or_report(from_app)
        if config is None:
            return 2
    build_app(config, app)
    try:
        app.synth()
    except RuntimeError as error:  # jsii surfaces validation failures (cdk-nag) this way
        print(f"error: synthesis failed: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
