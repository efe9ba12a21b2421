"""A fresh machine's first `make synth`, per git ref: wall and CPU time, virtual env and node_modules size.

    .venv/bin/python benchmarks/first_run.py [REF ...]    (default: HEAD)

Each ref is cloned into a temporary folder and `make synth` runs there from nothing: a new virtual
env (`python3 -m venv`), the pip and npm installs `make synth` does, and the synthesis itself.
pip's and npm's download caches are used as they are on this machine (a first run on a new machine
also downloads); CPU time is the children's user + system time, which the machine's other load
moves less than the wall time. Refs are run in the order given; pass `main HEAD main HEAD` to
interleave repeats.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def folder_mebibytes(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).lstat().st_size
            except OSError:
                pass
    return total / 2**20


def first_run(ref: str) -> dict[str, float | str]:
    with tempfile.TemporaryDirectory(prefix="first-run-") as folder:
        clone = Path(folder) / "clone"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", ref], check=True)
        commit = subprocess.run(["git", "-C", str(clone), "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        run = subprocess.run(["make", "synth"], cwd=clone, capture_output=True, text=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if run.returncode != 0:
            raise SystemExit(f"first_run: make synth failed at {ref}:\n{run.stderr[-2000:]}")
        return {
            "ref": ref,
            "commit": commit,
            "wall_s": wall,
            "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "venv_mib": folder_mebibytes(clone / ".venv"),
            "node_modules_mib": folder_mebibytes(clone / "node_modules"),
            "load": os.getloadavg()[0],
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("refs", nargs="*", default=["HEAD"], help="git refs to measure (default HEAD)")
    args = parser.parse_args(argv)
    print("| ref | commit | wall | CPU (user + system) | .venv | node_modules | load average after |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for ref in args.refs:
        r = first_run(ref)
        print(
            f"| {r['ref']} | {r['commit']} | {r['wall_s']:.0f} s | {r['cpu_s']:.0f} s | {r['venv_mib']:,.0f} MiB "
            f"| {r['node_modules_mib']:,.0f} MiB | {r['load']:.1f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
