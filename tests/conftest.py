"""Session-wide fixtures: the synthesized templates, made once per test session.

The controller process (or the only process without xdist) starts `harness.synthesis` in the
background at configure time; handler, tool and config tests run meanwhile, and the first
template test waits for the result. Workers find the output folder through an environment
variable inherited from the controller.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.synthesis import SIMULATOR_VARIANTS

REPO = Path(__file__).resolve().parents[1]
# No test may reach the instance metadata service (169.254.169.254) looking for credentials.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
SYNTH_DIR_VARIABLE = "PERSONALIZE_IMPACT_TEST_SYNTH_DIR"
SYNTH_TIMEOUT_SECONDS = 300
_BACKGROUND = pytest.StashKey[tuple]()


TEMPLATE_FREE_FOLDERS = (REPO / "tests" / "lambdas", REPO / "tests" / "tools", REPO / "tests" / "integration", REPO / "tests" / "harness")


def _needs_templates(config: pytest.Config) -> bool:
    """Skip the synthesis when only handler or tool tests were asked for."""
    paths = [Path(a.split("::")[0]).resolve() for a in config.args if not a.startswith("-")] or [REPO / "tests"]
    return not all(any(p.is_relative_to(folder) for folder in TEMPLATE_FREE_FOLDERS) for p in paths)


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or os.environ.get(SYNTH_DIR_VARIABLE) or not _needs_templates(config):
        return
    outdir = Path(tempfile.mkdtemp(prefix="pimpact-synth-"))
    log = open(outdir / "synthesis.log", "w")  # noqa: SIM115 - lives as long as the process
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    process = subprocess.Popen([sys.executable, "-m", "harness.synthesis", str(outdir)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    os.environ[SYNTH_DIR_VARIABLE] = str(outdir)
    config.stash[_BACKGROUND] = (process, outdir)


# The background synthesis writes these in this order; tests that wait for one run after every
# test that waits for none, so the workers never sit idle while it works.
BACKGROUND_FIXTURES = ("synthesized", "releases", "simulator_variants")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def waits_for(item: pytest.Item) -> int:
        names = getattr(item, "fixturenames", ())
        return max((BACKGROUND_FIXTURES.index(name) + 1 for name in names if name in BACKGROUND_FIXTURES), default=0)

    items.sort(key=waits_for)  # stable: collection order within each group


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the background synthesis if the session ended first, and remove its folder."""
    background = config.stash.get(_BACKGROUND, None)
    if background is None:
        return
    process, outdir = background
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=30)
    shutil.rmtree(outdir, ignore_errors=True)


@dataclass(frozen=True)
class Synthesized:
    outdir: Path
    stacks: dict[str, dict[str, str]]
    acknowledged: list[str]
    seconds: float

    def template(self, config_key: str, stack_role: str) -> dict:
        name = self.stacks[config_key][stack_role]
        return json.loads((self.outdir / f"{name}.template.json").read_text())

    def template_paths(self) -> list[Path]:
        return sorted(self.outdir.glob("*.template.json"))


def _background_result(name: str, timeout: float = SYNTH_TIMEOUT_SECONDS) -> tuple[Path, dict]:
    outdir = os.environ.get(SYNTH_DIR_VARIABLE)
    if not outdir:
        pytest.fail("templates were not synthesized: run the template tests through pytest from the repository root")
    result_file = Path(outdir) / name
    deadline = time.monotonic() + timeout
    while not result_file.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{name} was not written in {timeout} s; see {outdir}/synthesis.log")
        time.sleep(0.2)
    result = json.loads(result_file.read_text())
    if "error" in result:
        pytest.fail(f"{name}: failed:\n" + result["error"] + "\n" + (Path(outdir) / "synthesis.log").read_text()[-4000:])
    return Path(outdir), result


@pytest.fixture(scope="session")
def synthesized() -> Synthesized:
    outdir, result = _background_result("result.json")
    return Synthesized(outdir, result["stacks"], result["acknowledged"], result["seconds"])


@pytest.fixture(scope="session")
def releases() -> dict[str, Path]:
    """Release folders made by tools/release.py for the configs in harness.synthesis.RELEASE_CONFIGS."""
    _, result = _background_result("releases.json")
    return {key: Path(folder) for key, folder in result["releases"].items()}


@pytest.fixture(scope="session")
def simulator_variants() -> dict[str, dict]:
    """The simulator's config variants, synthesized in the background after the templates."""
    _, result = _background_result(f"{SIMULATOR_VARIANTS}/variants.json")
    return result["variants"]
