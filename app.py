#!/usr/bin/env python3
"""CDK entry point: `make synth CONFIG=config/x.yaml`, or `npx cdk synth|deploy -c config=config/x.yaml`.

The config is always named: `-c config=PATH` (or PERSONALIZE_IMPACT_CONFIG=PATH, for pipelines).
Without one the app stops instead of picking a default, so no deploy reaches an account with an
environment nobody chose (docs/configuration.md, "Choosing the environment"). A `-c` key the app
would ignore (`-c confg=...`) stops it too, with what was meant.

`python app.py` gives the same templates as the CLI: the app starts from cdk.json's context
merged the way the CLI merges it (stacks/app_builder.py, `new_app`), and the CLI's own context
(`-c` values, via CDK_CONTEXT_JSON) is applied over it. The only place that reads the
environment. A config problem or a cdk-nag finding ends the process with a readable message
and a non-zero exit, not a traceback; so does Ctrl-C. Every successful run prints one line on
stderr: the config file, the environment's `name`, its stacks and what they bill (stacks/cost.py).
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from tools._entry import exit_quietly_on_interrupt  # noqa: E402  (standard library only)

exit_quietly_on_interrupt("synth")  # Ctrl-C in `make synth`: one line, not jsii's tracebacks

from stacks.cli_context import CONFIG_KEY, unknown_context_keys  # noqa: E402
from config import AppConfig, ConfigDeprecationWarning, ConfigError, load_config  # noqa: E402

CONFIG_ENV = "PERSONALIZE_IMPACT_CONFIG"
# Set by the Makefile to its target (e.g. "synth"): hints then speak make's language.
MAKE_TARGET_ENV = "PERSONALIZE_IMPACT_MAKE_TARGET"
STACK_FILES = (".template.json", ".assets.json", ".metadata.json")


def how_to_choose() -> str:
    """How the user in front of this run names a config."""
    target = os.environ.get(MAKE_TARGET_ENV)
    return f"make {target} CONFIG=PATH" if target else f"-c {CONFIG_KEY}=PATH"


def requested_config_path(cli_context: dict) -> str | None:
    return cli_context.get(CONFIG_KEY) or os.environ.get(CONFIG_ENV) or None


def load_or_report(config_path: str) -> AppConfig | None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConfigDeprecationWarning)
        try:
            return load_config(config_path, choose_with=how_to_choose())
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return None
        finally:
            for warning in caught:
                print(f"warning: {warning.message}", file=sys.stderr)


def remove_stale_stacks(outdir: Path) -> list[str]:
    """Delete the template, assets and metadata files of stacks the assembly no longer lists
    (another config synthesized into the same folder), so cdk.out holds one environment."""
    artifacts = set(json.loads((outdir / "manifest.json").read_text()).get("artifacts", {}))
    stale = sorted(p.name.removesuffix(".template.json") for p in outdir.glob("*.template.json") if p.name.removesuffix(".template.json") not in artifacts)
    for stack in stale:
        for suffix in STACK_FILES:
            (outdir / f"{stack}{suffix}").unlink(missing_ok=True)
    return stale


def main() -> int:
    # The config is validated before aws_cdk is imported: a config mistake is reported without
    # paying for the jsii start-up (seconds). The CLI's `-c` values arrive in CDK_CONTEXT_JSON.
    cli_context = json.loads(os.environ.get("CDK_CONTEXT_JSON") or "{}")
    if problems := unknown_context_keys(cli_context):
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    config_path = requested_config_path(cli_context)
    if config_path is None:
        print(
            f"error: no config chosen; pass {how_to_choose()} (e.g. config/default.yaml) or set {CONFIG_ENV}. "
            "The app has no default, so a deploy never targets an environment nobody named.",
            file=sys.stderr,
        )
        return 2
    config = load_or_report(config_path)
    if config is None:
        return 2
    from stacks.app_builder import build_app, new_app
    from stacks.cost import counted, estimate, summary

    # CDK's switch for its built-in template validation, which this app runs beside it.
    app = new_app(validate_templates=os.environ.get("CDK_VALIDATION") != "false")
    # Whatever the App itself read as context (e.g. a CLI that passed it some other way) wins.
    if (from_app := app.node.try_get_context(CONFIG_KEY)) and from_app != config_path:
        config_path, config = from_app, load_or_report(from_app)
        if config is None:
            return 2
    build_app(config, app)
    try:
        app.synth()
    except RuntimeError as error:  # jsii surfaces validation failures (cdk-nag) this way
        print(f"error: synthesis failed: {str(error).splitlines()[0]}", file=sys.stderr)
        return 1
    outdir = Path(app.outdir)
    removed = remove_stale_stacks(outdir)
    stacks = sorted(p.name.removesuffix(".template.json") for p in outdir.glob("*.template.json"))
    cleaned = f"; removed the files of {counted(len(removed), 'stale stack')} of another config" if removed else ""
    print(f"{config_path}: environment {config.name!r}, {len(stacks)} stacks{cleaned}; {summary(estimate(config))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
