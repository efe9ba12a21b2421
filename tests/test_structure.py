"""tools/structure_facts.py on small made-up repositories, the real repository's gate, and the
CI workflow's pins."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tools import structure_facts

REPO = Path(__file__).resolve().parents[1]
WORKFLOW = REPO / ".github" / "workflows" / "pull-request.yml"


def write(repo: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return repo


def test_a_deferred_import_closes_a_cycle(tmp_path: Path) -> None:
    repo = write(tmp_path, {
        "lambdas/pkg/__init__.py": "",
        "lambdas/pkg/poller.py": "def kinds():\n    from . import job\n    return job\n",
        "lambdas/pkg/job.py": "from . import poller\n",
    })
    assert structure_facts.collect(repo).cycles == [["lambdas.pkg.job", "lambdas.pkg.poller"]]


def test_imports_against_the_layers_are_reported(tmp_path: Path) -> None:
    repo = write(tmp_path, {
        "lambdas/personalize_resources/__init__.py": "",
        "lambdas/personalize_resources/address_book.py": "import re\nimport yaml\n",
        "lambdas/personalize_resources/core.py": "from .address_book import re\n",
        "stacks/__init__.py": "",
        "config/__init__.py": "",
        "config/loading.py": "from lambdas.personalize_resources import core\n",
        "stacks/storage_stack.py": "import aws_cdk\nfrom tools import report\n",
        "tools/__init__.py": "",
        "tools/report.py": "def f():\n    from aws_cdk import Aws\n    from stacks.storage_stack import x\n",
        "tests/__init__.py": "",
        "tests/helper.py": "",
        "tools/uses_tests.py": "import tests.helper\n",
    })
    assert structure_facts.collect(repo).wrong_way == [
        "config/loading.py:1 config -> handlers (config.loading imports lambdas.personalize_resources.core)",
        "lambdas/personalize_resources/address_book.py:2 address book -> third-party yaml",
        "stacks/storage_stack.py:2 stacks -> tools (stacks.storage_stack imports tools.report)",
        "tools/report.py:2 tools -> third-party aws_cdk",
        "tools/report.py:3 tools -> stacks (tools.report imports stacks.storage_stack)",
        "tools/uses_tests.py:1 tools -> tests (tools.uses_tests imports tests.helper)",
    ]


def test_sizes_and_arn_spellings(tmp_path: Path) -> None:
    long_body = "".join(f"    x{i} = {i}\n" for i in range(60))
    repo = write(tmp_path, {
        "stacks/__init__.py": "",
        "stacks/big.py": f"def long():\n{long_body}" + "\n" * 400,
        "stacks/arns.py": (
            '"""arn:aws:personalize:region:account:x/y in a docstring does not count."""\n'
            'def arn(p, r, a):\n    return f"arn:{p}:personalize:{r}:{a}:recommender/x"\n'
            'PATTERN = "arn:aws:personalize:::recipe/"\n'
            'def cdk(stack):\n    return stack.format_arn(service="personalize", resource="*")\n'
        ),
        "tests/__init__.py": "",
        "tests/test_big.py": f"def test_long():\n{long_body}",
    })
    facts = structure_facts.collect(repo)
    assert facts.long_files == [("stacks/big.py", 461)]
    assert facts.long_functions == [("stacks/big.py:1 long", 61)]
    assert facts.personalize_arns == ["stacks/arns.py:3", "stacks/arns.py:4", "stacks/arns.py:6"]
    assert structure_facts.arn_modules(facts.personalize_arns) == ["stacks/arns.py (lines 3, 4, 6)"]
    assert structure_facts.violations(facts) == [
        "stacks/big.py: 461 lines, over 400: split it by concern",
        "stacks/big.py:1 long: 61 lines, over 60: name its steps",
        *(f"stacks/arns.py:{line}: spells a Personalize ARN; build it with lambdas.personalize_resources.address_book" for line in (3, 4, 6)),
    ]


def test_the_repository_breaks_no_structure_rule() -> None:
    assert structure_facts.violations(structure_facts.collect()) == []


def test_every_action_is_pinned_by_commit_with_its_tag_beside() -> None:
    uses = re.findall(r"uses:\s*(\S+)(.*)", WORKFLOW.read_text())
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r"\s*#\s*v\d+\.\d+\.\d+", comment), f"{action}: comment the tag, e.g. # v4.4.0"


def test_handler_tests_run_on_the_lambda_runtime_python() -> None:
    from stacks.constructs.handler_functions import RUNTIME

    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["handlers-on-lambda-runtime"]
    versions = [step["with"]["python-version"] for step in job["steps"] if "setup-python" in step.get("uses", "")]
    assert [f"python{v}" for v in versions] == [RUNTIME.name]
    assert any("pytest tests/lambdas" in step.get("run", "") for step in job["steps"])


def test_the_address_book_limits_are_botocores() -> None:
    import botocore.session

    from lambdas.personalize_resources import address_book

    model = botocore.session.get_session().get_service_model("personalize")
    assert address_book.NAME_MAX == model.shape_for("Name").metadata["max"]
    assert address_book.MAX_METRICS == model.shape_for("MetricAttributes").metadata["max"]
    assert re.fullmatch(model.shape_for("Name").metadata["pattern"].lstrip("^"), address_book.physical_name("env", "group", "x"))
