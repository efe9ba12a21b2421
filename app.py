#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c config=config/other.yaml` (default: config/default.yaml).

`python app.py` gives the same templates as the CLI: the app starts from cdk.json's context
merged the way the CLI merges it (stacks/app_builder.py, `new_app`), and the CLI's own context
(`-c` values, via CDK_CONTEXT_JSON) is applied over it. The only place that reads the
environment. A config problem or a cdk-nag finding ends the process with a readable message
and a non-zero exit, not a traceback.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from stacks.app_builder import build_app, new_app  # noqa: E402
from stacks.configuration import ConfigError, load_config  # noqa: E402

DEFAULT_CONFIG = "config/default.yaml"


def main() -> int:
    app = new_app()
    config_path = app.node.try_get_context("config") or os.environ.get("PERSONALIZE_IMPACT_CONFIG") or DEFAULT_CONFIG
    try:
        config = load_config(config_path)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
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
