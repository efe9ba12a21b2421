"""The `send-events` command line: options, the config lookup, and one run."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import botocore.config
import botocore.exceptions
from tqdm import tqdm

from lambdas.personalize_resources import catalogue
from tools._cli import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ArgumentParser,
    ClientFactory,
    CliError,
    AWS_OPTIONS,
    add_option_groups,
    aws_error_code,
    boto3_client_factory,
    parse_timestamp,
    run_main,
)
from tools.deployment_lookup import DeployedGroup, load_group, resolve_group, unknown_source_warnings
from tools.events.inputs import (
    configured_source_mix,
    load_items,
    parse_event_type_mix,
    parse_source_mix,
    sample_catalogue_items,
    sample_user_ids,
)
from tools.events.rate_limit import RateLimiter
from tools.events.recommendations import RecommendationFetcher, Target, needs_item_context, parse_target
from tools.events.sender import RetryPolicy, send_batches
from tools.events.summary import format_summary
from tools.events.traffic import TrafficModel, WeightedChoice, generate_batches
from tools.events.validation import MAX_EVENTS_PER_CALL, MAX_IMPRESSIONS, PutEventsValidator

PROG = "send_events"
CLOUDWATCH_MAX_AGE_HOURS = 14 * 24  # older events are not published to CloudWatch by metric attribution
MIN_RATE = 1 / 3600  # one event an hour; slower would mean sleeps beyond what time.sleep accepts
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m tools.send_events",
        description=(
            "Send generated Amazon Personalize PutEvents (sessions of View/Purchase events with "
            "metric attribution sources) to an event tracker, for a demo or a load test."
        ),
        epilog=(
            "Example: python -m tools.send_events --config config/default.yaml --group retail "
            "--events 2000 --rate 50 --recommendation-ids --impressions 5"
        ),
    )
    target = parser.add_argument_group("event tracker")
    target.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="the stack's config file: the tracking-id parameter, sources and recommender and campaign ARNs come from it "
        "(with --group; account and region from your credentials)",
    )
    target.add_argument("--group", metavar="NAME", help="dataset group of --config")
    tracking = target.add_mutually_exclusive_group()
    tracking.add_argument("--tracking-id", help="the event tracker's tracking id")
    tracking.add_argument(
        "--tracking-id-parameter",
        metavar="NAME",
        help="read the tracking id from this SSM parameter (the stack writes it there)",
    )
    add_option_groups(parser, (AWS_OPTIONS,))

    traffic = parser.add_argument_group("generated traffic")
    traffic.add_argument("--events", type=_positive_int, default=1000, help="number of events (default 1000)")
    traffic.add_argument(
        "--users",
        type=_positive_int,
        default=100,
        help="distinct users, user_0001 ... as in the sample data (default 100)",
    )
    items = traffic.add_mutually_exclusive_group()
    items.add_argument(
        "--items-csv",
        type=Path,
        metavar="PATH",
        help="items file with ITEM_ID (and optional PRICE, CATEGORY_L1) columns, like the sample items data",
    )
    items.add_argument(
        "--items",
        type=_positive_int,
        default=catalogue.DEFAULT_ITEMS,
        help="the first N items of the deployed sample catalogue, with their prices, when no --items-csv "
        f"(default {catalogue.DEFAULT_ITEMS}, all of it)",
    )
    traffic.add_argument(
        "--event-type",
        action="append",
        default=[],
        metavar="TYPE=WEIGHT",
        help="event type and relative weight, repeatable; the first is the browsing type "
        "(default View=0.85 Purchase=0.15)",
    )
    traffic.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME=SHARE",
        help="metric attribution source and its share of events (0.4 or 40%%), repeatable; "
        "shares add up to at most 1, the rest is sent without a source (default with --config: "
        "the configured sources share 80%% equally)",
    )
    traffic.add_argument("--session-length", type=float, default=6.0, help="mean events per session (default 6)")
    traffic.add_argument("--impressions", type=int, default=0, metavar="N", help=f"send an impression list of N item ids (1-{MAX_IMPRESSIONS}) with attributed events")
    traffic.add_argument(
        "--seed",
        type=int,
        help="random seed: the same seed gives the same events and the same event and session ids "
        "(default: a new seed each run, so Personalize never sees an id twice)",
    )
    traffic.add_argument(
        "--backdate-hours",
        type=float,
        default=0.0,
        metavar="H",
        help="spread sentAt over the H hours before --end-time instead of stamping events when sent "
        f"(CloudWatch only gets events younger than {CLOUDWATCH_MAX_AGE_HOURS} h)",
    )
    traffic.add_argument("--end-time", help="end of the --backdate-hours window (ISO 8601 or epoch; default now)")

    recommendations = parser.add_argument_group("recommendation ids (GetRecommendations calls are billed)")
    recommendations.add_argument(
        "--recommendation-ids",
        action="store_true",
        help="ask each source's recommender (GetRecommendations, once per session and source) and send its "
        "recommendationId and items with that source's events; the recommenders and campaigns of --config, or the ARNs below",
    )
    recommendations.add_argument(
        "--recommender-arn",
        action="append",
        default=[],
        metavar="SOURCE=ARN",
        help="the recommender whose results a source's events are on, repeatable (implies --recommendation-ids)",
    )
    recommendations.add_argument(
        "--campaign-arn",
        action="append",
        default=[],
        metavar="SOURCE=ARN",
        help="the same for a campaign, repeatable (implies --recommendation-ids)",
    )

    sending = parser.add_argument_group("sending")
    sending.add_argument("--rate", type=float, help="at most this many events in any one second (default unlimited)")
    sending.add_argument("--batch-size", type=int, default=MAX_EVENTS_PER_CALL, help="events per PutEvents call, 1-10 (default 10)")
    sending.add_argument("--max-retries", type=int, default=6, help="retries of a throttled call (default 6)")
    sending.add_argument("--max-failures", type=_positive_int, default=10, help="stop after this many failed calls (default 10)")
    sending.add_argument(
        "--dry-run",
        action="store_true",
        help="validate every request against botocore's personalize-events model and send nothing "
        "(needs no credentials; no parameter is read and no recommender asked)",
    )
    experiment = parser.add_argument_group("randomized experiment (docs/experiments.md)")
    experiment.add_argument("--experiment", metavar="NAME", help="an experiment of --config/--group: each user's events carry the arm the flag's split rule gives the user")
    experiment.add_argument("--true-effect", action="append", default=[], metavar="SOURCE=LIFT",
                            help="users in arm SOURCE make non-browse events (purchases) 1+LIFT times as often, e.g. recommended_for_you=0.1; repeatable")
    experiment.add_argument("--units-out", type=Path, metavar="CSV", help="write each user's arm, day and outcomes (the experiment's metrics) for report --experiment --units")
    output = parser.add_argument_group("output")
    output.add_argument("--quiet", action="store_true", help="no progress bar")
    output.add_argument("--json", action="store_true", help="print the summary as JSON")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return value


def read_tracking_id(ssm_client: Any, parameter_name: str) -> str:
    """The tracking id stored in an SSM parameter, with clear errors for the usual mistakes."""
    try:
        response = ssm_client.get_parameter(Name=parameter_name, WithDecryption=True)
    except botocore.exceptions.ClientError as exc:
        if aws_error_code(exc) == "ParameterNotFound":
            raise CliError(
                f"SSM parameter {parameter_name!r} not found (is the stack deployed in this region/account?)"
            ) from None
        raise
    value = response["Parameter"]["Value"].strip()
    if not value:
        raise CliError(f"SSM parameter {parameter_name!r} is empty")
    return value


def main(
    argv: Sequence[str] | None = None,
    *,
    client_factory: ClientFactory | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = list(sys.argv[1:] if argv is None else argv)
    # A broken pipe (`--json | head`) loses only the summary: the events went out.
    return run_main(PROG, lambda: _run(args, client_factory, stdout, stderr, clock, sleep, wall_clock), stderr,
                    stdout=stdout, lost_on_broken_pipe="the summary was written")


def _check_numbers(args: argparse.Namespace) -> None:
    if not 1 <= args.batch_size <= MAX_EVENTS_PER_CALL:
        raise CliError(f"--batch-size must be 1-{MAX_EVENTS_PER_CALL} (the PutEvents limit)")
    if not 0 <= args.impressions <= MAX_IMPRESSIONS:
        raise CliError(f"--impressions must be 0-{MAX_IMPRESSIONS} (the PutEvents limit)")
    if args.rate is not None and not (math.isfinite(args.rate) and args.rate >= MIN_RATE):
        raise CliError(f"--rate must be a number of events per second, at least {MIN_RATE:.6f} (one an hour)")
    if args.max_retries < 0:
        raise CliError("--max-retries must be 0 or more")
    if not (math.isfinite(args.session_length) and args.session_length >= 1):
        raise CliError("--session-length must be at least 1")
    if not (math.isfinite(args.backdate_hours) and args.backdate_hours >= 0):
        raise CliError("--backdate-hours must be 0 or more")
    if args.end_time and not args.backdate_hours:
        raise CliError("--end-time only applies with --backdate-hours")
    if bool(args.config) != bool(args.group):
        raise CliError("--config and --group go together: --config config/default.yaml --group retail")


def _time_window(args: argparse.Namespace, wall_clock: Callable[[], datetime]) -> tuple[datetime, float]:
    """(window start, window seconds) of the backdated sentAt values, checked before any date math."""
    if args.end_time:
        try:
            end = parse_timestamp(args.end_time, "--end-time")
        except (OverflowError, OSError, ValueError):
            raise CliError(f"--end-time {args.end_time!r} is outside the dates this tool can represent") from None
    else:
        end = wall_clock()
    window_seconds = args.backdate_hours * 3600
    if window_seconds > (end - EPOCH).total_seconds():
        raise CliError(
            f"--backdate-hours {args.backdate_hours:g} reaches back before 1970-01-01; "
            f"at most {(end - EPOCH).total_seconds() / 3600:.0f} hours before {end:%Y-%m-%dT%H:%M:%SZ}"
        )
    return end - timedelta(seconds=window_seconds), window_seconds


def _warn(stderr: TextIO, message: str) -> None:
    print(f"{PROG}: warning: {message}", file=stderr)


def _targets(args: argparse.Namespace, deployed: DeployedGroup | None, sources: list[WeightedChoice], stderr: TextIO) -> list[Target]:
    """Recommenders and campaigns per source: from --config, overridden by the ARN options."""
    by_source: dict[str, Target] = {}
    if deployed is not None:
        for name, arn in deployed.recommender_arns.items():
            source = deployed.recommender_sources[name]
            by_source[source] = Target(source, arn, "recommender", needs_item_context(deployed.recommender_recipes[name]))
        for name, arn in deployed.campaign_arns.items():
            source = deployed.campaign_sources[name]
            by_source[source] = Target(source, arn, "campaign", needs_item_context(deployed.campaign_recipes[name]))
    explicit = [parse_target(spec, "recommender") for spec in args.recommender_arn]
    explicit += [parse_target(spec, "campaign") for spec in args.campaign_arn]
    shared = {s.name for s in sources if s.weight > 0}
    for target in explicit:
        if target.source not in shared:
            raise CliError(
                f"--{target.kind}-arn {target.source}=...: no events go to source {target.source!r}; "
                f"add --source {target.source}=SHARE"
            )
        by_source[target.source] = target
    targets = [t for t in by_source.values() if t.source in shared]
    if not targets:
        raise CliError(
            "--recommendation-ids: no source has a recommender; give --recommender-arn SOURCE=ARN, "
            "--campaign-arn SOURCE=ARN, or --config with a group that has recommenders or campaigns"
        )
    for source in sorted(shared - {t.source for t in targets}):
        _warn(stderr, f"source {source!r} has no recommender or campaign: its events carry no recommendationId")
    return targets


def _run(
    argv: list[str],
    client_factory: ClientFactory | None,
    stdout: TextIO,
    stderr: TextIO,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    wall_clock: Callable[[], datetime],
) -> int:
    args = build_parser().parse_args(argv)
    _check_numbers(args)
    window_start, window_seconds = _time_window(args, wall_clock)
    if args.backdate_hours > CLOUDWATCH_MAX_AGE_HOURS:
        _warn(stderr, f"events older than {CLOUDWATCH_MAX_AGE_HOURS} h are not published to CloudWatch")

    factory = None if args.dry_run else (client_factory or boto3_client_factory(args.profile, args.region))
    deployed: DeployedGroup | None = None
    configured: list[str] | None = None
    if args.config:
        if factory is None:
            # A dry run needs no credentials: the config alone gives the sources.
            _, group = load_group(args.config, args.group)
            configured = list(dict.fromkeys(group.all_sources()))
        else:
            deployed = resolve_group(args.config, args.group, client_factory=factory)
            configured = list(deployed.sources)

    sources = parse_source_mix(args.source) if args.source or configured is None else configured_source_mix(configured)
    if configured is not None:
        for warning in unknown_source_warnings(args.group, configured, [s.name for s in sources]):
            _warn(stderr, warning)
    event_types = parse_event_type_mix(args.event_type)
    if args.items_csv:
        items = load_items(args.items_csv)
    else:
        items = sample_catalogue_items(args.items)
        if args.items > catalogue.DEFAULT_ITEMS:
            _warn(
                stderr,
                f"the deployed sample data has {catalogue.DEFAULT_ITEMS} items; events on the others "
                "find no item metadata (no MARGIN)",
            )
    if args.impressions > len(items):
        raise CliError(f"--impressions {args.impressions} is more than the {len(items)} items available")

    fetch_recommendations = args.recommendation_ids or args.recommender_arn or args.campaign_arn
    targets: list[Target] = []
    if fetch_recommendations and args.dry_run:
        for spec, kind in [(s, "recommender") for s in args.recommender_arn] + [(s, "campaign") for s in args.campaign_arn]:
            parse_target(spec, kind)  # still checked, so the real run does not fail on a typo
        _warn(stderr, "a dry run asks no recommender: events are validated without recommendation ids")
    elif fetch_recommendations:
        targets = _targets(args, deployed, sources, stderr)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**63)

    limiter = RateLimiter(args.rate, clock=clock, sleep=sleep) if args.rate and not args.dry_run else None

    model = TrafficModel(
        event_count=args.events,
        users=sample_user_ids(args.users),
        items=items,
        event_types=event_types,
        sources=sources,
        mean_session_length=args.session_length,
        batch_size=args.batch_size,
        impressions=args.impressions,
        window_start=window_start,
        window_seconds=window_seconds,
    )
    outcomes = None
    if args.experiment:
        from tools.events import experiment as experiment_tools  # the app's config model, only when asked

        if not (args.config and args.group):
            raise CliError("--experiment needs --config and --group (the experiment's arms and weights come from there)")
        app_config, group = load_group(args.config, args.group)
        chosen = experiment_tools.find_experiment(group, args.experiment)
        try:
            boost = {source: float(lift) for source, lift in (pair.split("=", 1) for pair in args.true_effect)}
        except ValueError:
            boost = None
        if boost is None or set(boost) - set(chosen.weights) or any(lift <= -1 for lift in boost.values()):
            raise CliError(f"--true-effect takes SOURCE=LIFT (above -1) with SOURCE one of {list(chosen.weights)}, e.g. {list(chosen.weights)[-1]}=0.1")
        model = dataclasses.replace(model, arm_of=experiment_tools.arm_of(app_config, group, chosen), arm_boost=boost)
        outcomes = experiment_tools.UnitOutcomes(group, chosen)
    elif args.true_effect or args.units_out:
        raise CliError("--true-effect and --units-out apply with --experiment")
    validator = PutEventsValidator()

    client = None
    fetcher = None
    if factory is None:
        # Any non-empty id passes the model; the real one is not needed to check request shapes.
        tracking_id = args.tracking_id or "dry-run-tracking-id"
    else:
        parameter = args.tracking_id_parameter or (deployed.tracking_id_parameter if deployed else None)
        if not (args.tracking_id or parameter):
            if deployed is not None:
                raise CliError(f"dataset group {deployed.group_name!r} has no event tracker (eventTracker: false in {args.config})")
            raise CliError("give --tracking-id, --tracking-id-parameter or --config with --group (or use --dry-run)")
        tracking_id = args.tracking_id or read_tracking_id(factory("ssm"), parameter)
        # botocore's own retries are switched off so retries are counted (and paced) here.
        no_retries = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"})
        client = factory("personalize-events", config=no_retries)
        if targets:
            fetcher = RecommendationFetcher(
                factory("personalize-runtime", config=no_retries), targets, items, impressions=args.impressions, seed=seed
            )

    show_progress = not (args.quiet or args.json or args.dry_run) and stderr.isatty()
    with tqdm(total=args.events, unit="ev", file=stderr, disable=not show_progress, dynamic_ncols=True) as bar:
        batches = generate_batches(model, seed)
        summary = send_batches(
            outcomes.tap(batches) if outcomes else batches,
            client,
            tracking_id,
            validator=validator,
            planned_events=args.events,
            limiter=limiter,
            recommendations=fetcher,
            retry=RetryPolicy(max_retries=args.max_retries),
            sleep=sleep,
            clock=clock,
            wall_clock=None if args.backdate_hours else wall_clock,
            jitter=random.Random(seed),
            max_failures=args.max_failures,
            progress=bar.update,
            dry_run=args.dry_run,
        )
    summary.seed = seed
    if outcomes is not None and args.units_out:
        units = outcomes.write(args.units_out)
        print(f"{PROG}: {units} users' arms and outcomes written to {args.units_out}", file=stderr)
    if args.json:
        print(json.dumps(summary.to_json(), indent=2), file=stdout)
    else:
        print(format_summary(summary, validator.api_version, args.rate), file=stdout)
    stdout.flush()
    if summary.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if summary.ok else EXIT_FAILURE
