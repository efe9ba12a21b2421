"""The README's synth path: the pinned CDK CLI runs app.py (cdk.json) and reads its assembly."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_pinned_cdk_cli_synthesizes_offline(tmp_path):
    package = json.loads((REPO / "package.json").read_text())
    assert package["devDependencies"]["aws-cdk"].startswith("2.")  # 3.x cannot read aws-cdk-lib 2 assemblies
    outdir = tmp_path / "cdk.out"
    result = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--quiet", "--no-notices", "-c", "config=tests/configs/minimal.yaml", "-o", str(outdir)],
        cwd=REPO,
        env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in outdir.glob("*.template.json")) == ["pimpact-min-personalize.template.json", "pimpact-min-storage.template.json"]
