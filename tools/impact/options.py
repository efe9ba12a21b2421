"""The `report` options: what each one means (the tables --help prints) and which combinations hold."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools._cli import AWS_OPTIONS, ArgumentParser, CliError, OneOf, OptionGroup, add_option_groups, option
from tools.impact import athena as athena_queries
from tools.impact import statistics

CLOUDWATCH_DEFAULT_DAYS = 14.0  # CloudWatch keeps metric attribution data for about two weeks
MAX_DAYS = 36_500.0

INPUT = OptionGroup("input (one of, or --config with --group)", (
    OneOf((
        option("--s3", metavar="S3_URL", help="read every *.csv report under s3://bucket/prefix/"),
        option("--dir", type=Path, metavar="PATH", help="read every *.csv report under a folder (or one file)"),
        option(
            "--cloudwatch", action="store_true", help="read the AWS/Personalize metric attribution metrics (needs --dataset-group-arn)"
        ),
        option("--athena", action="store_true", help="run the queries on Amazon Athena (needs --database, --table, --workgroup)"),
    )),
    option(
        "--config", metavar="YAML",
        help="the app's config: bucket, report prefix, dataset group, recommenders (exposure), derived metrics "
        "and sources of --group; reads the group's S3 reports unless --s3, --dir, --cloudwatch or --athena is "
        "given. With --dir or --s3 the config's names need no AWS call; otherwise the account and region come "
        "from your credentials",
    ),
    option("--group", metavar="NAME", help="dataset group of --config"),
    option("--dataset-group-arn", metavar="ARN", help="dataset group of the metric attribution (CloudWatch)"),
    option("--database", help="Athena: Glue database of the report table"),
    option("--table", help="Athena: Glue table over the report CSVs"),
    option("--workgroup", help="Athena: workgroup to run in"),
    option("--output", metavar="S3_URL", help="Athena: result location (default: the workgroup's)"),
    option(
        "--dataset-group", metavar="NAME",
        help="Athena: only this dataset group's reports (the table's partition; default with --config: --group)",
    ),
    option("--metric", action="append", default=[], metavar="NAME", help="metric name (e.g. countViews), repeatable; default: all"),
    option("--days", type=float, help=f"only the last DAYS before --end (default: all rows; CloudWatch {CLOUDWATCH_DEFAULT_DAYS:g})"),
    option("--end", help="only rows before this time, ISO 8601 or epoch seconds (default: now)"),
))

ANALYSIS = OptionGroup("analysis", (
    option("--baseline", metavar="SOURCE", help=f"source to compare against (default: {statistics.UNDEFINED_SOURCE} when present)"),
    option(
        "--ci", choices=("delta", "bootstrap"), default="delta",
        help="interval: cluster-robust delta method (default) or bootstrap of whole clusters",
    ),
    option(
        "--block", choices=("day", "hour"), default="day",
        help="independent units of the interval: days (default; merged into 7- or 28-day blocks when neighbouring days "
        "are correlated) or hours (short tests; assumes no day effects)",
    ),
    option(
        "--timezone", metavar="IANA_NAME",
        help="the shop's time zone, e.g. America/Los_Angeles: days (the interval's clusters) follow its local day (default: the group's `timezone` in --config, else UTC)",
    ),
    option(
        "--rate-hours", choices=("clock", "active"), default="clock",
        help="per hour: per clock hour live (default), or per hour in which any source had rows",
    ),
    option(
        "--adjust", choices=("holm", "none"), default="holm",
        help="multiple comparisons over every lift: Holm-adjusted p and simultaneous intervals (default), or none",
    ),
    option("--confidence", type=float, default=0.95, help="confidence level (default 0.95)"),
    option("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)"),
    option("--seed", type=int, default=0, help="bootstrap seed (default 0)"),
    option(
        "--per", choices=("auto", "hour", "day"), default="auto",
        help=f"period of the rates over time (default auto: hour up to {statistics.AUTO_DAILY_AFTER_HOURS} h, else day)",
    ),
    option(
        "--exposure", action="append", default=[], metavar="SOURCE=ARN",
        help="recommender or campaign serving SOURCE: per 1,000 recommendations from CloudWatch GetRecommendations",
    ),
    option(
        "--alias", action="append", default=[], metavar="REPORTED=SOURCE",
        help="count rows of source REPORTED (e.g. a campaign's ARN, which Personalize records for events with a "
        "recommendationId but no eventAttributionSource) as SOURCE; --config does it for every recommender and campaign",
    ),
    option(
        "--impressions", action="append", default=[], metavar="SOURCE=COUNT",
        help="recommendations SOURCE served over the period, when you count them yourself (impressions)",
    ),
    option("--derived", action="append", default=[], metavar="NAME=A/B", help="derived metric, e.g. marginPerView=sumMargin/countViews"),
))

EXPERIMENT = OptionGroup("randomized experiment (docs/experiments.md)", (
    option("--experiment", metavar="NAME", help="analyse this experiment of --config/--group: SRM check, lift per arm, always-valid interval, verdict"),
    option("--units", type=Path, metavar="CSV", help="with --experiment: one row per assigned unit (unit,source,day,<metrics>), e.g. from send_events --experiment"),
))

BAD_FILES = OptionGroup("bad report files", (
    OneOf((
        option("--lenient", action="store_true", help="skip files with a wrong header instead of failing"),
        option("--strict", action="store_true", help="fail on a malformed row instead of skipping it"),
    )),
    option(
        "--keep-copies", action="store_true",
        help="count files with the same content or the same report name each time (default: once)",
    ),
))

OUTPUT = OptionGroup("output", (
    option("--json", action="store_true", help="print JSON instead of text tables"),
    option("--png", type=Path, metavar="PATH", help="also write a chart: lift with interval, rates over time"),
))


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m tools.report",
        description=(
            "Compare Amazon Personalize metric attribution sources: totals, volume share, rate per hour "
            "while each source was live, per 1,000 recommendations served, and rate lift over a baseline "
            "source in the window both were live, with a day-clustered interval (cluster-robust delta "
            "method; --ci bootstrap resamples whole days). Input: S3 reports, a folder, CloudWatch or Athena."
        ),
        epilog="Example: python -m tools.report --s3 s3://my-bucket/metric-reports/retail/ --png impact.png",
    )
    add_option_groups(parser, (INPUT, AWS_OPTIONS, ANALYSIS, EXPERIMENT, BAD_FILES, OUTPUT))
    return parser


def pairs(values: Sequence[str], flag: str, *, upper: bool = True) -> dict[str, str]:
    """NAME=VALUE options; source names are upper-cased like the reports' sources."""
    found = {}
    for value in values:
        name, separator, rest = value.partition("=")
        if not separator or not name.strip() or not rest.strip():
            raise CliError(f"{flag} {value!r}: expected NAME=VALUE")
        found[name.strip().upper() if upper else name.strip()] = rest.strip()
    return found


