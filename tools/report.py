"""Compare Amazon Personalize metric attribution sources: the `report` command line.

Reads the CSV reports a metric attribution writes to S3 (`--s3`), the same files in a folder
(`--dir`), the metrics it publishes to CloudWatch (`--cloudwatch`), or queries them where
they lie with Amazon Athena (`--athena`), and prints per metric and source: total, volume
share, rate per hour over the time the source was live and traffic flowed, outcomes per
1,000 recommendations served (with `--exposure`/`--impressions`), and the rate lift over a
baseline source with a day-clustered interval over the window both were live; plus the
config's derived metrics (e.g. margin per view). The work is done in tools/impact/:
reading (reports), the SQL (sql), Athena (athena), CloudWatch (cloudwatch), the statistics
(statistics), text/JSON (render) and the chart (chart).

Usage:
    python -m tools.report --s3 s3://my-bucket/metric-reports/retail/ --png impact.png
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import botocore.exceptions

from lambdas.personalize_resources.address_book import REPORT_PARAMETER_LEAVES, report_parameter
from stacks.report_sql import ANALYSIS_QUERIES, named_queries
from tools._cli import (
    EXIT_OK,
    ArgumentParser,
    ClientFactory,
    CliError,
    add_aws_arguments,
    aws_error_code,
    boto3_client_factory,
    parse_timestamp,
    plural,
    run_main,
)
from tools.impact import athena as athena_queries
from tools.impact import cloudwatch as cloudwatch_input
from tools.impact import reports, statistics
from tools.impact.render import format_text, to_json

PROG = "report"
CLOUDWATCH_DEFAULT_DAYS = 14.0  # CloudWatch keeps metric attribution data for about two weeks
MAX_DAYS = 36_500.0


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
    inputs = parser.add_argument_group("input (one of, or --config with --group)")
    choice = inputs.add_mutually_exclusive_group()
    choice.add_argument("--s3", metavar="S3_URL", help="read every *.csv report under s3://bucket/prefix/")
    choice.add_argument("--dir", type=Path, metavar="PATH", help="read every *.csv report under a folder (or one file)")
    choice.add_argument(
        "--cloudwatch", action="store_true", help="read the AWS/Personalize metric attribution metrics (needs --dataset-group-arn)"
    )
    choice.add_argument("--athena", action="store_true", help="run the queries on Amazon Athena (needs --database, --table, --workgroup)")
    inputs.add_argument(
        "--config", metavar="YAML",
        help="the app's config: bucket, report prefix, dataset group, recommenders (exposure), derived metrics "
        "and sources of --group; reads the group's S3 reports unless --s3, --dir, --cloudwatch or --athena is "
        "given. With --dir or --s3 the config's names need no AWS call; otherwise the account and region come "
        "from your credentials",
    )
    inputs.add_argument("--group", metavar="NAME", help="dataset group of --config")
    inputs.add_argument("--dataset-group-arn", metavar="ARN", help="dataset group of the metric attribution (CloudWatch)")
    inputs.add_argument("--database", help="Athena: Glue database of the report table")
    inputs.add_argument("--table", help="Athena: Glue table over the report CSVs")
    inputs.add_argument("--workgroup", help="Athena: workgroup to run in")
    inputs.add_argument("--output", metavar="S3_URL", help="Athena: result location (default: the workgroup's)")
    inputs.add_argument(
        "--dataset-group", metavar="NAME",
        help="Athena: only this dataset group's reports (the table's partition; default with --config: --group)",
    )
    inputs.add_argument(
        "--metric", action="append", default=[], metavar="NAME", help="metric name (e.g. countViews), repeatable; default: all"
    )
    inputs.add_argument(
        "--days", type=float, help=f"only the last DAYS before --end (default: all rows; CloudWatch {CLOUDWATCH_DEFAULT_DAYS:g})"
    )
    inputs.add_argument("--end", help="only rows before this time, ISO 8601 or epoch seconds (default: now)")
    add_aws_arguments(parser)

    analysis = parser.add_argument_group("analysis")
    analysis.add_argument(
        "--baseline", metavar="SOURCE", help=f"source to compare against (default: {statistics.UNDEFINED_SOURCE} when present)"
    )
    analysis.add_argument(
        "--ci", choices=("delta", "bootstrap"), default="delta",
        help="interval: cluster-robust delta method (default) or bootstrap of whole clusters",
    )
    analysis.add_argument(
        "--block", choices=("day", "hour"), default="day",
        help="independent units of the interval: days (default; merged into 7- or 28-day blocks when neighbouring days "
        "are correlated) or hours (short tests; assumes no day effects)",
    )
    analysis.add_argument(
        "--timezone", metavar="IANA_NAME",
        help="the shop's time zone, e.g. America/Los_Angeles: days (the interval's clusters) follow its local day (default: the group's `timezone` in --config, else UTC)",
    )
    analysis.add_argument(
        "--rate-hours", choices=("clock", "active"), default="clock",
        help="per hour: per clock hour live (default), or per hour in which any source had rows",
    )
    analysis.add_argument(
        "--adjust", choices=("holm", "none"), default="holm",
        help="multiple comparisons over every lift: Holm-adjusted p and simultaneous intervals (default), or none",
    )
    analysis.add_argument("--confidence", type=float, default=0.95, help="confidence level (default 0.95)")
    analysis.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples (default 2000)")
    analysis.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    analysis.add_argument(
        "--per", choices=("auto", "hour", "day"), default="auto",
        help=f"period of the rates over time (default auto: hour up to {statistics.AUTO_DAILY_AFTER_HOURS} h, else day)",
    )
    analysis.add_argument(
        "--exposure", action="append", default=[], metavar="SOURCE=ARN",
        help="recommender or campaign serving SOURCE: per 1,000 recommendations from CloudWatch GetRecommendations",
    )
    analysis.add_argument(
        "--alias", action="append", default=[], metavar="REPORTED=SOURCE",
        help="count rows of source REPORTED (e.g. a campaign's ARN, which Personalize records for events with a "
        "recommendationId but no eventAttributionSource) as SOURCE; --config does it for every recommender and campaign",
    )
    analysis.add_argument(
        "--impressions", action="append", default=[], metavar="SOURCE=COUNT",
        help="recommendations SOURCE served over the period, when you count them yourself (impressions)",
    )
    analysis.add_argument(
        "--derived", action="append", default=[], metavar="NAME=A/B", help="derived metric, e.g. marginPerView=sumMargin/countViews"
    )

    experiment = parser.add_argument_group("randomized experiment (docs/experiments.md)")
    experiment.add_argument("--experiment", metavar="NAME", help="analyse this experiment of --config/--group: SRM check, lift per arm, always-valid interval, verdict")
    experiment.add_argument("--units", type=Path, metavar="CSV", help="with --experiment: one row per assigned unit (unit,source,day,<metrics>), e.g. from send_events --experiment")

    checks = parser.add_argument_group("bad report files")
    mode = checks.add_mutually_exclusive_group()
    mode.add_argument("--lenient", action="store_true", help="skip files with a wrong header instead of failing")
    mode.add_argument("--strict", action="store_true", help="fail on a malformed row instead of skipping it")
    checks.add_argument(
        "--keep-copies", action="store_true",
        help="count files with the same content or the same report name each time (default: once)",
    )

    output = parser.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="print JSON instead of text tables")
    output.add_argument("--png", type=Path, metavar="PATH", help="also write a chart: lift with interval, rates over time")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    client_factory: ClientFactory | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    now: datetime | None = None,
    sleep: Any = None,
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    return run_main(PROG, lambda: _run(argv, client_factory, stdout, stderr, now, sleep), stderr, stdout=stdout)


@dataclass
class Aggregates:
    results: dict[str, Any]
    load: dict[str, Any]
    warnings: list[str]


def _pairs(values: Sequence[str], option: str, *, upper: bool = True) -> dict[str, str]:
    """NAME=VALUE options; source names are upper-cased like the reports' sources."""
    pairs = {}
    for value in values:
        name, separator, rest = value.partition("=")
        if not separator or not name.strip() or not rest.strip():
            raise CliError(f"{option} {value!r}: expected NAME=VALUE")
        pairs[name.strip().upper() if upper else name.strip()] = rest.strip()
    return pairs


