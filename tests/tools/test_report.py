"""Tests for tools.report: parsing reports, statistics against hand-computed values, inputs, outputs."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import numpy as np
import pytest
from moto import mock_aws

from tests.tools.conftest import REGION
from tools import report
from tools.report import (
    MetricRow,
    ReportFileError,
    load_reports,
    parse_report,
    summarize,
)

HEADER = "METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP\n"
T0 = 1704067224  # 2024-01-01T00:00:24Z: like the documented example, not a multiple of 900
DATASET_GROUP_ARN = "arn:aws:personalize:us-east-1:123456789012:dataset-group/impact-demo"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_cli(argv, **kwargs):
    stdout, stderr = io.StringIO(), io.StringIO()
    code = report.main(argv, stdout=stdout, stderr=stderr, **kwargs)
    return code, stdout.getvalue(), stderr.getvalue()


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def rows_for(metric: str, series: dict[str, list[float | None]], start: int = T0) -> list[MetricRow]:
    """Rows for a metric from per-source values per bucket (None: no row in that bucket)."""
    return [
        MetricRow(metric, "VIEW", value, "samplecount", source, start + 900 * bucket)
        for source, values in series.items()
        for bucket, value in enumerate(values)
        if value is not None
    ]


# --------------------------------------------------------------------------- hand-computed numbers
#
# Fixture COUNTVIEWS, 4 buckets from 00:00 UTC (the 20 of SOURCE_NAME_UNDEFINED in the last bucket
# is two rows, 12 + 8, which are added up):
#   recommended_for_you    10 20 30 40  total 100
#   viewed_X_also_viewed    5  5  -  10  total  20  (no row in the third bucket: counts 0)
#   SOURCE_NAME_UNDEFINED   5 10 15 20  total  50
# Grand total 170; mean per bucket 25 / 5 / 12.5, per hour x4; lift over undefined 100/50 = 2 and
# 20/50 = 0.4. recommended_for_you is exactly twice the baseline in every bucket, so every
# bootstrap resample and the delta-method variance give the interval [2, 2].


@pytest.fixture
def fixture_summaries(fixtures_dir):
    load = load_reports(report.iter_local_reports(fixtures_dir / "reports"))
    assert load.files_read == 2 and load.rows_skipped == 0 and load.warnings == []
    return {s.metric: s for s in summarize(load.rows)}


def test_totals_shares_rates_and_lift_match_hand_computed_values(fixture_summaries):
    views = fixture_summaries["COUNTVIEWS"]
    assert views.total == 170 and views.active_buckets == 4
    assert views.baseline == "SOURCE_NAME_UNDEFINED"
    assert views.first_bucket == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    assert views.last_bucket == datetime(2024, 1, 1, 0, 45, tzinfo=UTC)
    assert views.event_types == ["VIEW"] and views.math_functions == ["samplecount"]
    by_source = {s.source: s for s in views.sources}
    assert [s.source for s in views.sources] == ["recommended_for_you", "SOURCE_NAME_UNDEFINED", "viewed_X_also_viewed"]

    rfy, undefined, viewed = by_source["recommended_for_you"], by_source["SOURCE_NAME_UNDEFINED"], by_source["viewed_X_also_viewed"]
    assert (rfy.total, undefined.total, viewed.total) == (100, 50, 20)
    assert rfy.share == pytest.approx(100 / 170) and viewed.share == pytest.approx(20 / 170)
    assert (rfy.mean_per_bucket, undefined.mean_per_bucket, viewed.mean_per_bucket) == (25, 12.5, 5)
    assert (rfy.mean_per_hour, undefined.mean_per_hour, viewed.mean_per_hour) == (100, 50, 20)
    assert (rfy.buckets_with_data, undefined.buckets_with_data, viewed.buckets_with_data) == (4, 4, 3)
    assert undefined.is_baseline and undefined.lift is None
    assert rfy.lift.ratio == pytest.approx(2.0)
    assert rfy.lift.low == pytest.approx(2.0) and rfy.lift.high == pytest.approx(2.0)
    assert viewed.lift.ratio == pytest.approx(0.4)
    assert viewed.lift.low < 0.4 < viewed.lift.high


def test_second_file_metric_with_sparse_sources(fixture_summaries):
    margin = fixture_summaries["SUMMARGIN"]
    by_source = {s.source: s for s in margin.sources}
    assert margin.total == 27.5 and margin.active_buckets == 4
    assert by_source["recommended_for_you"].total == 20
    assert by_source["recommended_for_you"].share == pytest.approx(20 / 27.5)
    assert by_source["recommended_for_you"].mean_per_bucket == 5
    assert by_source["third_party_widget"].mean_per_hour == pytest.approx(2.5)
    assert by_source["recommended_for_you"].lift.ratio == pytest.approx(4.0)
    assert by_source["third_party_widget"].lift.ratio == pytest.approx(0.5)


def test_delta_method_interval_matches_the_formula():
    rows = rows_for(
        "COUNTVIEWS",
        {"recommended_for_you": [10, 20, 30, 40], "viewed_X_also_viewed": [5, 5, None, 10], "SOURCE_NAME_UNDEFINED": [5, 10, 15, 20]},
    )
    [views] = summarize(rows, ci_method="delta")
    lifts = {s.source: s.lift for s in views.sources}
    assert (lifts["recommended_for_you"].low, lifts["recommended_for_you"].high) == pytest.approx((2.0, 2.0))
    # viewed vs undefined: means 5 and 12.5, sample variances 50/3 and 125/3, covariance 25/3, n = 4:
    # var(log ratio) = (50/3/25 + 125/3/156.25 - 2 * 25/3 / 62.5) / 4 = 1/6.
    spread = 1.959963984540054 * math.sqrt(1 / 6)
    assert lifts["viewed_X_also_viewed"].low == pytest.approx(0.4 * math.exp(-spread))
    assert lifts["viewed_X_also_viewed"].high == pytest.approx(0.4 * math.exp(spread))
    assert lifts["viewed_X_also_viewed"].method == "delta"


def test_bootstrap_is_repeatable_for_a_seed_and_brackets_the_estimate():
    rng = np.random.default_rng(1)
    rows = rows_for(
        "COUNTVIEWS",
        {
            "recommended_for_you": list(rng.poisson(30, 200).astype(float)),
            "SOURCE_NAME_UNDEFINED": list(rng.poisson(15, 200).astype(float)),
        },
    )
    first = summarize(rows, seed=5)[0].sources[0].lift
    again = summarize(rows, seed=5)[0].sources[0].lift
    other = summarize(rows, seed=6)[0].sources[0].lift
    assert (first.low, first.high) == (again.low, again.high)
    assert (first.low, first.high) != (other.low, other.high)
    assert first.low < first.ratio < first.high
    assert first.ratio == pytest.approx(2.0, rel=0.1)
    assert first.high - first.low < 0.3
    delta = summarize(rows, ci_method="delta")[0].sources[0].lift
    assert delta.low == pytest.approx(first.low, rel=0.03) and delta.high == pytest.approx(first.high, rel=0.03)


def test_explicit_baseline_is_matched_case_insensitively_and_missing_baseline_is_noted():
    rows = rows_for("COUNTVIEWS", {"RECOMMENDED_FOR_YOU": [4, 4], "THIRD_PARTY_WIDGET": [2, 2]})
    [summary] = summarize(rows, baseline="third_party_widget")
    assert summary.baseline == "THIRD_PARTY_WIDGET"
    assert summary.sources[0].lift.ratio == 2.0
    [no_default] = summarize(rows)
    assert no_default.baseline is None and "pass --baseline" in no_default.baseline_note
    assert all(s.lift is None for s in no_default.sources)


def test_single_bucket_gives_a_ratio_without_interval_and_zero_baseline_gives_none():
    [one] = summarize(rows_for("M", {"a": [6], "SOURCE_NAME_UNDEFINED": [3]}))
    lift = {s.source: s.lift for s in one.sources}["a"]
    assert lift.ratio == 2.0 and lift.low is None and "at least 2 buckets" in lift.note
    [zero] = summarize(rows_for("M", {"a": [6, 1], "SOURCE_NAME_UNDEFINED": [0, 0]}))
    lift = {s.source: s.lift for s in zero.sources}["a"]
    assert lift.ratio is None and "baseline total is 0" in lift.note


def test_rates_per_hour_and_per_day():
    # Two hours of data on 2024-01-01 and one bucket on 2024-01-05 (span > 72 h: auto picks days).
    rows = rows_for("M", {"a": [4, 4, 4, 4, 8, 8, 8, 8], "SOURCE_NAME_UNDEFINED": [1] * 8})
    rows += rows_for("M", {"a": [2]}, start=T0 + 4 * 86_400)
    [hourly] = summarize(rows, period="hour")
    assert [p.start.hour for p in hourly.periods[:2]] == [0, 1]
    assert hourly.periods[0].per_hour == {"a": 16.0, "SOURCE_NAME_UNDEFINED": 4.0}
    assert hourly.periods[1].totals == {"a": 32.0, "SOURCE_NAME_UNDEFINED": 4.0}
    [auto] = summarize(rows)
    assert auto.period == "day"
    assert [p.start.day for p in auto.periods] == [1, 5]
    assert auto.periods[0].per_hour["a"] == pytest.approx(48 / 2)  # 48 over 8 buckets = 2 h
    assert auto.periods[1].per_hour["a"] == pytest.approx(2 / 0.25)


def test_metric_filter_is_case_insensitive(fixtures_dir):
    load = load_reports(report.iter_local_reports(fixtures_dir / "reports"))
    assert [s.metric for s in summarize(load.rows, metrics=["countViews"])] == ["COUNTVIEWS"]


# --------------------------------------------------------------------------- bad files


def test_wrong_header_fails_naming_the_file_and_line(tmp_path):
    path = write(tmp_path / "r" / "bad.csv", "METRIC,TYPE,VALUE\nCOUNTVIEWS,VIEW,1\n")
    code, _, err = run_cli(["--dir", str(tmp_path / "r")])
    assert code == 2
    assert f"{path}, line 1" in err and "lacks METRIC_NAME, EVENT_TYPE" in err and "--lenient" in err
    assert "Traceback" not in err


def test_lenient_skips_a_file_with_a_wrong_header(tmp_path, fixtures_dir):
    folder = tmp_path / "r"
    write(folder / "bad.csv", HEADER.replace("VALUE,", "") + "x\n")
    for fixture in (fixtures_dir / "reports").iterdir():
        write(folder / fixture.name, fixture.read_bytes())
    code, out, err = run_cli(["--dir", str(folder), "--lenient"])
    assert code == 0
    assert "bad.csv, line 1: header" in err and "file skipped" in err
    assert "skipped 0 rows, 1 files" in out and "COUNTVIEWS" in out


def test_malformed_rows_are_skipped_with_file_and_line():
    text = (
        HEADER
        + f"COUNTVIEWS,VIEW,10.0,samplecount,a,{T0}\n"
        + f"COUNTVIEWS,VIEW,ten,samplecount,a,{T0}\n"
        + "COUNTVIEWS,VIEW,1.0,samplecount,a\n"
        + f"COUNTVIEWS,VIEW,inf,samplecount,a,{T0}\n"
        + f"COUNTVIEWS,VIEW,1.0,samplecount,,{T0}\n"
        + "COUNTVIEWS,VIEW,1.0,samplecount,a,1704067224000\n"
        + "COUNTVIEWS,VIEW,1.0,samplecount,a,yesterday\n"
        + "\n"
        + f"COUNTVIEWS,VIEW,2.0,samplecount,a,{T0 + 900}\n"
    )
    result = parse_report(text.encode(), "r.csv")
    assert [row.value for row in result.rows] == [10.0, 2.0]
    assert result.rows_skipped == 6
    assert result.warnings == [
        "r.csv, line 3: VALUE 'ten' is not a number; row skipped",
        "r.csv, line 4: expected 6 fields, found 5; row skipped",
        "r.csv, line 5: VALUE 'inf' is not a finite number; row skipped",
        "r.csv, line 6: empty EVENT_ATTRIBUTION_SOURCE; row skipped",
        "r.csv, line 7: TIMESTAMP '1704067224000' is not plausible epoch seconds (years 2000-2100); row skipped",
        "r.csv, line 8: TIMESTAMP 'yesterday' is not a number of epoch seconds; row skipped",
    ]


def test_truncated_last_line_is_named_as_such():
    text = HEADER + f"COUNTVIEWS,VIEW,10.0,samplecount,a,{T0}\nCOUNTVIEWS,VIEW,3.0,samp"
    result = parse_report(text.encode(), "cut.csv")
    assert len(result.rows) == 1
    assert result.warnings == ["cut.csv, line 3: expected 6 fields, found 4 (truncated last line?); row skipped"]
    cut_timestamp = HEADER + f"COUNTVIEWS,VIEW,10.0,samplecount,a,{str(T0)[:5]}"
    assert "(truncated last line?)" in parse_report(cut_timestamp.encode(), "cut.csv").warnings[0]
    # A complete last line without a final newline is fine.
    assert parse_report((HEADER + f"M,V,1,sum,a,{T0}").encode(), "ok.csv").rows_skipped == 0


def test_warnings_per_file_are_capped():
    text = HEADER + "".join(f"M,V,x,sum,a,{T0}\n" for _ in range(25))
    result = parse_report(text.encode(), "many.csv")
    assert result.rows_skipped == 25
    assert len(result.warnings) == report.WARNINGS_PER_FILE + 1
    assert result.warnings[-1] == "many.csv: 15 more rows skipped"


def test_strict_fails_on_the_first_malformed_row(tmp_path):
    write(tmp_path / "r" / "a.csv", HEADER + f"M,V,1,sum,a,{T0}\nM,V,oops,sum,a,{T0}\n")
    code, _, err = run_cli(["--dir", str(tmp_path / "r"), "--strict"])
    assert code == 2 and "a.csv, line 3: VALUE 'oops' is not a number" in err
    code, out, err = run_cli(["--dir", str(tmp_path / "r")])
    assert code == 0 and "line 3" in err and "skipped 1 rows" in out


def test_empty_file_is_skipped_with_a_warning_and_header_only_file_is_fine(tmp_path):
    write(tmp_path / "r" / "empty.csv", "")
    write(tmp_path / "r" / "header-only.csv", HEADER)
    write(tmp_path / "r" / "data.csv", HEADER + f"M,V,1,sum,SOURCE_NAME_UNDEFINED,{T0}\n")
    code, out, err = run_cli(["--dir", str(tmp_path / "r")])
    assert code == 0
    assert "empty.csv: empty file; skipped" in err
    assert "read 2 files, 1 rows; skipped 0 rows, 1 files" in out


def test_not_utf8_fails_and_lenient_skips(tmp_path):
    write(tmp_path / "r" / "latin1.csv", (HEADER + f"M,V,1,sum,caf\u00e9,{T0}\n").encode("latin-1"))
    code, _, err = run_cli(["--dir", str(tmp_path / "r")])
    assert code == 2 and "latin1.csv: not UTF-8 text" in err


@pytest.mark.parametrize(
    ("setup", "argv", "message"),
    [
        (lambda d: d.mkdir(), [], "no CSV report files found in"),
        (lambda d: write(d / "notes.txt", "hello"), [], "no CSV report files found in"),
        (lambda d: write(d / "empty.csv", ""), [], "no usable metric rows (0 malformed rows, 1 files skipped)"),
        (lambda d: write(d / "a.csv", HEADER + f"M,V,1,sum,a,{T0}\n"), ["--metric", "countViews"], "no rows for --metric countViews; the input has M"),
        (lambda d: write(d / "a.csv", HEADER + f"M,V,1,sum,a,{T0}\n"), ["--baseline", "zzz"], "--baseline zzz not found; sources are: a"),
        (lambda d: write(d / "a.csv", HEADER), ["--confidence", "95"], "--confidence must be between 0 and 1"),
        (lambda d: write(d / "a.csv", HEADER), ["--png", "/no/such/folder/x.png"], "folder /no/such/folder does not exist"),
        (lambda d: write(d / "a.csv", HEADER), ["--dataset-group-arn", DATASET_GROUP_ARN], "only applies with --cloudwatch"),
    ],
)
def test_cli_input_errors_exit_2_without_traceback(tmp_path, setup, argv, message):
    folder = tmp_path / "reports"
    setup(folder)
    code, _, err = run_cli(["--dir", str(folder), *argv])
    assert code == 2
    assert message in err and "report: error:" in err and "Traceback" not in err


def test_cli_needs_exactly_one_input():
    code, _, err = run_cli([])
    assert code == 2 and "one of the arguments --s3 --dir --cloudwatch is required" in err
    code, _, err = run_cli(["--cloudwatch"])
    assert code == 2 and "--cloudwatch needs --dataset-group-arn" in err
    code, _, err = run_cli(["--s3", "bucket/prefix"])
    assert code == 2 and "expected s3://bucket/prefix/" in err


# --------------------------------------------------------------------------- outputs


def test_text_output_shows_the_comparison(fixtures_dir):
    code, out, err = run_cli(["--dir", str(fixtures_dir / "reports")])
    assert code == 0 and err == ""
    assert "read 2 files, 16 rows" in out
    assert "COUNTVIEWS (event type VIEW; samplecount): 4 active 15-minute buckets, 2024-01-01 00:00 to 2024-01-01 00:45 UTC" in out
    first_rfy_row = next(line.split() for line in out.splitlines() if line.startswith("recommended_for_you"))
    assert first_rfy_row[:8] == ["recommended_for_you", "100", "58.8%", "25.00", "100.00", "4", "2.00x", "2.00"]
    assert "lift vs SOURCE_NAME_UNDEFINED" in out and "paired bootstrap over 15-minute buckets" in out
    assert "mean per hour, by hour (UTC, over active buckets):" in out


def test_json_output(fixtures_dir):
    code, out, _ = run_cli(["--dir", str(fixtures_dir / "reports"), "--json", "--ci", "delta"])
    assert code == 0
    data = json.loads(out)
    assert data["files_read"] == 2 and data["rows"] == 16 and data["rows_skipped"] == 0
    views = next(m for m in data["metrics"] if m["metric"] == "COUNTVIEWS")
    rfy = next(s for s in views["sources"] if s["source"] == "recommended_for_you")
    assert rfy["total"] == 100 and rfy["lift"]["ratio"] == 2.0 and rfy["lift"]["method"] == "delta"
    assert views["first_bucket"] == "2024-01-01T00:00:00Z"
    assert views["periods"][0]["per_hour"]["recommended_for_you"] == 100.0
    assert data["settings"]["ci"] == "delta"


def test_png_chart_is_written(tmp_path, fixtures_dir):
    chart = tmp_path / "impact.png"
    code, out, _ = run_cli(["--dir", str(fixtures_dir / "reports"), "--png", str(chart)])
    assert code == 0 and f"chart written to {chart}" in out
    data = chart.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5_000


# --------------------------------------------------------------------------- S3 and CloudWatch


def test_reads_every_csv_under_an_s3_prefix(fixtures_dir):
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="impact-reports")
        for fixture in (fixtures_dir / "reports").iterdir():
            s3.put_object(Bucket="impact-reports", Key=f"metric-attribution/{fixture.name}", Body=fixture.read_bytes())
        s3.put_object(Bucket="impact-reports", Key="metric-attribution/_SUCCESS", Body=b"")
        s3.put_object(Bucket="impact-reports", Key="other/AggregatedAttributionMetrics - X - 1.csv", Body=b"junk")
        code, out, err = run_cli(
            ["--s3", "s3://impact-reports/metric-attribution/", "--json"], client_factory=lambda service, **kw: s3
        )
        missing = run_cli(["--s3", "s3://no-such-bucket/"], client_factory=lambda service, **kw: s3)
    assert code == 0, err
    data = json.loads(out)
    assert data["files_read"] == 2 and data["rows"] == 16
    views = next(m for m in data["metrics"] if m["metric"] == "COUNTVIEWS")
    assert views["total"] == 170
    code, _, err = missing
    assert code == 2 and "NoSuchBucket" in err and "Traceback" not in err


def test_reads_metrics_back_from_cloudwatch():
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(hours=3)
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        series = {"RECOMMENDED_FOR_YOU": [10, 20, 30, 40], "SOURCE_NAME_UNDEFINED": [5, 10, 15, 20]}
        for source, values in series.items():
            for bucket, value in enumerate(values):
                cloudwatch.put_metric_data(
                    Namespace="AWS/Personalize",
                    MetricData=[
                        {
                            "MetricName": "COUNTVIEWS",
                            "Dimensions": [
                                {"Name": "DatasetGroupArn", "Value": DATASET_GROUP_ARN},
                                {"Name": "EventAttributionSource", "Value": source},
                            ],
                            "Timestamp": start + timedelta(minutes=15 * bucket),
                            "Value": value,
                        }
                    ],
                )
        # Another dataset group's metric must not be read.
        cloudwatch.put_metric_data(
            Namespace="AWS/Personalize",
            MetricData=[
                {
                    "MetricName": "COUNTVIEWS",
                    "Dimensions": [
                        {"Name": "DatasetGroupArn", "Value": DATASET_GROUP_ARN + "-other"},
                        {"Name": "EventAttributionSource", "Value": "RECOMMENDED_FOR_YOU"},
                    ],
                    "Timestamp": start,
                    "Value": 1000,
                }
            ],
        )
        argv = ["--cloudwatch", "--dataset-group-arn", DATASET_GROUP_ARN, "--json", "--days", "1"]
        factory = lambda service, **kw: cloudwatch
        code, out, err = run_cli([*argv, "--metric", "countViews", "--metric", "sumMargin"], client_factory=factory, now=now)
        all_code, all_out, _ = run_cli(argv, client_factory=factory, now=now)
    assert code == 0, err
    assert "no AWS/Personalize metric SUMMARGIN" in err
    [views] = json.loads(out)["metrics"]
    assert views["metric"] == "COUNTVIEWS" and views["total"] == 150 and views["active_buckets"] == 4
    rfy = next(s for s in views["sources"] if s["source"] == "RECOMMENDED_FOR_YOU")
    assert rfy["total"] == 100 and rfy["lift"]["ratio"] == 2.0
    assert views["baseline"] == "SOURCE_NAME_UNDEFINED"
    assert all_code == 0 and json.loads(all_out)["metrics"][0]["total"] == 150


def test_cloudwatch_paginates_and_chunks_queries():
    """More than 500 source series need several GetMetricData calls; NextToken pages are merged."""

    class FakeCloudWatch:
        def __init__(self):
            self.calls = []

        def get_paginator(self, name):
            assert name == "list_metrics"
            metrics = [
                {
                    "MetricName": "COUNTVIEWS",
                    "Dimensions": [
                        {"Name": "DatasetGroupArn", "Value": DATASET_GROUP_ARN},
                        {"Name": "EventAttributionSource", "Value": f"S{n}"},
                    ],
                }
                for n in range(501)
            ]
            return type("P", (), {"paginate": lambda self, **kw: [{"Metrics": metrics[:300]}, {"Metrics": metrics[300:]}]})()

        def get_metric_data(self, **request):
            self.calls.append(request)
            stamp = datetime(2024, 1, 1, tzinfo=UTC)
            results = [{"Id": q["Id"], "Timestamps": [stamp], "Values": [1.0]} for q in request["MetricDataQueries"]]
            if "NextToken" not in request:
                return {"MetricDataResults": results, "NextToken": "page-2"}
            return {"MetricDataResults": results}

    fake = FakeCloudWatch()
    end = datetime(2024, 1, 2, tzinfo=UTC)
    load = report.fetch_cloudwatch_rows(fake, DATASET_GROUP_ARN, ["countViews"], end - timedelta(days=1), end)
    assert [len(c["MetricDataQueries"]) for c in fake.calls] == [500, 500, 1, 1]
    assert all(q["MetricStat"]["Period"] == 900 and q["MetricStat"]["Stat"] == "Sum" for c in fake.calls for q in c["MetricDataQueries"])
    assert len(load.rows) == 2 * 501  # each series got a value on each of two pages


# --------------------------------------------------------------------------- entry points


def test_module_runs_as_a_script(fixtures_dir):
    root = Path(__file__).resolve().parents[2]
    ok = subprocess.run(
        [sys.executable, "-m", "tools", "report", "--dir", str(fixtures_dir / "reports"), "--json"],
        cwd=root, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert {m["metric"] for m in json.loads(ok.stdout)["metrics"]} == {"COUNTVIEWS", "SUMMARGIN"}
    bad = subprocess.run(
        [sys.executable, "-m", "tools.report", "--dir", "/no/such/folder"],
        cwd=root, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "no such folder" in bad.stderr and "Traceback" not in bad.stderr


def test_parse_report_raises_file_errors_with_names():
    with pytest.raises(ReportFileError, match=r"x.csv, line 1: header 'A,B'"):
        parse_report(b"A,B\n1,2\n", "x.csv")


def test_help_names_the_interval_method(capsys):
    code, _, _ = run_cli(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert code == 0 and "paired percentile bootstrap over 15-minute buckets" in help_text
