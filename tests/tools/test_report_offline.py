"""report for a newcomer: the offline walkthrough of docs/dashboard-and-reports.md runs as written,
--config with --dir reads the config without AWS, the chart stays legible with many ARN sources,
and counts read as English."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tools import report
from tools._cli import plural
from tools.impact import chart, demo
from tools.impact.render import _span

REPO = Path(__file__).resolve().parents[2]
WALKTHROUGH = REPO / "docs" / "dashboard-and-reports.md"
DEFAULT_CONFIG = REPO / "config" / "default.yaml"


def no_aws_environment(tmp_path: Path) -> dict[str, str]:
    """No credentials, profile, region or instance metadata: any AWS call fails."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )  # fmt: skip
    return env


def walkthrough_commands() -> list[str]:
    """The shell commands of the walkthrough's `bash` block (marked `<!-- walkthrough -->`)."""
    text = WALKTHROUGH.read_text()
    block = re.search(r"<!-- walkthrough -->\s*```bash\n(.*?)```", text, re.S)
    assert block, f"{WALKTHROUGH} has no walkthrough block"
    joined = block.group(1).replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def test_the_offline_walkthrough_runs_as_written_without_aws(tmp_path):
    commands = walkthrough_commands()
    assert len(commands) >= 3 and any("--config" in c and "--dir" in c for c in commands)
    env = no_aws_environment(tmp_path)
    outputs = []
    for command in commands:
        argv = shlex.split(command.replace("demo/", f"{tmp_path}/demo/"))
        assert argv[0] == ".venv/bin/python", command
        run = subprocess.run([sys.executable, *argv[1:]], cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False)
        assert run.returncode == 0, f"{command}\n{run.stderr}"
        assert "Traceback" not in run.stderr and "credentials" not in run.stderr, run.stderr
        outputs.append(run.stdout)
    text = "\n".join(outputs)
    # What the walkthrough points out is there: the ARN form renamed, the late source's window, the chart.
    assert re.search(r"source ARN:AWS:PERSONALIZE:.*:RECOMMENDER/PIMPACT-DEFAULT-RETAIL-RECOMMENDED-FOR-YOU-\w+ counted as RECOMMENDED_FOR_YOU", text)
    assert re.search(r"THIRD_PARTY_WIDGET .* 2026-01-08 00:00 \+11\.0 d", text)
    assert "marginPerView" in text and "per 1,000 recs" in text
    assert (tmp_path / "demo" / "impact.png").read_bytes().startswith(b"\x89PNG")


def test_demo_reports_are_seeded_and_shaped_like_personalize_reports(tmp_path):
    first = demo.write_demo_reports(tmp_path / "a", DEFAULT_CONFIG, "retail", days=3, seed=7)
    second = demo.write_demo_reports(tmp_path / "b", DEFAULT_CONFIG, "retail", days=3, seed=7)
    assert first == second and first["files"] == 3
    files_a, files_b = sorted((tmp_path / "a").iterdir()), sorted((tmp_path / "b").iterdir())
    assert [f.read_bytes() for f in files_a] == [f.read_bytes() for f in files_b]
    with files_a[0].open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == demo.HEADER
    assert {(r[0], r[1], r[3]) for r in rows[1:]} == {("COUNTVIEWS", "VIEW", "samplecount"), ("SUMMARGIN", "PURCHASE", "sum")}
    assert all(int(r[5]) % 900 == 0 for r in rows[1:])  # 15-minute buckets


def test_config_with_dir_makes_no_aws_call():
    def no_aws(service, **_):
        raise AssertionError(f"an AWS client was made: {service}")

    folder = REPO / "tests" / "tools" / "fixtures" / "reports"
    stdout, stderr = io.StringIO(), io.StringIO()
    code = report.main(
        ["--config", str(DEFAULT_CONFIG), "--group", "retail", "--dir", str(folder), "--json"],
        client_factory=no_aws, stdout=stdout, stderr=stderr,
    )  # fmt: skip
    assert code == 0, stderr.getvalue()
    derived = json.loads(stdout.getvalue())["derived"]
    assert [d["name"] for d in derived] == ["marginPerView"]  # from the config, without AWS


