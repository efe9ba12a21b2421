"""Figures of docs/experiments.md: the experiment verdict's error rates on simulated experiments
with a known truth, run through report's own statistics (tools.impact.experiments), and the synth
cost of experiments.

Outcome model (per user, the example's primary metric sumMargin): a user buys with probability
P_BUY (times 1 + lift in a treated arm), and a buyer's margin is lognormal (mean MARGIN_MEAN,
log-sd MARGIN_SIGMA): zero-inflated and heavy-tailed, as margin per user is. Users arrive every
day at --users-per-day, split 50/50 (multinomial, as a hash split is); each day the analyst looks.

  A/A: no true effect. False-positive rate = share of experiments where the interval excludes 0:
       the fixed-horizon interval looked at once (day 28), every day, and the always-valid
       (mSPRT) interval every day (what the verdict uses).
  power: true lift = the configured minimumDetectableEffect of config/experiments.yaml's
       home-widget; share where the verdict says "better" by day 28 (always-valid), and where the
       fixed-horizon interval excludes 0 at day 28.
  coverage: share where the interval contains the true lift: fixed-horizon at day 28; always-valid
       at every day at once.
  SRM: users split 48/52 while the flag says 50/50; share of experiments whose chi-square p is
       below the threshold (detection), and the same under a true 50/50 split (false alarms).
  synth: config/experiments.yaml with and without its experiments, alternately, in one process.

    .venv/bin/python benchmarks/experiments.py [--experiments 2000] [--no-synth]
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics as stats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config import load_config, parse_config
from tools.impact.experiments import (
    SRM_P_THRESHOLD,
    Moments,
    lift_intervals,
    running_intersection,
    srm_p_value,
)

CONFIG = Path(__file__).resolve().parent.parent / "config" / "experiments.yaml"
EXPERIMENT = "home-widget"
DAYS = 28
ALPHA = 0.05
P_BUY = 0.1
MARGIN_MEAN = 40.0
MARGIN_SIGMA = 1.0


def simulate(rng: np.random.Generator, experiments: int, users_per_day: int, lift: float, split: tuple[float, float] = (0.5, 0.5)) -> tuple[Moments, Moments]:
    """Cumulative moments per day (experiments x days) of control and treatment."""
    mu = math.log(MARGIN_MEAN) - MARGIN_SIGMA**2 / 2
    shape = (experiments, DAYS)
    n, total, squares = (np.zeros((2, *shape)) for _ in range(3))
    for day in range(DAYS):
        counts = rng.multinomial(users_per_day, split, size=experiments)
        for arm, arm_lift in enumerate((0.0, lift)):
            buyers = rng.binomial(counts[:, arm], P_BUY * (1 + arm_lift))
            margins = rng.lognormal(mu, MARGIN_SIGMA, size=int(buyers.sum()))
            owner = np.repeat(np.arange(experiments), buyers)
            n[arm, :, day] = counts[:, arm]
            total[arm, :, day] = np.bincount(owner, weights=margins, minlength=experiments)
            squares[arm, :, day] = np.bincount(owner, weights=margins**2, minlength=experiments)
    n, total, squares = (np.cumsum(a, axis=-1) for a in (n, total, squares))
    return Moments(n[0], total[0], squares[0]), Moments(n[1], total[1], squares[1])


def verdict_rates(control: Moments, treatment: Moments, effect: float, true_lift: float) -> dict[str, float]:
    intervals = lift_intervals(control, treatment, alpha=ALPHA, mixture_scale=effect)
    low, high = running_intersection(intervals)
    fixed_excludes = (intervals.fixed_low > 0) | (intervals.fixed_high < 0)
    return {
        "fixed, one look at day 28": float(fixed_excludes[:, -1].mean()),
        "fixed, every day": float(fixed_excludes.any(axis=-1).mean()),
        "always-valid, every day": float(((low[:, -1] > 0) | (high[:, -1] < 0)).mean()),
        "better by day 28 (always-valid)": float((low[:, -1] > 0).mean()),
        "coverage fixed day 28": float(((intervals.fixed_low[:, -1] <= true_lift) & (true_lift <= intervals.fixed_high[:, -1])).mean()),
        "coverage always-valid all days": float(((low[:, -1] <= true_lift) & (true_lift <= high[:, -1])).mean()),
    }


def synth_seconds(rounds: int) -> tuple[float, float, int, int]:
    from stacks.app_builder import add_environment, new_app

    raw = yaml.safe_load(CONFIG.read_text())
    without = copy.deepcopy(raw)
    for group in without["datasetGroups"]:
        group.pop("experiments", None)
    configs = {"with": parse_config(raw), "without": parse_config(without)}
    times: dict[str, list[float]] = {"with": [], "without": []}
    sizes: dict[str, int] = {}
    for _ in range(rounds):
        for key, config in configs.items():
            with tempfile.TemporaryDirectory() as folder:
                started = time.perf_counter()
                app = new_app(outdir=folder)
                add_environment(app, config)
                app.synth()
                times[key].append(time.perf_counter() - started)
                sizes[key] = sum(p.stat().st_size for p in Path(folder).glob("*.template.json"))
    return stats.median(times["with"]), stats.median(times["without"]), sizes["with"], sizes["without"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiments", type=int, default=2000, help="simulated experiments per scenario (default 2000)")
    parser.add_argument("--users-per-day", type=int, default=20_000, help="users entering the experiment per day (default 20,000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--synth-rounds", type=int, default=3)
    parser.add_argument("--no-synth", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    experiment = next(e for e in load_config(CONFIG).dataset_groups[0].experiments if e.name == EXPERIMENT)
    effect = experiment.minimum_detectable_effect
    started = time.perf_counter()

    print(f"{args.experiments:,} simulated experiments per row, {args.users_per_day:,} users/day for {DAYS} days, 50/50, "
          f"alpha {ALPHA}; mixture scale = minimumDetectableEffect {effect:.0%} of {EXPERIMENT}\n")
    aa = verdict_rates(*simulate(rng, args.experiments, args.users_per_day, 0.0), effect, 0.0)
    ab = verdict_rates(*simulate(rng, args.experiments, args.users_per_day, effect), effect, effect)
    print("| figure | fixed-horizon, one look | fixed-horizon, daily looks | always-valid (verdict), daily looks |")
    print("|---|---|---|---|")
    print(f"| A/A false-positive rate | {aa['fixed, one look at day 28']:.1%} | {aa['fixed, every day']:.1%} | {aa['always-valid, every day']:.1%} |")
    print(f"| power at +{effect:.0%} (true lift) | {ab['fixed, one look at day 28']:.1%} | – | {ab['better by day 28 (always-valid)']:.1%} |")
    print(f"| coverage of the interval (true lift +{effect:.0%}) | {ab['coverage fixed day 28']:.1%} | – | {ab['coverage always-valid all days']:.1%} |")

    print(f"\nSRM check (chi-square, fails below p = {SRM_P_THRESHOLD}), {args.experiments:,} experiments per row:\n")
    print("| units in the experiment | detected: true split 48/52 | false alarms: true split 50/50 |")
    print("|---|---|---|")
    for units in (5_000, 10_000, 20_000, 140_000):
        shifted = rng.multinomial(units, (0.48, 0.52), size=args.experiments)
        fair = rng.multinomial(units, (0.5, 0.5), size=args.experiments)
        detected = float((srm_p_value(shifted, (50, 50)) < SRM_P_THRESHOLD).mean())
        alarms = float((srm_p_value(fair, (50, 50)) < SRM_P_THRESHOLD).mean())
        print(f"| {units:,} | {detected:.1%} | {alarms:.1%} |")
    print(f"\n(simulation {time.perf_counter() - started:.1f} s)")

    if not args.no_synth:
        with_s, without_s, with_bytes, without_bytes = synth_seconds(args.synth_rounds)
        print(f"\nSynth of config/experiments.yaml (median of {args.synth_rounds} alternating runs in one process):\n")
        print("| config | synth (s) | template bytes |\n|---|---|---|")
        print(f"| without experiments | {without_s:.2f} | {without_bytes:,} |")
        print(f"| with two experiments | {with_s:.2f} | {with_bytes:,} |")
        print(f"| ratio | {with_s / without_s:.3f}x | {with_bytes / without_bytes:.3f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
