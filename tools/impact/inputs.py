"""Where the `report` rows come from: the time range, what --config adds, and the aggregates of
S3 reports, a folder, CloudWatch or Athena."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from lambdas.personalize_resources.address_book import REPORT_PARAMETER_LEAVES, report_parameter
from stacks.report_sql import ANALYSIS_QUERIES, named_queries
from tools._cli import ClientFactory, CliError, aws_error_code, parse_timestamp
from tools.impact import athena as athena_queries
from tools.impact import cloudwatch as cloudwatch_input
from tools.impact import reports
from tools.impact.figures import DerivedMetric
from tools.impact.options import CLOUDWATCH_DEFAULT_DAYS

if TYPE_CHECKING:
    from config import DatasetGroup
    from tools.deployment_lookup import DeployedGroup

SourceAliases = Callable[[list[str]], dict[str, str]]  # reported sources -> {reported: source}


@dataclass
class Aggregates:
    results: dict[str, Any]
    load: dict[str, Any]
    warnings: list[str]


@dataclass
class ConfigContext:
    """What --config told: the group, the deployed names (when AWS was asked) and, for rows at
    hand, how to match their ARN-form sources by name."""

    group: DatasetGroup
    deployed: DeployedGroup | None = None
    offline_aliases: SourceAliases | None = None
    derived: list[DerivedMetric] = field(default_factory=list)


def time_range(args: Any, now: datetime | None) -> tuple[datetime | None, datetime | None]:
    """(start, end) of the rows to read; report files without --days/--end are read whole."""
    days = args.days if args.days is not None else (CLOUDWATCH_DEFAULT_DAYS if args.cloudwatch else None)
    try:
        end = parse_timestamp(args.end, "--end") if args.end else None
    except (OverflowError, OSError, ValueError):
        raise CliError(f"--end {args.end!r} is outside the dates this tool can represent") from None
    if days is None:
        return None, end
    if end is None:
        end = now or datetime.now(UTC)
    try:
        return end - timedelta(days=days), end
    except OverflowError:
        raise CliError(f"--days {days:g} before --end {end:%Y-%m-%d} is before year 1") from None


def apply_config(args: Any, factory: ClientFactory, aliases: dict[str, str]) -> ConfigContext:
    """Fill in from --config what the options left open; `aliases` gains the deployed ARN forms.

    What the config says (derived metrics, sources, the recommenders' and campaigns' names) needs
    no AWS call; the account and region (STS) are asked for only to address what is deployed.
    """
    from tools.deployment_lookup import arn_source_aliases, load_group, resolve_group  # the app's config model

    config, group = load_group(args.config, args.group)
    context = ConfigContext(group=group)
    if args.timezone is None:  # the shop's day, as the config sets it
        args.timezone = group.timezone
    if not (args.s3 or args.dir):
        context.deployed = resolve_group(args.config, args.group, client_factory=factory)
        if not (args.cloudwatch or args.athena):
            args.s3 = context.deployed.report_url
    if args.s3 or args.dir:  # rows at hand: their ARN-form sources are matched by name
        context.offline_aliases = lambda reported: arn_source_aliases(config, group, reported)
    if args.cloudwatch and not args.dataset_group_arn:
        assert context.deployed is not None  # --cloudwatch excludes --s3 and --dir
        args.dataset_group_arn = context.deployed.dataset_group_arn
    if args.athena:
        assert context.deployed is not None  # --athena excludes --s3 and --dir
        _athena_names_from_stack(args, context.deployed.config_name, factory)
    context.derived = [DerivedMetric(item.name, item.expression) for item in config.dashboard.derived_metrics]
    if context.deployed is not None and context.offline_aliases is None:
        for arn, source in context.deployed.source_aliases().items():  # the ARN form of their sources
            aliases.setdefault(arn.upper(), source)
    return context


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


def _epoch(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


def _wanted(aliases: dict[str, str]) -> tuple[str, ...]:
    return ANALYSIS_QUERIES + (("aliased_sources",) if aliases else ())


def aggregates(
    args: Any,
    factory: ClientFactory,
    start: datetime | None,
    end: datetime | None,
    sleep: Any,
    aliases: dict[str, str],
    aliases_for: SourceAliases | None = None,
) -> Aggregates:
    """The analysis queries' results; `aliases_for` adds aliases for the sources the loaded rows name."""
    if args.athena:
        return _athena_aggregates(args, factory, start, end, sleep, aliases)
    store = reports.ReportStore()
    store.keep_copies = args.keep_copies
    try:
        noun = _load_rows(store, args, factory, start, end)
        if aliases_for is not None:
            reported = store.query(f"SELECT DISTINCT event_attribution_source AS source FROM {reports.TABLE}")["source"]
            aliases = {**{key.upper(): value for key, value in aliases_for([str(s) for s in reported]).items()}, **aliases}
        results = store.aggregates(_wanted(aliases), start=_epoch(start), end=_epoch(end), source_aliases=aliases)
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


def _athena_aggregates(
    args: Any, factory: ClientFactory, start: datetime | None, end: datetime | None, sleep: Any, aliases: dict[str, str]
) -> Aggregates:
    queries = named_queries(
        f'"{args.table}"', start=_epoch(start), end=_epoch(end), dataset_group=args.dataset_group, source_aliases=aliases,
        same_import=not args.keep_copies,
    )
    results = athena_queries.run_queries(
        factory("athena"),
        {name: queries[name] for name in _wanted(aliases)},
        database=args.database,
        workgroup=args.workgroup,
        output=args.output,
        **({"sleep": sleep} if sleep else {}),
    )
    return Aggregates(results, {"input": "athena"}, [])


def _load_rows(store: reports.ReportStore, args: Any, factory: ClientFactory, start: datetime | None, end: datetime | None) -> str:
    """Read the input into `store`; returns what its units are called (files, metric series)."""
    if args.dir is not None:
        reports.load_local(store, args.dir, lenient=args.lenient, strict=args.strict)
        return "files"
    if args.s3 is not None:
        reports.parse_s3_url(args.s3)  # a bad URL is reported before any client is made
        reports.load_s3(store, factory("s3"), args.s3, lenient=args.lenient, strict=args.strict)
        return "files"
    assert start is not None and end is not None  # --cloudwatch reads the last --days (14 by default)
    fetched = cloudwatch_input.fetch_cloudwatch_rows(factory("cloudwatch"), args.dataset_group_arn, args.metric, start, end)
    store.add_rows(fetched.rows, "CloudWatch")
    fetched.rows = []
    store.load.add(fetched)
    return "metric series"