def _time_range(args: Any, now: datetime | None) -> tuple[datetime | None, datetime | None]:
    """(start, end) of the rows to read; report files without --days/--end are read whole."""
    days = args.days if args.days is not None else (CLOUDWATCH_DEFAULT_DAYS if args.cloudwatch else None)
    try:
        end = parse_timestamp(args.end, "--end") if args.end else None
    except (OverflowError, OSError, ValueError):
        raise CliError(f"--end {args.end!r} is outside the dates this tool can represent") from None
    if end is None and days is not None:
        end = now or datetime.now(UTC)
    if days is None:
        return None, end
    try:
        return end - timedelta(days=days), end
    except OverflowError:
        raise CliError(f"--days {days:g} before --end {end:%Y-%m-%d} is before year 1") from None


def _validate(args: Any) -> None:
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
        missing = [option for option, value in athena_options.items() if not value]
        if missing and not args.config:
            raise CliError(f"--athena needs {', '.join(missing)} (or --config with --group)")
        for option, value in athena_options.items():
            if value and option != "--workgroup":
                athena_queries.check_identifier(value, option)
        if args.dataset_group:
            athena_queries.check_identifier(args.dataset_group.replace("-", "_"), "--dataset-group")
    elif any(athena_options.values()) or args.output or args.dataset_group:
        raise CliError("--database, --table, --workgroup, --output and --dataset-group only apply with --athena")
    if args.png is not None and not args.png.parent.is_dir():
        raise CliError(f"--png {args.png}: folder {args.png.parent} does not exist")


