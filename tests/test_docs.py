"""The README stays a front page and the documents hold together: it is read in ten minutes,
every relative link (and its #anchor) resolves, and no document talks about issue numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README_MAX_LINES = 250
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
ISSUE_NUMBER = re.compile(r"\bissues?\s*#?\d+", re.IGNORECASE)


def documents() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {github_anchor(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", text, re.M)}


def test_readme_is_a_front_page():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES
    text = "\n".join(lines)
    for must in ("make synth", "make test", "## Deploy", "## Destroy", "## Prerequisites", "```mermaid"):
        assert must in text, must


@pytest.mark.parametrize("document", documents(), ids=lambda p: p.name)
def test_every_relative_link_resolves(document):
    text = re.sub(r"```.*?```", "", document.read_text(), flags=re.S)
    problems = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (document.parent / path_part).resolve() if path_part else document
        if not resolved.exists():
            problems.append(f"{target}: no such file")
            continue
        if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading #{anchor} in {resolved.name}")
    assert not problems, f"{document.name}: {problems}"


@pytest.mark.parametrize("document", documents(), ids=lambda p: p.name)
def test_documents_do_not_cite_issue_numbers(document):
    found = ISSUE_NUMBER.findall(document.read_text())
    assert not found, f"{document.name}: {found}"


def test_testing_page_lists_every_simulator_scenario():
    """docs/testing.md's scenario table names exactly the scenarios `make simulate` plays, in order."""
    from harness.scenarios import SCENARIOS

    listed = re.findall(r"^\| `([a-z0-9-]+)` \|", (REPO / "docs" / "testing.md").read_text(), flags=re.M)
    assert listed == [scenario.name for scenario in SCENARIOS]