def test_config_with_dir_renames_arn_sources_of_any_account(tmp_path):
    arn = "arn:aws:personalize:ap-south-1:999999999999:recommender/pimpact-default-retail-viewed-x-also-viewed-48fa"
    other = "arn:aws:personalize:ap-south-1:999999999999:recommender/someone-elses-recommender"
    lines = ["METRIC_NAME,EVENT_TYPE,VALUE,MATH_FUNCTION,EVENT_ATTRIBUTION_SOURCE,TIMESTAMP"]
    for ts in (1704067200, 1704068100):
        lines += [f"COUNTVIEWS,VIEW,3,samplecount,{arn},{ts}", f"COUNTVIEWS,VIEW,2,samplecount,{other},{ts}",
                  f"COUNTVIEWS,VIEW,5,samplecount,viewed_X_also_viewed,{ts}"]  # fmt: skip
    (tmp_path / "r.csv").write_text("\n".join(lines) + "\n")
    stdout, stderr = io.StringIO(), io.StringIO()
    code = report.main(["--config", str(DEFAULT_CONFIG), "--group", "retail", "--dir", str(tmp_path), "--json"], stdout=stdout, stderr=stderr)
    assert code == 0, stderr.getvalue()
    data = json.loads(stdout.getvalue())
    assert data["aliased_sources"] == [{"reported": arn.upper(), "counted_as": "VIEWED_X_ALSO_VIEWED", "rows": 2}]
    totals = {s["source"]: s["total"] for s in data["metrics"][0]["sources"]}
    assert totals["VIEWED_X_ALSO_VIEWED"] == 16 and totals[other.upper()] == 4
    assert f"source '{other.upper()}' is not configured" in stderr.getvalue()


# --------------------------------------------------------------------------- chart


def text_boxes(figure):
    """Window extents of every piece of text a reader needs, by a name saying what it is."""
    renderer = figure.canvas.get_renderer()
    boxes = {}
    for number, axis in enumerate(figure.axes):
        if not axis.axison:
            continue
        for kind, artist in (("title", axis.title), ("xlabel", axis.xaxis.label), ("ylabel", axis.yaxis.label)):
            if artist.get_text():
                boxes[f"axes {number} {kind}"] = artist.get_window_extent(renderer)
        for tick in axis.get_yticklabels():
            if tick.get_text():
                boxes[f"axes {number} ytick {tick.get_text()}"] = tick.get_window_extent(renderer)
        if axis.get_legend():
            boxes[f"axes {number} legend"] = axis.get_legend().get_window_extent(renderer)
    if figure._supxlabel is not None:
        boxes["footnote"] = figure._supxlabel.get_window_extent(renderer)
    return boxes


@pytest.fixture(scope="module")
def busy_chart(tmp_path_factory):
    """The figure for 13 sources, ten of them ARNs, and the report's JSON."""
    folder = tmp_path_factory.mktemp("busy")
    demo.write_demo_reports(folder, DEFAULT_CONFIG, "retail", days=8, extra_sources=9)
    figures = []
    original = chart.render_figure
    chart.render_figure = lambda *a: figures.append(original(*a)) or figures[-1]
    try:
        stdout = io.StringIO()
        code = report.main(["--dir", str(folder), "--png", str(folder / "busy.png"), "--json"], stdout=stdout, stderr=io.StringIO())
    finally:
        chart.render_figure = original
    assert code == 0
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figures[0]).draw()  # the closed figure, drawn again exactly as it was saved
    return figures[0], json.loads(stdout.getvalue())


def test_chart_text_is_inside_the_figure_and_nothing_overlaps(busy_chart):
    figure, _ = busy_chart
    page = figure.bbox
    boxes = text_boxes(figure)
    assert len([name for name in boxes if " ytick " in name]) >= 20  # two lift panels of 10+ sources
    for name, box in boxes.items():
        assert page.x0 - 0.5 <= box.x0 and box.x1 <= page.x1 + 0.5 and page.y0 - 0.5 <= box.y0 and box.y1 <= page.y1 + 0.5, name
    names = sorted(boxes)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            assert not boxes[first].overlaps(boxes[second]), f"{first} overlaps {second}"


def test_chart_labels_are_short_and_arns_are_in_the_footnote(busy_chart):
    figure, data = busy_chart
    arns = [s["source"] for s in data["metrics"][0]["sources"] if s["source"].startswith("ARN:")]
    assert len(arns) >= 10  # the JSON keeps every source in full
    labels = [t.get_text() for axis in figure.axes for t in axis.get_yticklabels() if t.get_text()]
    labels += [t.get_text() for axis in figure.axes if axis.get_legend() for t in axis.get_legend().get_texts()]
    assert labels and all(len(label.split(" (")[0]) <= chart.MAX_LABEL + 1 for label in labels), labels
    assert not any(label.startswith("ARN:") for label in labels)
    assert any("EXPERIMENT-09" + chart.ARN_MARK in label for label in labels)
    assert "ARN:AWS:PERSONALIZE:US-EAST-1:111122223333:CAMPAIGN/<name>" in figure._supxlabel.get_text()