def _athena_names_from_stack(args: Any, config_name: str, factory: ClientFactory) -> None:
    """Glue database, table and workgroup the dashboard stack publishes in SSM, for names not given."""
    ssm = factory("ssm")
    for attribute, leaf in REPORT_PARAMETER_LEAVES.items():
        if not getattr(args, attribute):
            name = report_parameter(config_name, leaf)
            try:
                value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
            except botocore.exceptions.ClientError as exc:
                if aws_error_code(exc) == "ParameterNotFound":
                    raise CliError(f"SSM parameter {name} not found: is the dashboard stack of {config_name} deployed?") from None
                raise
            setattr(args, attribute, athena_queries.check_identifier(value, name) if attribute != "workgroup" else value)
    if not args.dataset_group:
        args.dataset_group = args.group


def _aggregates(
    args: Any,
    factory: ClientFactory,
    start: datetime | None,
    end: datetime | None,
    sleep: Any,
    aliases: dict[str, str],
    aliases_for: Callable[[list[str]], dict[str, str]] | None = None,
) -> Aggregates:
    """The analysis queries' results; `aliases_for` adds aliases for the sources the loaded rows name."""
    start_epoch = int(start.timestamp()) if start else None
    end_epoch = int(end.timestamp()) if end else None
    wanted = ANALYSIS_QUERIES + (("aliased_sources",) if aliases else ())
    if args.athena:
        queries = named_queries(
            f'"{args.table}"', start=start_epoch, end=end_epoch, dataset_group=args.dataset_group, source_aliases=aliases,
            same_import=not args.keep_copies,
        )
        results = athena_queries.run_queries(
            factory("athena"),
            {name: queries[name] for name in wanted},
            database=args.database,
            workgroup=args.workgroup,
            output=args.output,
            **({"sleep": sleep} if sleep else {}),
        )
        return Aggregates(results, {"input": "athena"}, [])
    store = reports.ReportStore()
    store.keep_copies = args.keep_copies
    try:
        if args.dir is not None:
            reports.load_local(store, args.dir, lenient=args.lenient, strict=args.strict)
            noun = "files"
        elif args.s3 is not None:
            reports.parse_s3_url(args.s3)  # a bad URL is reported before any client is made
            reports.load_s3(store, factory("s3"), args.s3, lenient=args.lenient, strict=args.strict)
            noun = "files"
        else:
            fetched = cloudwatch_input.fetch_cloudwatch_rows(
                factory("cloudwatch"), args.dataset_group_arn, args.metric, start, end
            )
            store.add_rows(fetched.rows, "CloudWatch")
            fetched.rows = []
            store.load.add(fetched)
            noun = "metric series"
        if aliases_for is not None:
            reported = store.query(f"SELECT DISTINCT event_attribution_source AS source FROM {reports.TABLE}")["source"]
            aliases = {**{key.upper(): value for key, value in aliases_for([str(s) for s in reported]).items()}, **aliases}
            wanted = ANALYSIS_QUERIES + (("aliased_sources",) if aliases else ())
        results = store.aggregates(wanted, start=start_epoch, end=end_epoch, source_aliases=aliases)
        load = store.load
        summary = {
            "input": noun,
            "files_read": load.files_read,
            "files_skipped": load.files_skipped,
            "rows": store.row_count(),
            "rows_skipped": load.rows_skipped,
        }
        return Aggregates(results, summary, list(load.warnings))
    finally:
        store.close()


