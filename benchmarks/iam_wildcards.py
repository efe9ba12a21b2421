"""Counts IAM policy statements that allow a wildcard resource with no condition, per template.

    .venv/bin/python benchmarks/iam_wildcards.py cdk.out                 # one assembly
    .venv/bin/python benchmarks/iam_wildcards.py before/cdk.out cdk.out  # columns side by side

A statement counts when it is an Allow in an identity policy (AWS::IAM::Policy,
AWS::IAM::ManagedPolicy, or a role's inline `Policies`), one of its resources contains `*`
(after references are rendered as text, as cdk-nag does) and it has no `Condition`. Prints a
Markdown table: per template, "unconditioned wildcard statements / all statements".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stacks.iam_reference import as_list, flatten_reference, identity_statements  # noqa: E402


def is_unconditioned_wildcard(statement: dict) -> bool:
    if statement.get("Effect") != "Allow" or statement.get("Condition"):
        return False
    return any("*" in flatten_reference(resource) for resource in as_list(statement.get("Resource", [])))


def count(assembly: Path) -> dict[str, tuple[int, int]]:
    """template name → (unconditioned wildcard statements, all Allow statements)."""
    counts = {}
    for path in sorted(assembly.glob("*.template.json")):
        statements = [s for s in identity_statements(json.loads(path.read_text())) if s.get("Effect") == "Allow"]
        counts[path.name.removesuffix(".template.json")] = (sum(map(is_unconditioned_wildcard, statements)), len(statements))
    return counts


def table(assemblies: list[Path]) -> str:
    counted = [count(a) for a in assemblies]
    names = sorted({name for c in counted for name in c})
    lines = ["| Template | " + " | ".join(str(a) for a in assemblies) + " |", "|---" * (len(assemblies) + 1) + "|"]
    for name in names:
        cells = [f"{c[name][0]} / {c[name][1]}" if name in c else "-" for c in counted]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    totals = [f"{sum(v[0] for v in c.values())} / {sum(v[1] for v in c.values())}" for c in counted]
    lines.append("| **all** | " + " | ".join(totals) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assemblies", nargs="+", type=Path, help="cdk.out folders (cloud assemblies)")
    args = parser.parse_args(argv)
    missing = [a for a in args.assemblies if not any(a.glob("*.template.json"))]
    if missing:
        print(f"error: no *.template.json in {', '.join(map(str, missing))}; synthesize first (make synth)", file=sys.stderr)
        return 2
    print(table(args.assemblies))
    return 0


if __name__ == "__main__":
    sys.exit(main())
