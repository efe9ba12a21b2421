"""The simulator's scenarios played by worker processes, each synthesizing only the config
variants its share of the scenarios needs (`python -m harness --workers N`).

A worker is `python -m harness.parallel JOBDIR`, started with Ctrl-C ignored: on Ctrl-C the main
process alone prints its one line, kills the workers (their jsii kernels end with their input)
and removes the folder.
"""

from __future__ import annotations

import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.aws import FrameworkBridge
from harness.scenarios import SCENARIOS, Result, Scenario, run_scenario
from harness.variants import synthesize
from tools._entry import exit_quietly_on_interrupt

WORKERS = 2  # the machines this runs on have 2 cores; each worker is one Python and one jsii Node


def variants_of(scenario: Scenario) -> set[str]:
    return {step.variant for step in scenario.steps if step.variant}


def shares(chosen: list[Scenario], workers: int) -> list[list[Scenario]]:
    """The scenarios split among the workers, each worker synthesizing only the variants its
    scenarios play: a scenario goes where it adds the least work (a variant's synthesis costs
    about as much as playing a scenario), so scenarios that share variants share a worker."""
    groups: list[list[Scenario]] = [[] for _ in range(max(1, min(workers, len(chosen))))]
    synthesized: list[set[str]] = [set() for _ in groups]
    for scenario in chosen:
        wanted = variants_of(scenario)
        target = min(range(len(groups)), key=lambda i, wanted=wanted: (len(synthesized[i] | wanted) + len(groups[i]), i))
        groups[target].append(scenario)
        synthesized[target] |= variants_of(scenario)
    return [group for group in groups if group]


@dataclass(frozen=True)
class Options:
    reversed_order: bool = False
    both_orders: bool = False
    verbose: bool = False
    events: bool = False


@dataclass
class Share:
    results: list[Result]
    reversed_results: list[Result]
    synthesis_seconds: float
    variants: int


def play(names: list[str], folder: Path, options: Options) -> Share:
    """Synthesizes into folder the variants these scenarios need and plays them, one line each."""
    chosen = [s for s in SCENARIOS if s.name in names]
    needed = sorted(set().union(*map(variants_of, chosen)))
    synthesis = synthesize(folder, needed)
    bridge = FrameworkBridge()
    share = Share([], [], synthesis["seconds"], len(needed))
    try:
        for scenario in chosen:
            result = run_scenario(scenario, synthesis["variants"], bridge, reversed_order=options.reversed_order)
            share.results.append(result)
            _print_result(result, "", options.verbose, options.events)
        for scenario in [s for s in chosen if s.interrupted] if options.both_orders else []:
            result = run_scenario(scenario, synthesis["variants"], bridge, reversed_order=not options.reversed_order)
            share.reversed_results.append(result)
            _print_result(result, "(other start order) ", options.verbose, False)
    finally:
        bridge.close()
    return share


def _print_result(result: Result, prefix: str, verbose: bool, events: bool) -> None:
    """One write per result, so the workers' lines do not interleave mid-line."""
    lines = [f"{prefix}{result.line()}"]
    if verbose and not result.passed:
        lines += [f"    {problem}" for problem in result.problems]
    if events:
        lines += result.events
    print("\n".join(lines), flush=True)


def play_all(chosen: list[Scenario], workers: int, options: Options) -> list[Share]:
    groups = [[s.name for s in group] for group in shares(chosen, workers)]
    with tempfile.TemporaryDirectory(prefix="pimpact-simulate-") as folder:
        started: list[subprocess.Popen[bytes]] = []
        exit_quietly_on_interrupt("simulate", cleanup=lambda: _stop(started, folder))
        if len(groups) == 1:
            return [play(groups[0], Path(folder), options)]
        jobs = [Path(folder) / f"share-{index}" for index in range(len(groups))]
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited: Ctrl-C reaches the main process only
        try:
            for job, names in zip(jobs, groups, strict=True):
                job.mkdir()
                (job / "job.pickle").write_bytes(pickle.dumps((names, options)))
                started.append(subprocess.Popen([sys.executable, "-m", "harness.parallel", str(job)]))
        finally:
            signal.signal(signal.SIGINT, previous)
        codes = [worker.wait() for worker in started]
        if any(codes):
            raise RuntimeError(f"a simulator worker failed (exit codes {codes}); its error is printed above")
        return [pickle.loads((job / "share.pickle").read_bytes()) for job in jobs]


def _stop(workers: list[subprocess.Popen[bytes]], folder: str) -> None:
    # No wait(): this runs in the signal handler, maybe inside a worker's wait(), whose lock it holds.
    for worker in workers:
        worker.kill()
    shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    """A worker: plays the share described by JOBDIR/job.pickle, writes JOBDIR/share.pickle."""
    job = Path(sys.argv[1])
    names, options = pickle.loads((job / "job.pickle").read_bytes())
    share = play(names, job, options)
    (job / "share.pickle").write_bytes(pickle.dumps(share))
    return 0


if __name__ == "__main__":
    # Through the module's own name, so the pickled Share names harness.parallel, not __main__.
    from harness.parallel import main as worker_main

    sys.exit(worker_main())
