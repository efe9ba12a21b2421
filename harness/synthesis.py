"""Synthesizes every test config once per test session, in one CDK app (one jsii start-up),
then the simulator's config variants and the releases in the same process.

Run as `python -m harness.synthesis OUTDIR`; writes the cloud assembly to OUTDIR and a
`result.json` naming each config's stacks (or the error), then `simulator-variants/variants.json`
and `releases.json`. tests/conftest.py starts it in the background at session start so that the
handler and config tests run meanwhile.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
REPO = Path(__file__).resolve().parents[1]

# name → config file; each config has its own `name`, so all stacks fit in one app.
SYNTH_CONFIGS = {
    "default": REPO / "config" / "default.yaml",
    "multi": REPO / "config" / "multi-group.yaml",
    "minimal": REPO / "tests" / "configs" / "minimal.yaml",
    "custom": REPO / "config" / "custom-solutions.yaml",
    "reuse": REPO / "tests" / "configs" / "reuse-retained.yaml",
    "experiments": REPO / "config" / "experiments.yaml",
}

# Released like a team stamping templates into new accounts would (tools/release.py).
RELEASE_CONFIGS = ("default", "multi", "custom")
RELEASE_VERSION = "9.9.9-test"
RELEASE_BUCKET = "test-org-cfn-assets"
SIMULATOR_VARIANTS = "simulator-variants"  # the folder (under OUTDIR) of the simulator's variants


def synthesize(outdir: Path) -> dict:
    sys.path.insert(0, str(REPO))
    from stacks.app_builder import add_environment, new_app
    from config import load_config
    from stacks.nag import acknowledge_allowed_wildcards
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    started = time.perf_counter()
    app = new_app(outdir=str(outdir))
    stacks: dict[str, dict[str, str]] = {}
    for key, path in SYNTH_CONFIGS.items():
        config = load_config(path)
        add_environment(app, config)
        # Stacks are named "<config name>-<role>", e.g. pimpact-default-storage.
        stacks[key] = {
            child.stack_name.removeprefix(config.name + "-"): child.stack_name
            for child in app.node.children
            if isinstance(child, cdk.Stack) and child.stack_name.startswith(config.name + "-")
        }
    acknowledged = acknowledge_allowed_wildcards(app)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    return {"stacks": stacks, "acknowledged": acknowledged, "seconds": round(time.perf_counter() - started, 2)}


def release(outdir: Path) -> dict:
    """The release command for new accounts, run as a team would, into this session's folder."""
    from tools.release import ReleaseRequest, build_release

    started = time.perf_counter()
    folders = {}
    for key in RELEASE_CONFIGS:
        folders[key] = str(build_release(ReleaseRequest(SYNTH_CONFIGS[key], RELEASE_VERSION, RELEASE_BUCKET, outdir / "release" / key)))
    return {"releases": folders, "seconds": round(time.perf_counter() - started, 2)}


def simulator_variants(outdir: Path, session_synthesized: bool) -> dict:
    """The simulator's config variants into outdir/SIMULATOR_VARIANTS/; a variant that is one of
    SYNTH_CONFIGS unchanged is read from this session's synthesis instead of synthesized again."""
    from harness.variants import synthesize as synthesize_variants

    reuse = {path: outdir for path in SYNTH_CONFIGS.values()} if session_synthesized else {}
    return synthesize_variants(outdir / SIMULATOR_VARIANTS, synthesized=reuse)


def write_result(path: Path, step) -> dict:
    """The step's result as JSON at path (or its error), written whole: readers poll for the file."""
    try:
        result = step()
    except BaseException as error:  # reported to the tests, which fail with it
        result = {"error": f"{error}\n{traceback.format_exc()}"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".tmp").write_text(json.dumps(result, indent=1))
    path.with_suffix(".tmp").rename(path)
    return result


def main() -> int:
    """``python -m harness.synthesis OUTDIR``, one jsii process for all three steps, in the order
    tests/conftest.py runs the tests that wait for them: the test configs' templates (most tests),
    the releases (seconds), then the simulator's variants (tens of seconds)."""
    outdir = Path(sys.argv[1])
    outdir.mkdir(parents=True, exist_ok=True)
    templates = write_result(outdir / "result.json", lambda: synthesize(outdir))
    write_result(outdir / "releases.json", lambda: release(outdir))
    write_result(outdir / SIMULATOR_VARIANTS / "variants.json", lambda: simulator_variants(outdir, "error" not in templates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
