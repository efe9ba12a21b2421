"""Tests for tools.report: parsing report files, the command line, S3 and CloudWatch inputs, outputs.

The statistics, the SQL and Athena have their own files (test_impact_*.py).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tests.tools.conftest import REGION
from tools import report
from tools.impact import cloudwatch as cloudwatch_input
from tools.impact.report_csv import WARNINGS_PER_FILE, ReportFileError, parse_report

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
    assert "skipped 0 rows, 1 file" in out and "COUNTVIEWS" in out


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
    assert len(result.warnings) == WARNINGS_PER_FILE + 1
    assert result.warnings[-1] == "many.csv: 15 more rows skipped"


def test_strict_fails_on_the_first_malformed_row(tmp_path):
    write(tmp_path / "r" / "a.csv", HEADER + f"M,V,1,sum,a,{T0}\nM,V,oops,sum,a,{T0}\n")
    code, _, err = run_cli(["--dir", str(tmp_path / "r"), "--strict"])
    assert code == 2 and "a.csv, line 3: VALUE 'oops' is not a number" in err
    code, out, err = run_cli(["--dir", str(tmp_path / "r")])
    assert code == 0 and "line 3" in err and "skipped 1 row" in out


def test_empty_file_is_skipped_with_a_warning_and_header_only_file_is_fine(tmp_path):
    write(tmp_path / "r" / "empty.csv", "")
    write(tmp_path / "r" / "header-only.csv", HEADER)
    write(tmp_path / "r" / "data.csv", HEADER + f"M,V,1,sum,SOURCE_NAME_UNDEFINED,{T0}\n")
    code, out, err = run_cli(["--dir", str(tmp_path / "r")])
    assert code == 0
    assert "empty.csv: empty file; skipped" in err
    assert "read 2 files, 1 row; skipped 0 rows, 1 file" in out


def test_not_utf8_fails_and_lenient_skips(tmp_path):
    write(tmp_path / "r" / "latin1.csv", (HEADER + f"M,V,1,sum,caf\u00e9,{T0}\n").encode("latin-1"))
    code, _, err = run_cli(["--dir", str(tmp_path / "r")])
    assert code == 2 and "latin1.csv: not UTF-8 text" in err


@pytest.mark.parametrize(
    ("setup", "argv", "message"),
    [
        (lambda d: d.mkdir(), [], "no CSV report files found in"),
        (lambda d: write(d / "notes.txt", "hello"), [], "no CSV report files found in"),
        (lambda d: write(d / "empty.csv", ""), [], "no usable metric rows (0 malformed rows, 1 file skipped)"),
        (lambda d: write(d / "a.csv", HEADER + f"M,V,1,sum,a,{T0}\n"), ["--metric", "countViews"], "no rows for --metric countViews; the input has M"),
        (lambda d: write(d / "a.csv", HEADER + f"M,V,1,sum,a,{T0}\n"), ["--baseline", "zzz"], "--baseline zzz not found; sources are: A"),
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
    assert code == 2 and "give one input: --s3, --dir, --cloudwatch, --athena, or --config with --group" in err
    code, _, err = run_cli(["--cloudwatch"])
    assert code == 2 and "--cloudwatch needs --dataset-group-arn" in err
    code, _, err = run_cli(["--s3", "bucket/prefix"])
    assert code == 2 and "expected s3://bucket/prefix/" in err


# --------------------------------------------------------------------------- outputs


def test_text_output_shows_the_comparison(fixtures_dir):
    code, out, err = run_cli(["--dir", str(fixtures_dir / "reports"), "--block", "hour"])
    assert code == 0 and err == ""
    assert "read 2 files, 16 rows" in out
    assert "COUNTVIEWS (event type VIEW; samplecount): 2024-01-01 00:00 to 01:00 UTC, total 170" in out
    assert "lift vs baseline SOURCE_NAME_UNDEFINED" in out
    # Sources are upper-cased like CloudWatch's dimension; one hour live, 4 buckets of traffic = 1 h.
    rfy_row = next(line.split() for line in out.splitlines() if line.startswith("RECOMMENDED_FOR_YOU"))
    assert rfy_row[:9] == ["RECOMMENDED_FOR_YOU", "100", "58.8%", "2024-01-01", "00:00", "1.0", "h", "100.00", "2.00x"]
    assert "no interval: 1 hour in the window" in out
    assert "warning: VIEWED_X_ALSO_VIEWED: small sample: only 3 15-minute buckets" in out
    assert "intervals: hours as independent clusters; delta method" in out and "rate lift: the source's rate / the baseline's rate" in out


def test_json_output(fixtures_dir):
    code, out, _ = run_cli(["--dir", str(fixtures_dir / "reports"), "--json", "--ci", "bootstrap", "--block", "hour"])
    assert code == 0
    data = json.loads(out)
    assert data["files_read"] == 2 and data["rows"] == 16 and data["rows_skipped"] == 0
    views = next(m for m in data["metrics"] if m["metric"] == "COUNTVIEWS")
    rfy = next(s for s in views["sources"] if s["source"] == "RECOMMENDED_FOR_YOU")
    assert rfy["total"] == 100 and rfy["lift"]["rate_lift"]["estimate"] == 2.0
    assert rfy["lift"]["window_start"] == "2024-01-01T00:00:00Z" and rfy["lift"]["window_end"] == "2024-01-01T01:00:00Z"
    assert views["first_hour"] == "2024-01-01T00:00:00Z"
    assert views["rates_over_time"]["per_hour"]["RECOMMENDED_FOR_YOU"] == [100.0]
    assert data["settings"]["ci"] == "bootstrap" and "bootstrap" in data["interval_method"]


def test_png_chart_is_written(tmp_path, fixtures_dir):
    chart = tmp_path / "impact.png"
    code, out, _ = run_cli(["--dir", str(fixtures_dir / "reports"), "--png", str(chart)])
    assert code == 0 and f"chart written to {chart}" in out
    data = chart.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5_000


# --------------------------------------------------------------------------- S3 and CloudWatch


def test_reads_every_csv_under_an_s3_prefix_and_not_its_siblings(fixtures_dir):
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="impact-reports")
        for fixture in (fixtures_dir / "reports").iterdir():
            s3.put_object(Bucket="impact-reports", Key=f"metric-reports/retail/{fixture.name}", Body=fixture.read_bytes())
        s3.put_object(Bucket="impact-reports", Key="metric-reports/retail/_SUCCESS", Body=b"")
        # A sibling prefix that starts with the same letters must not be read.
        s3.put_object(Bucket="impact-reports", Key="metric-reports/retail2/r.csv", Body=(HEADER + f"M,V,1,sum,a,{T0}\n").encode())
        factory = lambda service, **kw: s3
        results = [
            run_cli(["--s3", url, "--json"], client_factory=factory)
            for url in ("s3://impact-reports/metric-reports/retail", "s3://impact-reports/metric-reports/retail/")
        ]
        missing = run_cli(["--s3", "s3://no-such-bucket/"], client_factory=factory)
    for code, out, err in results:
        assert code == 0, err
        data = json.loads(out)
        assert data["files_read"] == 2 and data["rows"] == 16
        assert {m["metric"] for m in data["metrics"]} == {"COUNTVIEWS", "SUMMARGIN"}
    code, _, err = missing
    assert code == 2 and "NoSuchBucket" in err and "Traceback" not in err


def test_days_and_end_select_report_rows_from_s3(fixtures_dir):
    # Fixture rows are at 00:00:24 .. 00:45:24 on 2024-01-01; --end 00:30 keeps the first two buckets.
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="impact-reports")
        for fixture in (fixtures_dir / "reports").iterdir():
            s3.put_object(Bucket="impact-reports", Key=f"r/{fixture.name}", Body=fixture.read_bytes())
        factory = lambda service, **kw: s3
        code, out, err = run_cli(
            ["--s3", "s3://impact-reports/r/", "--json", "--end", "2024-01-01T00:30:00Z", "--days", "1"],
            client_factory=factory,
        )
        empty = run_cli(["--s3", "s3://impact-reports/r/", "--days", "1"], client_factory=factory, now=datetime(2025, 1, 1, tzinfo=UTC))
    assert code == 0, err
    views = next(m for m in json.loads(out)["metrics"] if m["metric"] == "COUNTVIEWS")
    assert views["total"] == 10 + 20 + 5 + 5 + 5 + 10  # two buckets of the three sources
    code, _, err = empty
    assert code == 2 and "no usable metric rows from 2024-12-31 00:00 before 2025-01-01 00:00 UTC" in err


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
    assert views["metric"] == "COUNTVIEWS" and views["total"] == 150
    rfy = next(s for s in views["sources"] if s["source"] == "RECOMMENDED_FOR_YOU")
    assert rfy["total"] == 100 and rfy["lift"]["rate_lift"]["estimate"] == 2.0
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
    load = cloudwatch_input.fetch_cloudwatch_rows(fake, DATASET_GROUP_ARN, ["countViews"], end - timedelta(days=1), end)
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
    assert code == 0 and "cluster-robust delta method" in help_text and "--ci bootstrap resamples whole days" in help_text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seed", "-1"], "--seed must be a whole number from 0"),
        (["--days", "1e9"], "--days must be above 0 and at most 36500"),
        (["--days", "nan"], "--days must be above 0"),
        (["--end", "1e20"], "--end '1e20' is outside the dates this tool can represent"),
        (["--exposure", "a"], "--exposure 'a': expected NAME=VALUE"),
        (["--impressions", "a=-3"], "--impressions A=-3: expected a count of 0 or more"),
        (["--table", "t"], "only apply with --athena"),
    ],
)
def test_former_tracebacks_are_one_line_errors(fixtures_dir, argv, message):
    code, out, err = run_cli(["--dir", str(fixtures_dir / "reports"), *argv])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_athena_options_are_checked_before_any_request():
    code, _, err = run_cli(["--athena", "--database", "d"])
    assert code == 2 and "--athena needs --table, --workgroup" in err
    code, _, err = run_cli(["--athena", "--database", "d; DROP", "--table", "t", "--workgroup", "w"])
    assert code == 2 and "expected a Glue name" in err


def test_a_closed_pipe_is_one_line_and_non_zero(fixtures_dir):
    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    stderr = io.StringIO()
    code = report.main(["--dir", str(fixtures_dir / "reports"), "--json"], stdout=ClosedPipe(), stderr=stderr)
    assert code == 1
    assert stderr.getvalue() == "report: error: output closed before everything was written (broken pipe)\n"