def test_chart_lift_markers_share_their_source_line_colour_and_every_axis_has_a_unit(busy_chart):
    figure, _ = busy_chart
    lift, rates = figure.axes[0], figure.axes[1]
    line_colours = {line.get_label(): line.get_color() for line in rates.get_lines() if not line.get_label().startswith("_")}
    tick_colours = {t.get_text(): t.get_color() for t in lift.get_yticklabels()}
    shared = [label for label in line_colours if label in tick_colours]
    assert len(shared) >= 4
    from matplotlib.colors import to_rgba

    marker_colours = {to_rgba(line.get_color()) for line in lift.get_lines() if line.get_marker() == "o"}
    for label in shared:
        assert to_rgba(tick_colours[label]) == to_rgba(line_colours[label]), label
        assert to_rgba(line_colours[label]) in marker_colours, label
    assert len(marker_colours) == len(lift.get_yticklabels())  # one colour per source
    for axis in figure.axes:
        assert axis.get_xlabel(), axis.get_title()
    for axis in figure.axes[1::2]:
        assert axis.get_ylabel().endswith("per hour") and axis.get_ylabel() != "per hour"
    assert figure.axes[3].get_ylabel() == "SUMMARGIN (sum over PURCHASE events) per hour"
    # A source keeps its colour from one metric's panels to the next.
    views, margin = ({t.get_text(): to_rgba(t.get_color()) for t in figure.axes[i].get_yticklabels()} for i in (0, 2))
    assert len(set(views) & set(margin)) >= 8
    assert all(views[label] == margin[label] for label in set(views) & set(margin))


def test_short_labels():
    assert chart.short_label("RECOMMENDED_FOR_YOU") == ("RECOMMENDED_FOR_YOU", None)
    label, prefix = chart.short_label("ARN:AWS:PERSONALIZE:EU-WEST-1:111122223333:CAMPAIGN/SHOP-TOP")
    assert (label, prefix) == ("SHOP-TOP" + chart.ARN_MARK, "ARN:AWS:PERSONALIZE:EU-WEST-1:111122223333:CAMPAIGN/")
    long_label, _ = chart.short_label("X" * 10 + "-RECOMMENDED-FOR-YOU-43EB" * 3)
    assert len(long_label) == chart.MAX_LABEL and long_label.endswith("FOR-YOU-43EB")


# --------------------------------------------------------------------------- messages


def test_counts_and_spans_read_as_english():
    assert plural(1, "day") == "1 day" and plural(2, "day") == "2 days" and plural(1_000, "row") == "1,000 rows"
    assert plural(1, "15-minute bucket") == "1 15-minute bucket"
    assert plural(3, "metric series", "metric series") == "3 metric series"
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert _span(start, start) == "2024-01-01 00:00 to 01:00"  # rows within one hour
    assert _span(start, start.replace(hour=23)) == "2024-01-01 00:00 to 2024-01-02 00:00"
    assert _span(start, start.replace(day=3, hour=5)) == "2024-01-01 00:00 to 2024-01-03 06:00"


def test_config_time_zone_sets_the_days_and_the_flag_overrides_it(tmp_path):
    text = DEFAULT_CONFIG.read_text().replace("  - name: retail\n", "  - name: retail\n    timezone: America/Los_Angeles\n", 1)
    assert "timezone:" in text
    config = tmp_path / "shop.yaml"
    config.write_text(text)
    folder = str(REPO / "tests" / "tools" / "fixtures" / "reports")

    def settings(*extra: str) -> dict:
        stdout, stderr = io.StringIO(), io.StringIO()
        code = report.main(["--config", str(config), "--group", "retail", "--dir", folder, "--json", *extra], stdout=stdout, stderr=stderr)
        assert code == 0, stderr.getvalue()
        return json.loads(stdout.getvalue())["settings"]

    assert settings()["timezone"] == "America/Los_Angeles"
    assert settings("--timezone", "Europe/Berlin")["timezone"] == "Europe/Berlin"
