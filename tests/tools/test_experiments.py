"""report --experiment and send_events --experiment: the statistics on known truths, the SRM block,
and the whole loop offline (assignment by the flag's split rule → events → per-user outcomes →
report)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

from config import load_config
from config.feature_flags import evaluate
from tools import report, send_events
from tools.impact.experiments import (
    Moments,
    UnitTable,
    analyse,
    lift_intervals,
    running_intersection,
    srm_p_value,
)

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "experiments.yaml"
WEIGHTS = {"third_party_widget": 50, "recommended_for_you": 50}


def run(module, argv: list[str]) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = module.main(argv, stdout=stdout, stderr=stderr)
    return code, stdout.getvalue(), stderr.getvalue()


def table(rng: np.random.Generator, counts: dict[str, int], means: dict[str, float], days: int = 7) -> UnitTable:
    sources = np.concatenate([np.full(n, s) for s, n in counts.items()])
    values = np.concatenate([rng.exponential(means[s], n) for s, n in counts.items()])
    return UnitTable(sources, rng.integers(0, days, len(sources)), {"sumMargin": values, "countViews": values / 10})


def test_a_clear_effect_is_called_and_sized() -> None:
    rng = np.random.default_rng(1)
    result = analyse("e", WEIGHTS, table(rng, {"third_party_widget": 20_000, "recommended_for_you": 20_000}, {"third_party_widget": 10, "recommended_for_you": 12}),
                     primary="sumMargin", guardrails=["countViews"], effect=0.05)
    assert result.srm_ok
    primary = next(c for c in result.comparisons if c.metric == "sumMargin")
    assert primary.lift == pytest.approx(0.2, abs=0.03)
    assert primary.fixed[0] < 0.2 < primary.fixed[1]
    assert primary.always_valid[0] <= primary.fixed[0] and primary.always_valid[1] >= primary.fixed[1]  # wider: valid at every look
    assert result.verdict == "recommended_for_you beats third_party_widget on sumMargin"


def test_a_sample_ratio_mismatch_blocks_the_verdict() -> None:
    rng = np.random.default_rng(2)
    result = analyse("e", WEIGHTS, table(rng, {"third_party_widget": 9_600, "recommended_for_you": 10_400}, {"third_party_widget": 10, "recommended_for_you": 12}),
                     primary="sumMargin", guardrails=[], effect=0.05)
    assert not result.srm_ok and result.srm_p < 0.001
    assert result.verdict.startswith("BLOCKED: sample ratio mismatch")


def test_srm_p_value_is_pearsons_chi_square() -> None:
    # 480 vs 520 against 50/50: chi2 = (20^2 + 20^2) / 500 = 1.6 on 1 df.
    assert float(srm_p_value([480, 520], [50, 50])) == pytest.approx(math.erfc(math.sqrt(1.6 / 2)), rel=1e-9)


def test_daily_looks_keep_the_always_valid_false_positive_rate_at_alpha() -> None:
    """A/A, 400 experiments, 28 daily looks: the fixed-horizon interval looked at daily is fooled far
    more often than 5 %; the always-valid one (running intersection) is not."""
    rng = np.random.default_rng(3)
    experiments, days, per_day = 400, 28, 400
    draws = rng.exponential(1.0, (2, experiments, days, per_day))
    n = np.cumsum(np.full((2, experiments, days), float(per_day)), axis=-1)
    total, squares = np.cumsum(draws.sum(-1), axis=-1), np.cumsum((draws**2).sum(-1), axis=-1)
    intervals = lift_intervals(Moments(n[0], total[0], squares[0]), Moments(n[1], total[1], squares[1]), alpha=0.05, mixture_scale=0.1)
    low, high = running_intersection(intervals)
    always_valid = ((low[:, -1] > 0) | (high[:, -1] < 0)).mean()
    peeking = ((intervals.fixed_low > 0) | (intervals.fixed_high < 0)).any(axis=-1).mean()
    assert always_valid <= 0.05
    assert peeking > 0.1


def test_the_loop_offline_send_events_then_report(tmp_path: Path) -> None:
    units = tmp_path / "units.csv"
    code, _, err = run(send_events, ["--config", str(CONFIG), "--group", "retail", "--dry-run", "--quiet", "--seed", "5",
                                     "--experiment", "home-widget", "--true-effect", "recommended_for_you=0.5",
                                     "--users", "3000", "--events", "30000", "--backdate-hours", "96", "--end-time", "2026-12-20T00:00:00Z",
                                     "--units-out", str(units)])
    assert code == 0, err
    rows = list(csv.DictReader(units.open()))
    assert set(rows[0]) == {"unit", "source", "day", "sumMargin", "countViews"}
    shares = {s: sum(r["source"] == s for r in rows) / len(rows) for s in WEIGHTS}
    assert shares["recommended_for_you"] == pytest.approx(0.5, abs=0.04)  # the flag's 50/50
    code, out, err = run(report, ["--experiment", "home-widget", "--config", str(CONFIG), "--group", "retail", "--units", str(units)])
    assert code == 0, err
    assert "Sample ratio: chi-square p =" in out and "(OK;" in out
    assert "Verdict:" in out
    lifts = [line for line in out.splitlines() if line.startswith("recommended_for_you  sumMargin")]
    assert lifts and "+" in lifts[0].split()[2]  # the true effect shows as a positive lift


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["--experiment", "home-widget"], "--experiment needs --config, --group and --units"),
        (["--experiment", "nope", "--config", str(CONFIG), "--group", "retail", "--units", "x.csv"], "is not an experiment of group retail"),
    ],
)
def test_report_experiment_mistakes(argv: list[str], phrase: str) -> None:
    code, _, err = run(report, argv)
    assert code != 0 and phrase in err


def test_send_events_true_effect_must_name_an_arm() -> None:
    code, _, err = run(send_events, ["--config", str(CONFIG), "--group", "retail", "--dry-run", "--experiment", "home-widget",
                                     "--true-effect", "viewed_X_also_viewed=0.1"])
    assert code != 0 and "--true-effect takes SOURCE=LIFT" in err


def test_config_weights_are_what_the_analysis_checks_against() -> None:
    experiment = load_config(CONFIG).dataset_groups[0].experiments[1]
    assert experiment.weights == {"viewed_X_also_viewed": 34, "recommended_for_you": 33, "third_party_widget": 33}


class _Agent:
    """The AppConfig agent's documented local answer over the generated flags: evaluates the flag
    named by ?flag= for the `Context: key=value` headers (config.feature_flags.evaluate)."""

    def __init__(self, document: dict, path: str) -> None:
        import http.server
        import threading
        import urllib.parse

        outer = self
        self.requests: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                outer.requests.append(url.path)
                if url.path != path:
                    self.send_error(404)
                    return
                flag = urllib.parse.parse_qs(url.query)["flag"][0]
                context = dict(h.split("=", 1) for h in self.headers.get_all("Context", []))
                body = json.dumps({flag: evaluate(document, flag, context)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_client_snippet_reads_its_arm_from_the_agent_and_attributes_events() -> None:
    from config.experiments import (
        ENVIRONMENT_NAME,
        application_name,
        flag_document,
        profile_name,
    )
    from tools.experiment_client import arm_for, recommend_and_attribute

    config = load_config(CONFIG)
    group = config.dataset_groups[0]
    arn = "arn:aws:personalize:us-east-1:123456789012:recommender/pimpact-exp-retail-recommended-for-you-abcd"
    document = flag_document(config, group, {"recommended_for_you": arn})
    agent = _Agent(document, f"/applications/{application_name(config)}/environments/{ENVIRONMENT_NAME}/configurations/{profile_name(group)}")

    class Runtime:
        def get_recommendations(self, **request):
            assert request == {"recommenderArn": arn, "userId": request["userId"]}
            return {"itemList": [{"itemId": "item_1"}, {"itemId": "item_2"}]}

    try:
        arms = {}
        for i in range(400):
            user = f"user_{i:04d}"
            arms[user] = arm_for(user, application=application_name(config), environment=ENVIRONMENT_NAME, profile=profile_name(group),
                                 flag="home-widget", agent=agent.url)
    finally:
        agent.close()
    assert {a.source for a in arms.values()} == {"third_party_widget", "recommended_for_you"}
    for user, arm in arms.items():
        assert arm.source == evaluate(document, "home-widget", {"userId": user})["_variant"]  # the same rule, the same arm
        items, attribution = recommend_and_attribute(arm, user, Runtime())
        assert attribution == {"eventAttributionSource": arm.source}
        assert items == ([] if arm.arn is None else ["item_1", "item_2"])


def _exposure_rows(rng: np.random.Generator, split: float, lift: float, days: int = 14) -> str:
    lines = ["source,day,exposures,sumMargin,countViews"]
    for day in range(days):
        total = 20_000
        shown = {"third_party_widget": rng.binomial(total, split)}
        shown["recommended_for_you"] = total - shown["third_party_widget"]
        mood = rng.normal(1, 0.1)  # a busier or quieter day moves both arms
        for source, count in shown.items():
            margin = count * 0.4 * mood * (1 + (lift if source == "recommended_for_you" else 0)) * rng.normal(1, 0.03)
            lines.append(f"{source},2026-12-{day + 1:02d},{count},{margin:.2f},{int(count * 0.9)}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("split", "blocked"), [(0.5, False), (0.48, True)])
def test_per_exposure_rows_use_day_clusters_and_the_srm_check(tmp_path: Path, split: float, blocked: bool) -> None:
    path = tmp_path / "exposures.csv"
    path.write_text(_exposure_rows(np.random.default_rng(4), split, 0.2))
    code, out, err = run(report, ["--experiment", "home-widget", "--config", str(CONFIG), "--group", "retail", "--units", str(path)])
    assert code == 0, err
    assert "280,000 exposures over 14 day(s)" in out and "sumMargin per exposure" in out
    verdict = out.splitlines()[-1]
    if blocked:
        assert verdict.startswith("Verdict: BLOCKED: sample ratio mismatch") and "gained exposures" in verdict
    else:
        assert verdict == "Verdict: recommended_for_you beats third_party_widget on sumMargin"
