"""What a deployment bills, before it is deployed: `make cost CONFIG=config/default.yaml`.

From the config alone (no AWS call) and the price table `stacks/prices.csv` (stacks/cost.py does
the arithmetic; docs/cost.md explains the table). One config: its breakdown. Several configs: one
line each, the table docs/cost.md shows:

    python -m tools.cost config/default.yaml
    python -m tools.cost --markdown config/*.yaml
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from config import ConfigError, load_config
from stacks.cost import (
    DEFAULT_REGION,
    HOURS_PER_MONTH,
    NEW_VERSION,
    Charge,
    Estimate,
    PriceError,
    estimate,
    summary,
    usd,
)
from tools._cli import EXIT_OK, ArgumentParser, CliError, format_table, run_main

PROG = "cost"
KINDS = (
    ("hourly", "While deployed, per hour (billed whether or not anyone calls them)"),
    ("training", "Trainings (billed per training hour; hours depend on the data)"),
    ("monthly", "Fixed, per month"),
    ("usage", "Scales with use (unit prices)"),
)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m tools.cost", description="Estimate what deploying a config bills, from the config and stacks/prices.csv (no AWS call).")
    parser.add_argument("configs", nargs="+", metavar="CONFIG", help="config file(s); several print one line each")
    parser.add_argument("--region", default=DEFAULT_REGION, help=f"price table region (default {DEFAULT_REGION})")
    parser.add_argument("--markdown", action="store_true", help="several configs: a Markdown table")
    return parser


def _amount(charge: Charge) -> str:
    if charge.usd is None:
        return "unknown (price unread)"
    # A unit price keeps the table's digits (0.0556); totals are in cents.
    return f"USD {charge.usd:.6g}" if charge.kind == "usage" and charge.quantity == 1 else usd(charge.usd)


def breakdown(estimate_: Estimate) -> str:
    lines = [f"{estimate_.config_name}: {summary(estimate_)}", ""]
    for kind, title in KINDS:
        charges = estimate_.of(kind)
        if not charges:
            continue
        lines.append(title)
        rows = []
        for charge in charges:
            if kind == "training":  # the count is known, the hours are not: the price per hour stands
                quantity = f"{charge.quantity:.3g} a month" if charge.per == "month" else f"{charge.quantity:g} at each {charge.per}"
                amount = f"{usd(charge.price.usd)}/training hour" if charge.price.usd is not None else "unknown (price unread)"
            else:
                quantity = f"{charge.quantity:,.4g} x {charge.price.unit}"
                per = {"hourly": "/hour", "monthly": "/month"}.get(kind, f" per {charge.per}")
                amount = _amount(charge) + (per if charge.usd is not None else "")
            rows.append([charge.what, quantity, amount, charge.price.status, charge.switch or ""])
        lines.append(format_table(["what", "quantity", "amount", "price", "release switch"], rows, right_align={2}))
        lines.append("")
    lines.append(
        f"Month = {HOURS_PER_MONTH} hours. Price status: aws = read on AWS's page; quoted = AWS's page named, figure read on the page the table cites;"
        " unread = no figure (never counted as 0). Prices: stacks/prices.csv; meaning: docs/cost.md."
    )
    return "\n".join(lines)


def comparison(estimates: list[tuple[str, Estimate]], markdown: bool) -> str:
    headers = ["config", "name", "per hour", "per month", "trainings per new version", "unread prices", "release switches off save"]
    rows = []
    for path, e in estimates:
        unread = len({c.price.key for c in e.charges if c.price.usd is None and c.kind != "usage"})
        saves = ", ".join(f"{switch}: {usd(saved)}/h" for switch, saved in e.savings_per_hour().items()) or "-"
        rows.append([path, e.config_name, usd(e.hourly), usd(e.month), f"{e.trainings(NEW_VERSION):g}", str(unread), saves])
    if not markdown:
        return format_table(headers, rows)
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout

    def body() -> int:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        estimates = []
        for path in args.configs:
            try:
                config = load_config(path, choose_with="make cost CONFIG=PATH (python -m tools.cost PATH)")
                estimates.append((path, estimate(config, args.region)))
            except (ConfigError, PriceError) as error:
                raise CliError(str(error)) from None
        text = breakdown(estimates[0][1]) if len(estimates) == 1 else comparison(estimates, args.markdown)
        print(text, file=stdout)
        return EXIT_OK

    return run_main(PROG, body, stderr, stdout=stdout)


if __name__ == "__main__":
    sys.exit(main())
