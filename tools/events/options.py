"""The `send-events` options: what each one means (the tables --help prints) and the checks of their values."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lambdas.personalize_resources import catalogue
from tools._cli import AWS_OPTIONS, ArgumentParser, CliError, OneOf, OptionGroup, add_option_groups, option, parse_timestamp
from tools.events.validation import MAX_EVENTS_PER_CALL, MAX_IMPRESSIONS

CLOUDWATCH_MAX_AGE_HOURS = 14 * 24  # older events are not published to CloudWatch by metric attribution
MIN_RATE = 1 / 3600  # one event an hour; slower would mean sleeps beyond what time.sleep accepts
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return value


EVENT_TRACKER = OptionGroup("event tracker", (
    option(
        "--config",
        type=Path,
        metavar="PATH",
        help="the stack's config file: the tracking-id parameter, sources and recommender and campaign ARNs come from it "
        "(with --group; account and region from your credentials)",
    ),
    option("--group", metavar="NAME", help="dataset group of --config"),
    OneOf((
        option("--tracking-id", help="the event tracker's tracking id"),
        option(
            "--tracking-id-parameter",
            metavar="NAME",
            help="read the tracking id from this SSM parameter (the stack writes it there)",
        ),
    )),
))

TRAFFIC = OptionGroup("generated traffic", (
    option("--events", type=_positive_int, default=1000, help="number of events (default 1000)"),
    option(
        "--users",
        type=_positive_int,
        default=100,
        help="distinct users, user_0001 ... as in the sample data (default 100)",
    ),
    OneOf((
        option(
            "--items-csv",
            type=Path,
            metavar="PATH",
            help="items file with ITEM_ID (and optional PRICE, CATEGORY_L1) columns, like the sample items data",
        ),
        option(
            "--items",
            type=_positive_int,
            default=catalogue.DEFAULT_ITEMS,
            help="the first N items of the deployed sample catalogue, with their prices, when no --items-csv "
            f"(default {catalogue.DEFAULT_ITEMS}, all of it)",
        ),
    )),
    option(
        "--event-type",
        action="append",
        default=[],
        metavar="TYPE=WEIGHT",
        help="event type and relative weight, repeatable; the first is the browsing type "
        "(default View=0.85 Purchase=0.15)",
    ),
    option(
        "--source",
        action="append",
        default=[],
        metavar="NAME=SHARE",
        help="metric attribution source and its share of events (0.4 or 40%%), repeatable; "
        "shares add up to at most 1, the rest is sent without a source (default with --config: "
        "the configured sources share 80%% equally)",
    ),
    option("--session-length", type=float, default=6.0, help="mean events per session (default 6)"),
    option("--impressions", type=int, default=0, metavar="N", help=f"send an impression list of N item ids (1-{MAX_IMPRESSIONS}) with attributed events"),
    option(
        "--seed",
        type=int,
        help="random seed: the same seed gives the same events and the same event and session ids "
        "(default: a new seed each run, so Personalize never sees an id twice)",
    ),
    option(
        "--backdate-hours",
        type=float,
        default=0.0,
        metavar="H",
        help="spread sentAt over the H hours before --end-time instead of stamping events when sent "
        f"(CloudWatch only gets events younger than {CLOUDWATCH_MAX_AGE_HOURS} h)",
    ),
    option("--end-time", help="end of the --backdate-hours window (ISO 8601 or epoch; default now)"),
))

RECOMMENDATIONS = OptionGroup("recommendation ids (GetRecommendations calls are billed)", (
    option(
        "--recommendation-ids",
        action="store_true",
        help="ask each source's recommender (GetRecommendations, once per session and source) and send its "
        "recommendationId and items with that source's events; the recommenders and campaigns of --config, or the ARNs below",
    ),
    option(
        "--recommender-arn",
        action="append",
        default=[],
        metavar="SOURCE=ARN",
        help="the recommender whose results a source's events are on, repeatable (implies --recommendation-ids)",
    ),
    option(
        "--campaign-arn",
        action="append",
        default=[],
        metavar="SOURCE=ARN",
        help="the same for a campaign, repeatable (implies --recommendation-ids)",
    ),
))

SENDING = OptionGroup("sending", (
    option("--rate", type=float, help="at most this many events in any one second (default unlimited)"),
    option("--batch-size", type=int, default=MAX_EVENTS_PER_CALL, help="events per PutEvents call, 1-10 (default 10)"),
    option("--max-retries", type=int, default=6, help="retries of a throttled call (default 6)"),
    option("--max-failures", type=_positive_int, default=10, help="stop after this many failed calls (default 10)"),
    option(
        "--dry-run",
        action="store_true",
        help="validate every request against botocore's personalize-events model and send nothing "
        "(needs no credentials; no parameter is read and no recommender asked)",
    ),
))

EXPERIMENT = OptionGroup("randomized experiment (docs/experiments.md)", (
    option("--experiment", metavar="NAME", help="an experiment of --config/--group: each user's events carry the arm the flag's split rule gives the user"),
    option("--true-effect", action="append", default=[], metavar="SOURCE=LIFT",
           help="users in arm SOURCE make non-browse events (purchases) 1+LIFT times as often, e.g. recommended_for_you=0.1; repeatable"),
    option("--units-out", type=Path, metavar="CSV", help="write each user's arm, day and outcomes (the experiment's metrics) for report --experiment --units"),
))

OUTPUT = OptionGroup("output", (
    option("--quiet", action="store_true", help="no progress bar"),
    option("--json", action="store_true", help="print the summary as JSON"),
))


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
    add_option_groups(parser, (EVENT_TRACKER, AWS_OPTIONS, TRAFFIC, RECOMMENDATIONS, SENDING, EXPERIMENT, OUTPUT))
    return parser


def check_numbers(args: argparse.Namespace) -> None:
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


def time_window(args: argparse.Namespace, wall_clock: Callable[[], datetime]) -> tuple[datetime, float]:
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
