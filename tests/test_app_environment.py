"""Which environment a synth or deploy targets: app.py names it, refuses to guess, and stops on
`-c` keys it would ignore. Each run here stops before aws_cdk is imported (about a second)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import remove_stale_stacks
from stacks.cli_context import cdk_json_context, unknown_context_keys

REPO = Path(__file__).resolve().parents[1]


def cli_context(**user_keys: str) -> dict:
    """CDK_CONTEXT_JSON as CLI 2.1148 builds it: cdk.json's context and derived keys, then `-c`."""
    return {**cdk_json_context(), **user_keys}


def run_app(context: dict | None, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "PERSONALIZE_IMPACT_"))}
    if context is not None:
        base["CDK_CONTEXT_JSON"] = json.dumps(context)
    return subprocess.run([sys.executable, "app.py"], cwd=REPO, env={**base, **env}, capture_output=True, text=True, timeout=120)


def test_the_cli_context_of_a_plain_synth_has_no_unknown_key():
    lookups = {"availability-zones:account=123456789012:region=eu-west-1": ["eu-west-1a"], "acknowledged-issue-numbers": [32775]}
    assert unknown_context_keys(cli_context(config="config/default.yaml", **lookups)) == []
    assert unknown_context_keys(cli_context(**{"@aws-cdk/core:newStyleStackSynthesis": "true"})) == []


def test_a_typo_of_config_stops_with_what_was_meant():
    run = run_app(cli_context(confg="config/prod.yaml"))
    assert run.returncode == 2
    assert run.stderr.splitlines()[0] == "error: context key 'confg' is not read by this app: did you mean `-c config=config/prod.yaml`?"
    assert "Traceback" not in run.stderr


def test_any_other_ignored_key_stops_too():
    [message] = unknown_context_keys(cli_context(config="config/default.yaml", stage="prod"))
    assert message == "context key 'stage' is not read by this app: the app reads only `-c config=PATH`; drop it"


def test_no_config_means_no_synth_and_no_deploy():
    run = run_app(cli_context())
    assert run.returncode == 2
    assert "error: no config chosen; pass -c config=PATH (e.g. config/default.yaml) or set PERSONALIZE_IMPACT_CONFIG" in run.stderr


@pytest.mark.parametrize(("env", "hint"), [({}, "pass an existing file with -c config=PATH"),
                                           ({"PERSONALIZE_IMPACT_MAKE_TARGET": "synth"}, "pass an existing file with make synth CONFIG=PATH")])
def test_missing_file_hint_speaks_the_callers_language(env, hint):
    run = run_app(cli_context(config="config/prod.yaml"), **env)
    assert run.returncode == 2
    assert f"config/prod.yaml: 1 configuration problem:\n  - (file): cannot read it (No such file or directory); {hint}" in run.stderr


def test_the_makefile_tells_the_app_it_runs_under_make():
    makefile = (REPO / "Makefile").read_text()
    assert "PERSONALIZE_IMPACT_MAKE_TARGET=synth npx --no-install cdk synth" in makefile


def test_stale_stacks_of_another_config_are_removed(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {"new-storage": {}, "new-storage.assets": {}, "Tree": {}}}))
    for stack in ("new-storage", "old-storage"):
        for suffix in (".template.json", ".assets.json", ".metadata.json"):
            (tmp_path / f"{stack}{suffix}").write_text("{}")
    (tmp_path / "asset.abc").mkdir()

    assert remove_stale_stacks(tmp_path) == ["old-storage"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "asset.abc", "manifest.json", "new-storage.assets.json", "new-storage.metadata.json", "new-storage.template.json"]
