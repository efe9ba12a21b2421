"""Counts the synthesized grants the Service Authorization Reference would never let authorize
their action, per template (stacks/iam_reference.py, `template_grant_problems`).

    .venv/bin/python benchmarks/iam_reference_grants.py cdk.out                 # one assembly
    .venv/bin/python benchmarks/iam_reference_grants.py before/cdk.out cdk.out  # side by side
    .venv/bin/python benchmarks/iam_reference_grants.py --list cdk.out          # and each grant

A grant is one action on one resource of an Allow statement (identity policies, bucket and key
policies). Templates are found recursively, so a release folder counts too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stacks.iam_reference import template_grant_problems  # noqa: E402


def problems(assembly: Path) -> dict[str, list[str]]:
    found = {}
    for path in sorted(assembly.rglob("*.template.json")):
        if "cdk.out" in path.relative_to(assembly).parts[:-1]:
            continue  # a nested copy of an assembly
        found[str(path.relative_to(assembly))] = template_grant_problems(json.loads(path.read_text()))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assemblies", nargs="+", type=Path, help="cdk.out or release folders")
    parser.add_argument("--list", action="store_true", help="print every grant that would be denied")
    args = parser.parse_args(argv)
    counted = [problems(a) for a in args.assemblies]
    names = sorted({name for c in counted for name in c})
    print("| Template | " + " | ".join(map(str, args.assemblies)) + " |")
    print("|---" * (len(args.assemblies) + 1) + "|")
    for name in names:
        print(f"| {name} | " + " | ".join(str(len(c[name])) if name in c else "-" for c in counted) + " |")
    print("| **all** | " + " | ".join(str(sum(map(len, c.values()))) for c in counted) + " |")
    if args.list:
        for c in counted:
            for name, found in c.items():
                for problem in found:
                    print(f"{name}: {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
