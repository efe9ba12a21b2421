#!/usr/bin/env python3
"""Median synth time and peak memory: default config vs. the jsii floor vs. 10 dataset groups,
and config/custom-solutions.yaml (custom solutions, campaigns, filters) against the default.
Targets, medians measured in the same run: default at most 1.5× the floor, custom-solutions at
most 1.1× the default.

Each sample is a fresh process (as `cdk synth` runs the app), measured in one run so the
ratios compare like with like. Wall seconds and CPU seconds (the process and the node processes
it waits for, jsii's and the template validation's: steadier than wall time on a shared
machine). Two more cases measure what the CDK's built-in CloudFormation validation
(@aws/cloudformation-validate, on by default) costs in both: the same apps with
CDK_VALIDATION=false. The floor runs it inside jsii's process, as any CDK app does; app.py runs
the same plugin in a side process (stacks/template_validation.py). Prints a table; `--json`
prints the figures.

    .venv/bin/python benchmarks/synth_benchmark.py [--runs 5] [--cli]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
FLOOR = "empty one-stack app (jsii floor)"
DEFAULT = "default config"
ENV = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}


def generated_config(groups: int) -> dict:
    """The default config's dataset group repeated `groups` times under distinct names."""
    base = yaml.safe_load((REPO / "config" / "default.yaml").read_text())
    template = base["datasetGroups"][0]
    base["name"] = f"bench{groups}"
    base["datasetGroups"] = []
    for index in range(groups):
        group = copy.deepcopy(template)
        group["name"] = f"group{index:02d}"
        base["datasetGroups"].append(group)
    return base


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak resident MiB of one run (the process and its waited children)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-2000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def app_command(config_path: Path | None, outdir: str, cli: bool) -> tuple[list[str], dict[str, str]]:
    env = {**ENV, "CDK_OUTDIR": outdir}
    if config_path is None:
        script = [sys.executable, "benchmarks/empty_app.py"]
        if cli:
            return ["npx", "--no-install", "cdk", "synth", "--quiet", "--no-notices", "--app", " ".join(script), "-o", outdir], ENV
        return script, env
    if cli:
        return ["npx", "--no-install", "cdk", "synth", "--quiet", "--no-notices", "-c", f"config={config_path}", "-o", outdir], ENV
    return [sys.executable, "app.py"], {**env, "PERSONALIZE_IMPACT_CONFIG": str(config_path)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="samples per case (default 5)")
    # 10, not 20: with a WaitCondition and handle per import and recommender and a chain of 15
    # teardown waits per group, 15 groups or more exceed CloudFormation's 500 resources per stack
    # (the synth refuses: TooManyResourcesInStack). Personalize's default quota is 5 groups.
    parser.add_argument("--groups", type=int, default=10, help="dataset groups in the generated config")
    parser.add_argument("--cli", action="store_true", help="synthesize through the pinned CDK CLI (npx cdk synth)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        large = Path(scratch) / f"generated-{args.groups}.yaml"
        large.write_text(yaml.safe_dump(generated_config(args.groups), sort_keys=False))
        no_validation = {"CDK_VALIDATION": "false"}
        cases: dict[str, tuple[Path | None, dict[str, str]]] = {
            FLOOR: (None, {}),
            DEFAULT: (REPO / "config" / "default.yaml", {}),
            "custom-solutions config": (REPO / "config" / "custom-solutions.yaml", {}),
            f"generated config, {args.groups} dataset groups": (large, {}),
            FLOOR + ", no CDK validation": (None, no_validation),
            DEFAULT + ", no CDK validation": (REPO / "config" / "default.yaml", no_validation),
        }
        samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in cases}
        for run in range(args.runs):  # interleaved, so drift affects every case alike
            for name, (config, extra_env) in cases.items():
                outdir = tempfile.mkdtemp(dir=scratch)
                command, env = app_command(config, outdir, args.cli)
                samples[name].append(measure(command, {**env, **extra_env}))
                print(f"run {run + 1}/{args.runs}: {name}: {samples[name][-1][0]:.2f} s", file=sys.stderr)

    floor = statistics.median(s for s, _, _ in samples[FLOOR])
    floor_cpu = statistics.median(c for _, c, _ in samples[FLOOR])
    results = {
        name: {
            "median_seconds": round(statistics.median(s for s, _, _ in values), 2),
            "min_seconds": round(min(s for s, _, _ in values), 2),
            "median_cpu_seconds": round(statistics.median(c for _, c, _ in values), 2),
            "peak_mib": round(max(m for _, _, m in values)),
            "ratio_to_floor": round(statistics.median(s for s, _, _ in values) / floor, 2),
            "cpu_ratio_to_floor": round(statistics.median(c for _, c, _ in values) / floor_cpu, 2),
        }
        for name, values in samples.items()
    }
    custom_ratio = round(results["custom-solutions config"]["median_seconds"] / results["default config"]["median_seconds"], 2)
    if args.json:
        print(json.dumps({"runs": args.runs, "cli": args.cli, "cores": os.cpu_count(), "results": results,
                          "custom_solutions_to_default": custom_ratio}, indent=2))
        return 0
    print(f"synth benchmark: {args.runs} runs per case, {'CDK CLI' if args.cli else 'python app.py'}, {os.cpu_count()} cores")
    print(f"{'case':<52} {'median s':>9} {'min s':>7} {'× floor':>8} {'cpu s':>7} {'cpu × floor':>12} {'peak MiB':>9}")
    for name, figures in results.items():
        print(
            f"{name:<52} {figures['median_seconds']:>9.2f} {figures['min_seconds']:>7.2f} {figures['ratio_to_floor']:>8.2f}"
            f" {figures['median_cpu_seconds']:>7.2f} {figures['cpu_ratio_to_floor']:>12.2f} {figures['peak_mib']:>9}"
        )
    for name in (FLOOR, DEFAULT):
        share = 1 - results[name + ", no CDK validation"]["median_cpu_seconds"] / results[name]["median_cpu_seconds"]
        print(f"CDK built-in CloudFormation validation: {share:.0%} of the CPU of the {name}")
    print(f"default / floor: {results[DEFAULT]['ratio_to_floor']:.2f}× (target ≤ 1.50×)")
    print(f"custom-solutions / default: {custom_ratio:.2f}× (target ≤ 1.10×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
