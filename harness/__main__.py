"""``python -m harness [--scenario NAME] [--verbose] [--json FILE] [--workers N]``: synthesizes
the config variants and plays every scenario, split among N worker processes, one line per scenario."""

from __future__ import annotations

from tools._entry import exit_quietly_on_interrupt

exit_quietly_on_interrupt("simulate")  # before the imports below: they start jsii and take a second

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from harness.cloudformation import CUSTOM_RESOURCE_RESPONSE_LIMIT_BYTES  # noqa: E402
from harness.parallel import WORKERS, Options, play_all  # noqa: E402
from harness.scenarios import SCENARIOS  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__)
    parser.add_argument("--scenario", action="append", help="run only this scenario (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="print why a scenario failed, and its stack events")
    parser.add_argument("--events", action="store_true", help="print every scenario's stack events")
    parser.add_argument("--markdown", action="store_true", help="also print the README's scenario table")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--reversed-order", action="store_true",
                        help="resources ready at one instant start in the other order (CloudFormation's order is not fixed)")
    parser.add_argument("--both-orders", action="store_true",
                        help="also replay every chosen scenario that fails or cancels a step with --reversed-order")
    parser.add_argument("--workers", type=int, default=WORKERS, help=f"processes that play the scenarios (default {WORKERS})")
    args = parser.parse_args(argv)
    chosen = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]
    unknown = set(args.scenario or []) - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}; known: {[s.name for s in SCENARIOS]}")
    started = time.perf_counter()
    played = play_all(chosen, args.workers, Options(args.reversed_order, args.both_orders, args.verbose, args.events))
    order = {s.name: i for i, s in enumerate(chosen)}
    results = sorted((r for share in played for r in share.results), key=lambda r: order[r.name])
    reversed_results = sorted((r for share in played for r in share.reversed_results), key=lambda r: order[r.name])
    synthesis_seconds = round(sum(share.synthesis_seconds for share in played), 2)
    needed = sum(share.variants for share in played)
    passed = sum(r.passed for r in results)
    print(f"simulate: {len(results)} scenarios, {passed} passed"
          + (f"; in the other start order {len(reversed_results)}, {sum(r.passed for r in reversed_results)} passed" if args.both_orders else ""))
    if args.markdown:
        about = {s.name: s.about for s in chosen}
        print("\n| Scenario | What it plays | Result | left | billed (h) | denied | deploy (min) | bound (min) |\n|---|---|---|---|---|---|---|---|")
        for r in results:
            print(f"| `{r.name}` | {about[r.name]} | {'PASS' if r.passed else 'FAIL'} | {len(r.left)} | {r.billed_hours:.1f} | {len(r.denied)}"
                  f" | {r.deploy_minutes:.1f} | {r.bound_minutes:.1f} |")
    largest = max((r.largest_response for r in results), default=(0, ""))
    print(f"largest custom-resource response: {largest[0]} bytes ({largest[1]}; CloudFormation's limit is {CUSTOM_RESOURCE_RESPONSE_LIMIT_BYTES})")
    seconds = round(time.perf_counter() - started, 1)
    print(f"(synthesis of {needed} variants: {synthesis_seconds} s summed over {len(played)} worker(s); total {seconds} s)", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({
            "synthesis_seconds": synthesis_seconds, "seconds": seconds,
            "results": [{"name": r.name, "passed": r.passed, "line": r.line(), "problems": r.problems,
                         "left": r.left, "billed_hours": r.billed_hours, "largest_response_bytes": r.largest_response[0]} for r in results],
            "other_start_order": [{"name": r.name, "passed": r.passed, "line": r.line(), "problems": r.problems} for r in reversed_results]}, indent=1))
    return 0 if passed == len(results) and all(r.passed for r in reversed_results) else 1




def _main_reporting_crashes() -> int:
    """A crash is written to --json too, so the test session fails at once with it."""
    try:
        return main()
    except Exception:
        import traceback

        if "--json" in sys.argv:
            Path(sys.argv[sys.argv.index("--json") + 1]).write_text(json.dumps({"error": traceback.format_exc()}))
        raise


if __name__ == "__main__":
    sys.exit(_main_reporting_crashes())
