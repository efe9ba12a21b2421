"""`python -m tools COMMAND ...`: the same tools as `python -m tools.send_events` and `python -m tools.report`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = """usage: python -m tools {send-events,report,demo-reports,cost} [options]

commands:
  send-events  send generated PutEvents to an event tracker (python -m tools send-events --help)
  report       compare metric attribution sources from S3 reports or CloudWatch (python -m tools report --help)
  demo-reports write a seeded demo of report CSVs to try report on, offline (python -m tools demo-reports --help)
  cost         what deploying a config bills, from the config alone (python -m tools cost --help)"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(USAGE, file=sys.stderr)
        return 2
    if args[0] in {"-h", "--help"}:
        print(USAGE)
        return 0
    command, rest = args[0], args[1:]
    if command in {"send-events", "send_events"}:
        from tools import send_events

        return send_events.main(rest)
    if command == "report":
        from tools import report

        return report.main(rest)
    if command == "demo-reports":
        from tools.impact import demo

        return demo.main(rest)
    if command == "cost":
        from tools import cost

        return cost.main(rest)
    print(f"tools: error: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
