"""Compare Amazon Personalize metric attribution sources: the `report` command line.

Reads the CSV reports a metric attribution writes to S3 (`--s3`), the same files in a folder
(`--dir`), the metrics it publishes to CloudWatch (`--cloudwatch`), or queries them where
they lie with Amazon Athena (`--athena`), and prints per metric and source: total, volume
share, rate per hour over the time the source was live and traffic flowed, outcomes per
1,000 recommendations served (with `--exposure`/`--impressions`), and the rate lift over a
baseline source with a day-clustered interval over the window both were live; plus the
config's derived metrics (e.g. margin per view). The work is done in tools/impact/: the
options (options), where the rows come from (inputs), reading (reports), Athena (athena),
CloudWatch (cloudwatch), the statistics (statistics, with hourly, intervals and figures),
text/JSON (render) and the chart (chart).

Usage:
    python -m tools.report --s3 s3://my-bucket/metric-reports/retail/ --png impact.png
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from tools._cli import EXIT_OK, ClientFactory, CliError, boto3_client_factory, plural, run_main
from tools.impact import cloudwatch as cloudwatch_input
from tools.impact import figures, statistics
from tools.impact.hourly import HourlyData
from tools.impact.inputs import Aggregates, ConfigContext, aggregates, apply_config, time_range
from tools.impact.options import build_parser, pairs, validate
from tools.impact.render import format_text, to_json

PROG = "report"


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
class Requested:
    """The NAME=VALUE options, checked."""

    exposure_arns: dict[str, str]
    aliases: dict[str, str]
    impressions: dict[str, str]
    derived: list[figures.DerivedMetric]


def _run(
    argv: list[str], client_factory: ClientFactory | None, stdout: TextIO, stderr: TextIO, now: datetime | None, sleep: Any
) -> int:
    args = build_parser().parse_args(argv)
    if args.experiment or args.units:
        from tools.impact.experiments import run_experiment_report

        return run_experiment_report(args, stdout)
    validate(args)
    requested = _requested(args)
    start, end = time_range(args, now)
    factory = client_factory or (lambda service, **kw: boto3_client_factory(args.profile, args.region)(service, **kw))
    context = apply_config(args, factory, requested.aliases) if args.config else None
    if context is not None:
        names = {item.name for item in requested.derived}
        requested.derived += [item for item in context.derived if item.name not in names]

    found = aggregates(args, factory, start, end, sleep, requested.aliases, context.offline_aliases if context else None)
    warnings = _describe_load(found, start, end)
    for warning in warnings:
        print(f"{PROG}: warning: {warning}", file=stderr)

    data = HourlyData(
        found.results["hourly_by_source"], found.results["traffic_by_hour"], timezone=args.timezone, whole_days=args.block == "day"
    )
    exposure = _exposure(args, requested, data, context, factory, stderr)
    settings = _settings(args)
    analysis = statistics.analyse(data, found.results["metric_details"], settings, exposure=exposure, derived=requested.derived)
    if not analysis.metrics:
        raise CliError(f"no rows for --metric {', '.join(args.metric)}; the input has {', '.join(sorted(data.values))}")
    if args.baseline and all(report.baseline is None for report in analysis.metrics):
        raise CliError(f"--baseline {args.baseline} not found; sources are: {', '.join(data.sources)}")
    _write(args, analysis, found, settings, warnings, stdout)
    return EXIT_OK


def _requested(args: Any) -> Requested:
    impressions = pairs(args.impressions, "--impressions")
    requested = Requested(
        exposure_arns=pairs(args.exposure, "--exposure"),
        aliases=pairs(args.alias, "--alias"),
        impressions=impressions,
        derived=[figures.DerivedMetric(name, expression) for name, expression in pairs(args.derived, "--derived", upper=False).items()],
    )
    for source, count in impressions.items():
        try:
            if float(count) < 0 or not math.isfinite(float(count)):
                raise ValueError
        except ValueError:
            raise CliError(f"--impressions {source}={count}: expected a count of 0 or more") from None
    return requested


def _describe_load(found: Aggregates, start: datetime | None, end: datetime | None) -> list[str]:
    """The load summary gains the renamed sources and the files not counted; the warnings, or an
    error when no row is left."""
    results, load = found.results, found.load
    renamed = results.get("aliased_sources", {"reported_source": []})
    load["aliased_sources"] = [
        {"reported": str(reported), "counted_as": str(source), "rows": int(rows)}
        for reported, source, rows in zip(renamed["reported_source"], renamed.get("source", []), renamed.get("row_count", []))
    ]
    skipped_files = results["files_not_counted"]
    load["files_not_counted"] = [
        {"file": str(name), "rows": int(rows), "reason": str(reason)}
        for name, rows, reason in zip(skipped_files["source_file"], skipped_files["row_count"], skipped_files["reason"])
    ]
    warnings = found.warnings
    for item in load["files_not_counted"]:
        warnings.append(f"{item['file']}: {plural(item['rows'], 'row')} not counted: {item['reason']}")
    if not len(results["traffic_by_hour"]["hour_start"]):
        skipped = load.get("rows_skipped") or load.get("files_skipped")
        detail = f" ({plural(load['rows_skipped'], 'malformed row')}, {plural(load['files_skipped'], 'file')} skipped)" if skipped else ""
        window = (f" from {start:%Y-%m-%d %H:%M}" if start else "") + (f" before {end:%Y-%m-%d %H:%M} UTC" if end else "")
        raise CliError(f"no usable metric rows{window}{detail}")
    return warnings


def _config_exposure(args: Any, data: HourlyData, context: ConfigContext, factory: ClientFactory, stderr: TextIO) -> dict[str, str]:
    """Warns of reported sources the config does not know; what each recommender and campaign served."""
    from tools.deployment_lookup import resolve_group, unknown_source_warnings

    group = context.group
    reported = [s for s in data.sources if s != statistics.UNDEFINED_SOURCE]
    for warning in unknown_source_warnings(group.name, dict.fromkeys(group.all_sources()), reported):
        print(f"{PROG}: warning: {warning}", file=stderr)
    if args.s3 and context.deployed is None:
        # Exposure is CloudWatch's: the caller reads S3, so it has credentials for STS too.
        context.deployed = resolve_group(args.config, args.group, client_factory=factory)
    return context.deployed.exposure_arns() if context.deployed is not None else {}


def _exposure(
    args: Any, requested: Requested, data: HourlyData, context: ConfigContext | None, factory: ClientFactory, stderr: TextIO
) -> dict[str, figures.Exposure]:
    """Recommendations served per source: --impressions, else CloudWatch for --exposure and the config's."""
    config_exposure = _config_exposure(args, data, context, factory, stderr) if context is not None else {}
    exposure_arns, impressions = requested.exposure_arns, requested.impressions
    for source in sorted((set(exposure_arns) | set(impressions)) - set(data.sources)):
        print(f"{PROG}: warning: exposure given for {source}, which has no report rows", file=stderr)
    exposure = {source: figures.Exposure("--impressions", total=float(count)) for source, count in impressions.items()}
    for source, arn in config_exposure.items():
        if source in data.sources and source not in impressions:
            exposure_arns.setdefault(source, arn)
    if exposure_arns:
        first = datetime.fromtimestamp(int(data.hour_starts[0]), tz=UTC)
        last = datetime.fromtimestamp(int(data.hour_starts[-1]) + 3600, tz=UTC)
        exposure.update(cloudwatch_input.fetch_exposure(factory("cloudwatch"), exposure_arns, first, last))
    return exposure


def _settings(args: Any) -> figures.Settings:
    return figures.Settings(
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


def _write(args: Any, analysis: figures.Analysis, found: Aggregates, settings: figures.Settings, warnings: list[str], stdout: TextIO) -> None:
    """The chart (--png), then JSON or the text tables."""
    if args.png is not None:
        from tools.impact.chart import write_chart  # matplotlib only when a chart is asked for

        write_chart(analysis, args.png, args.confidence)
    if args.json:
        settings_json = {key: value for key, value in vars(settings).items() if key != "metrics"}
        print(json.dumps(to_json(analysis, found.load, settings_json, warnings), indent=2), file=stdout)
        return
    load = found.load
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


if __name__ == "__main__":
    sys.exit(main())
