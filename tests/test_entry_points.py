"""A newcomer's first commands end in one line, never a traceback: Ctrl-C in `make synth`
(app.py) and `make simulate`, the tools under a Python without their dependencies, `npx cdk synth`
before any `make`; and `make synth` installs the synthesis requirements only."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from tools import _entry

REPO = Path(__file__).resolve().parents[1]
STARTED_TIMEOUT = 120.0  # seconds to wait for the run to start its first child (jsii's Node kernel)


def children(pid: int) -> list[str]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return path.read_text().split() if path.exists() else []


def interrupt_after_start(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run argv in its own process group and press Ctrl-C (SIGINT to the whole group, as a
    terminal does) once it is under way: when it has started jsii's Node kernel, which both
    programs do after installing their handler, however slow the machine."""
    process = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + (STARTED_TIMEOUT if Path("/proc/self/task").exists() else 2.0)  # no /proc: a fixed wait
    while not children(process.pid) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # and is busy in it
    assert process.poll() is None, "finished before it could be interrupted"
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=60)
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


@pytest.mark.parametrize(
    ("argv", "prog"),
    [
        ([sys.executable, "app.py"], "synth"),
        ([sys.executable, "-m", "harness", "--scenario", "default-create-destroy"], "simulate"),
        # Two scenarios: two worker processes, which the main process ends (harness/parallel.py).
        ([sys.executable, "-m", "harness", "--scenario", "default-create-destroy", "--scenario", "redeploy-after-destroy"], "simulate"),
    ],
    ids=["make-synth", "make-simulate", "make-simulate-workers"],
)
def test_ctrl_c_ends_with_one_line(argv, prog, tmp_path):
    env = {
        **os.environ, "CDK_OUTDIR": str(tmp_path / "cdk.out"), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "PERSONALIZE_IMPACT_CONFIG": "config/default.yaml",  # the app names no default config
    }  # fmt: skip
    run = interrupt_after_start(argv, env)
    assert run.returncode == _entry.EXIT_INTERRUPTED, run.stderr
    assert run.stderr.strip() == f"{prog}: interrupted", run.stderr


def test_a_tool_interrupted_while_it_loads_says_so_in_one_line():
    hook = _entry.tool_excepthook("report", "-m tools.report --dir x", sys.__excepthook__)
    stderr = io.StringIO()
    with redirect_stderr(stderr):
        hook(KeyboardInterrupt, KeyboardInterrupt(), None)
    assert stderr.getvalue().strip() == "report: interrupted"


@pytest.mark.parametrize(
    ("args", "prog", "suggested"),
    [
        (["-m", "tools.report", "--dir", "demo/reports"], "report", "-m tools.report --dir demo/reports"),
        (["-m", "tools", "send-events", "--dry-run"], "send-events", "-m tools send-events --dry-run"),
        (["-m", "tools.send_events", "--help"], "send-events", "-m tools.send_events --help"),
        (["-m", "tools", "demo-reports", "--out", "my folder"], "demo-reports", "-m tools demo-reports --out 'my folder'"),
    ],
)
def test_tools_under_a_python_without_their_dependencies_say_what_to_run(args, prog, suggested):
    # -S: no site-packages, as the system python3 of a fresh machine (no boto3, numpy, ...).
    run = subprocess.run([sys.executable, "-S", *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    [line] = run.stderr.strip().splitlines()
    assert line.startswith(f"{prog}: error: ") and f"run `{_entry.SETUP_COMMAND}` once, then `.venv/bin/python {suggested}`" in line


def test_the_setup_command_the_message_names_is_a_makefile_target_installing_the_tools():
    makefile = (REPO / "Makefile").read_text()
    target = _entry.SETUP_COMMAND.removeprefix("make ")
    assert re.search(rf"^{target}:.*\.tools-installed", makefile, re.M)
    assert "-r requirements-tools.lock" in makefile


def test_cdk_synth_before_any_make_says_to_run_make_synth(tmp_path):
    app = json.loads((REPO / "cdk.json").read_text())["app"]
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "cdk-app.sh").write_bytes((REPO / "scripts" / "cdk-app.sh").read_bytes())
    # The CDK CLI runs "app" through a shell in the project folder; here, one without .venv.
    run = subprocess.run(app, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False)
    assert run.returncode == 1
    assert run.stderr.strip().startswith("no .venv here: run `make synth` first")


def test_make_synth_installs_the_synthesis_requirements_only(tmp_path):
    venv = tmp_path / "venv"
    dry = subprocess.run(
        ["make", "-n", "synth", f"VENV={venv}"], cwd=REPO, capture_output=True, text=True, timeout=30, check=True
    ).stdout
    installs = re.findall(r"pip install .*-r (\S+)", dry)
    assert installs == ["requirements-synth.lock"], dry
    assert "npx --no-install cdk synth" in dry  # the pinned CLI (npm ci runs when node_modules is missing)
    tests_dry = subprocess.run(
        ["make", "-n", "test", f"VENV={venv}"], cwd=REPO, capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert re.findall(r"pip install .*-r (\S+)", tests_dry) == ["requirements-synth.lock", "requirements-tools.lock", "requirements.lock"]
    assert all("--require-hashes" in line for line in tests_dry.splitlines() if "pip install" in line)


def test_requirements_are_layered_synth_tools_dev():
    def names(path: str) -> set[str]:
        lines = (REPO / path).read_text().splitlines()
        return {line.split("==")[0].strip().lower() for line in lines if "==" in line}

    synth, tools, dev = names("requirements.txt"), names("requirements-tools.txt"), names("requirements-dev.txt")
    assert "aws-cdk-lib" in synth and not synth & {"pytest", "moto", "cfn-lint", "matplotlib", "scipy", "duckdb", "numpy"}
    assert {"numpy", "duckdb", "matplotlib", "scipy", "tqdm"} <= tools and not tools & {"pytest", "moto", "cfn-lint"}
    assert {"pytest", "moto", "cfn-lint"} <= dev
    assert (REPO / "requirements-tools.txt").read_text().startswith("-r requirements.txt")
    assert (REPO / "requirements-dev.txt").read_text().startswith("-r requirements-tools.txt")


def test_each_lock_pins_its_layer_and_no_more():
    def locked(path: str) -> dict[str, str]:
        return dict(re.findall(r"^([a-z0-9._-]+)==(\S+)", (REPO / path).read_text(), re.M))

    synth, tools, dev = locked("requirements-synth.lock"), locked("requirements-tools.lock"), locked("requirements.lock")
    assert "aws-cdk-lib" in synth and not set(synth) & {"numpy", "duckdb", "matplotlib", "pytest", "moto"}
    assert {"numpy", "duckdb"} <= set(tools) and not set(tools) & {"pytest", "moto", "ruff"}
    assert {"pytest", "moto", "ruff", "policy-sentry"} <= set(dev)
    # A later layer never moves a package an earlier one pinned.
    assert all(tools[name] == version for name, version in synth.items() if name in tools)
    assert all(dev[name] == version for name, version in tools.items() if name in dev)