def validate(args: Any) -> None:
    """Every check that needs only the options, before anything is read."""
    _check_analysis(args)
    _check_inputs(args)
    if args.png is not None and not args.png.parent.is_dir():
        raise CliError(f"--png {args.png}: folder {args.png.parent} does not exist")


def _check_analysis(args: Any) -> None:
    if args.timezone:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(args.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CliError(f"--timezone {args.timezone!r} is not an IANA time zone name, e.g. Europe/Berlin") from None
    if not 0 < args.confidence < 1:
        raise CliError("--confidence must be between 0 and 1, e.g. 0.95")
    if args.resamples < 100:
        raise CliError("--resamples must be at least 100")
    if not 0 <= args.seed < 2**63:
        raise CliError("--seed must be a whole number from 0 to 2**63-1")
    if args.days is not None and not (math.isfinite(args.days) and 0 < args.days <= MAX_DAYS):
        raise CliError(f"--days must be above 0 and at most {MAX_DAYS:g}")


def _check_inputs(args: Any) -> None:
    if bool(args.config) != bool(args.group):
        raise CliError("--config and --group go together: --config config/default.yaml --group retail")
    if not (args.s3 or args.dir or args.cloudwatch or args.athena or args.config):
        raise CliError("give one input: --s3, --dir, --cloudwatch, --athena, or --config with --group")
    if args.cloudwatch and not (args.dataset_group_arn or args.config):
        raise CliError("--cloudwatch needs --dataset-group-arn (or --config with --group)")
    if args.dataset_group_arn and not args.cloudwatch:
        raise CliError("--dataset-group-arn only applies with --cloudwatch")
    athena_options = {"--database": args.database, "--table": args.table, "--workgroup": args.workgroup}
    if args.athena:
        missing = [flag for flag, value in athena_options.items() if not value]
        if missing and not args.config:
            raise CliError(f"--athena needs {', '.join(missing)} (or --config with --group)")
        for flag, value in athena_options.items():
            if value and flag != "--workgroup":
                athena_queries.check_identifier(value, flag)
        if args.dataset_group:
            athena_queries.check_identifier(args.dataset_group.replace("-", "_"), "--dataset-group")
    elif any(athena_options.values()) or args.output or args.dataset_group:
        raise CliError("--database, --table, --workgroup, --output and --dataset-group only apply with --athena")
