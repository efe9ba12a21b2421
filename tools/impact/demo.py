"""A seeded demo of metric attribution reports, to try `report` without an AWS account.

`python -m tools demo-reports --out DIR` writes the CSV files a metric attribution of one dataset
group (default: config/default.yaml's `retail`) would write to S3 if a bulk import with
`publishAttributionMetricsToS3` ran once a day: one file per import
(`AggregatedAttributionMetrics - BULK - <timestamp>.csv`), a row per metric, source and non-empty
15-minute bucket. Developer Guide, "Publishing metric attribution reports to Amazon S3": a file per
import job of interactions data (bulk data only; PutEvents go to CloudWatch alone), named with
the import method, which it does not spell out (`BULK` here is *unconfirmed*; `report` reads
any `*.csv`). The metrics, event types and sources are the
config's; purchases carry the MARGIN of the sample catalogue's items (the one the deployed sample
data and send-events use). Built in, so the walkthrough in docs/dashboard-and-reports.md has
something to find:

* every configured source has a true rate lift over SOURCE_NAME_UNDEFINED (`TRUE_LIFTS`), with
  day-to-day variation (a whole day of one source up or down) and a daily traffic cycle;
* the first recommender's events partly arrive in the ARN form (events with a recommendationId
  but no eventAttributionSource), which `report --config ... --group ...` counts as its source;
* the last configured source (a vendor widget in the default config) launches `LATE_START_DAYS`
  days in, so it is compared only over the window both were live;
* `--extra-sources N` adds N experiment campaigns not in the config, in the ARN form (a busy chart).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from lambdas.personalize_resources.address_book import personalize_arn
from lambdas.personalize_resources.catalogue import sample_items
from tools._cli import EXIT_OK, ArgumentParser, CliError, plural, run_main
from stacks.report_sql import BUCKET_SECONDS
from tools.impact.statistics import UNDEFINED_SOURCE

DEMO_ACCOUNT = "111122223333"  # the documentation account of AWS's examples; no real account
DEMO_REGION = "us-east-1"
DEMO_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; fixed so the demo is the same everywhere
IMPORT_METHOD = "BULK"  # the file name's ImportMethod (see the module docstring)
HEADER = ["METRIC_NAME", "EVENT_TYPE", "VALUE", "MATH_FUNCTION", "EVENT_ATTRIBUTION_SOURCE", "TIMESTAMP"]
BASELINE_VIEWS_PER_BUCKET = 6.0  # SOURCE_NAME_UNDEFINED's mean views per 15 minutes
PURCHASES_PER_VIEW = 0.04
TRUE_LIFTS = (1.30, 1.10, 0.85, 1.05)  # configured sources in config order (cycled)
DAY_VARIATION = 0.15  # a day's multiplier per source is uniform in 1 +- this
ARN_FORM_SHARE = 0.3  # of the first recommender's events: only a recommendationId was sent
LATE_START_DAYS = 3


def demo_sources(config_path: Path, group_name: str, extra_sources: int) -> tuple[list, dict[str, float], dict[str, str]]:
    """(metrics, source -> true lift, ARN form -> source it belongs to) for the group."""
    from tools.deployment_lookup import load_group, served_sources  # the app's config model

    config, group = load_group(config_path, group_name)
    if group.metric_attribution is None or not group.metric_attribution.metrics:
        raise CliError(f"--group {group_name}: no metricAttribution metrics in {config_path}; nothing would be reported")
    configured = list(dict.fromkeys(group.all_sources()))
    lifts = {source: TRUE_LIFTS[i % len(TRUE_LIFTS)] for i, source in enumerate(configured)}
    arn_forms: dict[str, str] = {}
    for (kind, name), source in served_sources(config, group).items():
        arn_forms.setdefault(source, personalize_arn("aws", DEMO_REGION, DEMO_ACCOUNT, kind, name))
    arn_form = {arn: source for source, arn in list(arn_forms.items())[:1]}
    for number in range(1, extra_sources + 1):
        name = f"{config.physical_name(group.name)}-experiment-{number:02d}"
        lifts[personalize_arn("aws", DEMO_REGION, DEMO_ACCOUNT, "campaign", name)] = 0.7 + 0.05 * number
    return list(group.metric_attribution.metrics), lifts, arn_form


def _math_function(expression: str) -> str:
    return expression.split("(", 1)[0].strip().lower()  # SAMPLECOUNT() -> samplecount, SUM(...) -> sum


def write_demo_reports(
    out: Path, config_path: Path, group_name: str, *, days: int = 14, seed: int = 0, extra_sources: int = 0
) -> dict[str, int]:
    """Write the files; returns {"files": n, "rows": n}."""
    metrics, lifts, arn_form = demo_sources(config_path, group_name, extra_sources)
    configured = [source for source in lifts if not source.startswith("arn:")]
    late = configured[-1] if len(configured) > 1 else None
    # (reported source, the source whose day effect applies, expected share of the baseline's views)
    # An ARN form and its source are thinned from one Poisson stream: the split is exact.
    streams = [(UNDEFINED_SOURCE, UNDEFINED_SOURCE, 1.0)]
    for source, lift in lifts.items():
        arn = next((a for a, owner in arn_form.items() if owner == source), None)
        if arn is None:
            streams.append((source, source, lift))
        else:
            streams += [(source, source, lift * (1 - ARN_FORM_SHARE)), (arn, source, lift * ARN_FORM_SHARE)]
    rng = np.random.default_rng(seed)
    margins = np.array([item.margin for item in sample_items()])
    out.mkdir(parents=True, exist_ok=True)
    rows_written = 0
    for day in range(days):
        day_start = DEMO_START + timedelta(days=day)
        day_effect = {source: rng.uniform(1 - DAY_VARIATION, 1 + DAY_VARIATION) for source in [UNDEFINED_SOURCE, *lifts]}
        rows: list[list[str]] = []
        for bucket in range(86_400 // BUCKET_SECONDS):
            timestamp = int(day_start.timestamp()) + bucket * BUCKET_SECONDS
            cycle = 1 + 0.6 * math.sin((bucket * BUCKET_SECONDS / 3600 - 9) / 24 * 2 * math.pi)  # busiest mid-afternoon
            for reported, owner, share in streams:
                if owner == late and day < LATE_START_DAYS:
                    continue  # launched later
                views = int(rng.poisson(BASELINE_VIEWS_PER_BUCKET * cycle * day_effect[owner] * share))
                purchases = int(rng.binomial(views, PURCHASES_PER_VIEW))
                margin = float(margins[rng.integers(0, len(margins), purchases)].sum())
                for metric in metrics:
                    function = _math_function(metric.expression)
                    count = purchases if metric.event_type.lower() == "purchase" else views
                    if count:
                        value = margin if function == "sum" else count
                        rows.append([metric.metric_name.upper(), metric.event_type.upper(), f"{value:.2f}", function, reported, str(timestamp)])
        end_of_day = int((day_start + timedelta(days=1)).timestamp())
        with (out / f"AggregatedAttributionMetrics - {IMPORT_METHOD} - {end_of_day}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(rows)
        rows_written += len(rows)
    return {"files": days, "rows": rows_written}


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m tools demo-reports",
        description="Write a seeded demo of metric attribution report CSVs (no AWS), to try report --dir on.",
        epilog="Then: python -m tools report --config config/default.yaml --group retail --dir DIR --png impact.png",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write the CSV files into")
    parser.add_argument("--config", type=Path, default=Path("config/default.yaml"), help="the app's config (default: config/default.yaml)")
    parser.add_argument("--group", default="retail", help="dataset group of --config (default: retail)")
    parser.add_argument("--days", type=int, default=14, help="days of reports (default 14)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--extra-sources", type=int, default=0, metavar="N", help="N more sources: experiment campaigns in ARN form")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import sys

    return run_main("demo-reports", lambda: _run(list(sys.argv[1:] if argv is None else argv)))


def _run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if not 1 <= args.days <= 366:
        raise CliError("--days must be from 1 to 366")
    if not 0 <= args.extra_sources <= 50:
        raise CliError("--extra-sources must be from 0 to 50")
    if args.out.exists() and not args.out.is_dir():
        raise CliError(f"--out {args.out}: not a folder")
    written = write_demo_reports(args.out, args.config, args.group, days=args.days, seed=args.seed, extra_sources=args.extra_sources)
    print(f"wrote {plural(written['files'], 'report file')}, {plural(written['rows'], 'row')} to {args.out}")
    return EXIT_OK


