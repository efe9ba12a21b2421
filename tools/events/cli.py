"""The `send-events` command line: the config lookup and one run, step by step (the options are in options.py)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

import botocore.config
import botocore.exceptions
from tqdm import tqdm

from lambdas.personalize_resources import catalogue
from tools._cli import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ClientFactory,
    CliError,
    aws_error_code,
    boto3_client_factory,
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
from tools.events.options import CLOUDWATCH_MAX_AGE_HOURS, build_parser, check_numbers, time_window
from tools.events.rate_limit import RateLimiter
from tools.events.recommendations import RecommendationFetcher, Target, needs_item_context, parse_target
from tools.events.sender import RetryPolicy, send_batches
from tools.events.summary import SendSummary, format_summary
from tools.events.traffic import Item, TrafficModel, WeightedChoice, generate_batches
from tools.events.validation import PutEventsValidator

if TYPE_CHECKING:
    from tools.events.experiment import UnitOutcomes

PROG = "send_events"


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


@dataclasses.dataclass
class Senders:
    """Where the events go: the tracking id and, unless a dry run, the clients."""

    tracking_id: str
    client: Any = None
    fetcher: RecommendationFetcher | None = None


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
    check_numbers(args)
    window_start, window_seconds = time_window(args, wall_clock)
    if args.backdate_hours > CLOUDWATCH_MAX_AGE_HOURS:
        _warn(stderr, f"events older than {CLOUDWATCH_MAX_AGE_HOURS} h are not published to CloudWatch")

    factory = None if args.dry_run else (client_factory or boto3_client_factory(args.profile, args.region))
    deployed, sources = _sources(args, factory, stderr)
    event_types = parse_event_type_mix(args.event_type)
    items = _items(args, stderr)
    targets = _recommendation_targets(args, deployed, sources, stderr)
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
    model, outcomes = _experiment(args, model)
    validator = PutEventsValidator()
    senders = _senders(args, factory, deployed, targets, items, seed)

    show_progress = not (args.quiet or args.json or args.dry_run) and stderr.isatty()
    with tqdm(total=args.events, unit="ev", file=stderr, disable=not show_progress, dynamic_ncols=True) as bar:
        batches = generate_batches(model, seed)
        summary = send_batches(
            outcomes.tap(batches) if outcomes else batches,
            senders.client,
            senders.tracking_id,
            validator=validator,
            planned_events=args.events,
            limiter=limiter,
            recommendations=senders.fetcher,
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
    return _report(args, summary, outcomes, validator, stdout, stderr)


def _sources(args: argparse.Namespace, factory: ClientFactory | None, stderr: TextIO) -> tuple[DeployedGroup | None, list[WeightedChoice]]:
    """The deployed group (--config, unless a dry run) and the source mix: --source, else the configured sources."""
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
    return deployed, sources


def _items(args: argparse.Namespace, stderr: TextIO) -> list[Item]:
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
    return items


def _recommendation_targets(
    args: argparse.Namespace, deployed: DeployedGroup | None, sources: list[WeightedChoice], stderr: TextIO
) -> list[Target]:
    """The recommenders and campaigns to ask for recommendation ids; none unless asked, none in a dry run."""
    if not (args.recommendation_ids or args.recommender_arn or args.campaign_arn):
        return []
    if args.dry_run:
        for spec, kind in [(s, "recommender") for s in args.recommender_arn] + [(s, "campaign") for s in args.campaign_arn]:
            parse_target(spec, kind)  # still checked, so the real run does not fail on a typo
        _warn(stderr, "a dry run asks no recommender: events are validated without recommendation ids")
        return []
    return _targets(args, deployed, sources, stderr)


def _experiment(args: argparse.Namespace, model: TrafficModel) -> tuple[TrafficModel, UnitOutcomes | None]:
    """With --experiment: users keep the arm the flag's split rule gives them, and their outcomes are kept."""
    if not args.experiment:
        if args.true_effect or args.units_out:
            raise CliError("--true-effect and --units-out apply with --experiment")
        return model, None
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
    return model, experiment_tools.UnitOutcomes(group, chosen)


def _senders(
    args: argparse.Namespace, factory: ClientFactory | None, deployed: DeployedGroup | None, targets: list[Target], items: list[Item], seed: int
) -> Senders:
    if factory is None:
        # Any non-empty id passes the model; the real one is not needed to check request shapes.
        return Senders(args.tracking_id or "dry-run-tracking-id")
    parameter = args.tracking_id_parameter or (deployed.tracking_id_parameter if deployed else None)
    if not (args.tracking_id or parameter):
        if deployed is not None:
            raise CliError(f"dataset group {deployed.group_name!r} has no event tracker (eventTracker: false in {args.config})")
        raise CliError("give --tracking-id, --tracking-id-parameter or --config with --group (or use --dry-run)")
    tracking_id = args.tracking_id or read_tracking_id(factory("ssm"), parameter)
    # botocore's own retries are switched off so retries are counted (and paced) here.
    no_retries = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"})
    senders = Senders(tracking_id, factory("personalize-events", config=no_retries))
    if targets:
        senders.fetcher = RecommendationFetcher(
            factory("personalize-runtime", config=no_retries), targets, items, impressions=args.impressions, seed=seed
        )
    return senders


def _report(
    args: argparse.Namespace, summary: SendSummary, outcomes: UnitOutcomes | None, validator: PutEventsValidator, stdout: TextIO, stderr: TextIO
) -> int:
    """The experiment's units file, the summary, and the exit code."""
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