def _run(
    argv: list[str], client_factory: ClientFactory | None, stdout: TextIO, stderr: TextIO, now: datetime | None, sleep: Any
) -> int:
    args = build_parser().parse_args(argv)
    if args.experiment or args.units:
        from tools.impact.experiments import run_experiment_report

        return run_experiment_report(args, stdout)
    _validate(args)
    exposure_arns = _pairs(args.exposure, "--exposure")
    aliases = _pairs(args.alias, "--alias")
    impressions = _pairs(args.impressions, "--impressions")
    derived = [statistics.DerivedMetric(name, expression) for name, expression in _pairs(args.derived, "--derived", upper=False).items()]
    for source, count in impressions.items():
        try:
            if float(count) < 0 or not math.isfinite(float(count)):
                raise ValueError
        except ValueError:
            raise CliError(f"--impressions {source}={count}: expected a count of 0 or more") from None
    start, end = _time_range(args, now)
    factory = client_factory or (lambda service, **kw: boto3_client_factory(args.profile, args.region)(service, **kw))
    deployed = None
    config_exposure: dict[str, str] = {}
    offline_aliases = None
    if args.config:
        # Loads the app's config model only when asked. What the config says (derived metrics,
        # sources, the recommenders' and campaigns' names) needs no AWS call; the account and
        # region (STS) are asked for only to address what is deployed.
        from tools.deployment_lookup import arn_source_aliases, load_group, resolve_group

        config, group = load_group(args.config, args.group)
        if args.timezone is None:  # the shop's day, as the config sets it
            args.timezone = group.timezone
        if not (args.s3 or args.dir):
            deployed = resolve_group(args.config, args.group, client_factory=factory)
            if not (args.cloudwatch or args.athena):
                args.s3 = deployed.report_url
        if args.s3 or args.dir:  # rows at hand: their ARN-form sources are matched by name
            offline_aliases = lambda reported: arn_source_aliases(config, group, reported)  # noqa: E731
        if args.cloudwatch and not args.dataset_group_arn:
            assert deployed is not None  # --cloudwatch excludes --s3 and --dir
            args.dataset_group_arn = deployed.dataset_group_arn
        if args.athena:
            assert deployed is not None  # --athena excludes --s3 and --dir
            _athena_names_from_stack(args, deployed.config_name, factory)
        names = {item.name for item in derived}
        derived += [
            statistics.DerivedMetric(item.name, item.expression) for item in config.dashboard.derived_metrics if item.name not in names
        ]
        if deployed is not None and offline_aliases is None:
            for arn, source in deployed.source_aliases().items():  # the ARN form of their sources
                aliases.setdefault(arn.upper(), source)

    aggregates = _aggregates(args, factory, start, end, sleep, aliases, offline_aliases)
    results = aggregates.results
    warnings = aggregates.warnings
    renamed = results.get("aliased_sources", {"reported_source": []})
    aggregates.load["aliased_sources"] = [
        {"reported": str(reported), "counted_as": str(source), "rows": int(rows)}
        for reported, source, rows in zip(renamed["reported_source"], renamed.get("source", []), renamed.get("row_count", []))
    ]
    skipped_files = results["files_not_counted"]
    aggregates.load["files_not_counted"] = [
        {"file": str(name), "rows": int(rows), "reason": str(reason)}
        for name, rows, reason in zip(skipped_files["source_file"], skipped_files["row_count"], skipped_files["reason"])
    ]
    for item in aggregates.load["files_not_counted"]:
        warnings.append(f"{item['file']}: {plural(item['rows'], 'row')} not counted: {item['reason']}")
    if not len(results["traffic_by_hour"]["hour_start"]):
        load = aggregates.load
        skipped = load.get("rows_skipped") or load.get("files_skipped")
        detail = f" ({plural(load['rows_skipped'], 'malformed row')}, {plural(load['files_skipped'], 'file')} skipped)" if skipped else ""
        window = (f" from {start:%Y-%m-%d %H:%M}" if start else "") + (f" before {end:%Y-%m-%d %H:%M} UTC" if end else "")
        raise CliError(f"no usable metric rows{window}{detail}")
    for warning in warnings:
        print(f"{PROG}: warning: {warning}", file=stderr)

    data = statistics.HourlyData(
        results["hourly_by_source"], results["traffic_by_hour"], timezone=args.timezone, whole_days=args.block == "day"
    )
    if args.config:
        from tools.deployment_lookup import unknown_source_warnings

        reported = [s for s in data.sources if s != statistics.UNDEFINED_SOURCE]
        for warning in unknown_source_warnings(group.name, dict.fromkeys(group.all_sources()), reported):
            print(f"{PROG}: warning: {warning}", file=stderr)
        if args.s3 and deployed is None:
            # Exposure is CloudWatch's: the caller reads S3, so it has credentials for STS too.
            deployed = resolve_group(args.config, args.group, client_factory=factory)
        if deployed is not None:
            config_exposure = deployed.exposure_arns()  # what each recommender and campaign served
    unknown = sorted((set(exposure_arns) | set(impressions)) - set(data.sources))
    for source in unknown:
        print(f"{PROG}: warning: exposure given for {source}, which has no report rows", file=stderr)
    exposure = {source: statistics.Exposure("--impressions", total=float(count)) for source, count in impressions.items()}
    for source, arn in config_exposure.items():
        if source in data.sources and source not in impressions:
            exposure_arns.setdefault(source, arn)
    if exposure_arns:
        first = datetime.fromtimestamp(int(data.hour_starts[0]), tz=UTC)
        last = datetime.fromtimestamp(int(data.hour_starts[-1]) + 3600, tz=UTC)
        exposure.update(cloudwatch_input.fetch_exposure(factory("cloudwatch"), exposure_arns, first, last))
    settings = statistics.Settings(
        baseline=args.baseline,
        ci=args.ci,
        block=args.block,
        confidence=args.confidence,
        resamples=args.resamples,
        seed=args.seed,
        per=args.per,
        metrics=args.metric,
        rate_hours=args.rate_hours,
        timezone=args.timezone,
        adjust=args.adjust,
    )
    analysis = statistics.analyse(data, results["metric_details"], settings, exposure=exposure, derived=derived)
    if not analysis.metrics:
        raise CliError(f"no rows for --metric {', '.join(args.metric)}; the input has {', '.join(sorted(data.values))}")
    if args.baseline and all(report.baseline is None for report in analysis.metrics):
        raise CliError(f"--baseline {args.baseline} not found; sources are: {', '.join(data.sources)}")

    if args.png is not None:
        from tools.impact.chart import write_chart  # matplotlib only when a chart is asked for

        write_chart(analysis, args.png, args.confidence)
    if args.json:
        settings_json = {key: value for key, value in vars(settings).items() if key != "metrics"}
        print(json.dumps(to_json(analysis, aggregates.load, settings_json, warnings), indent=2), file=stdout)
    else:
        load = aggregates.load
        if load["input"] != "athena":
            skipped = (
                f"; skipped {plural(load['rows_skipped'], 'row')}, {plural(load['files_skipped'], 'file')}"
                if load["rows_skipped"] or load["files_skipped"]
                else ""
            )
            print(f"read {plural(load['files_read'], {'files': 'file'}.get(load['input'], load['input']), load['input'])}, {plural(load['rows'], 'row')}{skipped}\n", file=stdout)
        for item in load["aliased_sources"]:  # the ARN form of a recommender's or campaign's source
            print(f"source {item['reported']} counted as {item['counted_as']} ({plural(item['rows'], 'row')})", file=stdout)
        if load["aliased_sources"]:
            print("", file=stdout)
        print(format_text(analysis, args.confidence), file=stdout)
        if args.png is not None:
            print(f"\nchart written to {args.png}", file=stdout)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
