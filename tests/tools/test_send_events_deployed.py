"""send-events against a deployed environment: the deployed catalogue, unique ids, --config lookup, real
recommendation ids (personalize-runtime requests checked by botocore's Stubber), events not
attempted, and one-line errors instead of tracebacks."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from lambdas.personalize_resources import sample_data
from tests.tools.conftest import REGION, FakeClock
from tools import send_events
from tools.events.rate_limit import RateLimiter
from tools.events.recommendations import RecommendationFetcher, Target
from tools.events.traffic import EventBatch, Item, event_source

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = str(REPO / "config" / "default.yaml")
TRACKING_ID = "b7c2f4e8-1234-4cde-9abc-0123456789ab"
RFY_ARN_PREFIX = "arn:aws:personalize:us-east-1:123456789012:recommender/pimpact-default-retail-recommended-for-you-"
SAMPLE = sample_data.generate()
PRICES = {item.item_id: item.price for item in SAMPLE.items}


class Recorder:
    """A stubbed personalize-events client that keeps every PutEvents request it validated."""

    def __init__(self, responses: int = 400):
        self.client = boto3.client("personalize-events", region_name=REGION)
        self.stubber = Stubber(self.client)
        for _ in range(responses):
            self.stubber.add_response("put_events", {})
        self.requests: list[dict] = []
        self.client.meta.events.register(
            "before-parameter-build.personalize-events.PutEvents", lambda params, **kw: self.requests.append(params)
        )

    @property
    def events(self) -> list[dict]:
        return [e for r in self.requests for e in r["eventList"]]


def run_cli(argv, **kwargs):
    stdout, stderr = io.StringIO(), io.StringIO()
    code = send_events.main(argv, stdout=stdout, stderr=stderr, **kwargs)
    return code, stdout.getvalue(), stderr.getvalue()


def send(argv, recorder: Recorder, extra_clients: dict | None = None):
    clients = {"personalize-events": recorder.client, **(extra_clients or {})}
    with recorder.stubber:
        return run_cli([*argv, "--quiet"], client_factory=lambda service, **kw: clients[service])


# --------------------------------------------------------------------------- catalogue and ids


def test_events_name_the_deployed_sample_items_and_users_with_their_prices():
    recorder = Recorder()
    code, _, err = send(["--tracking-id", TRACKING_ID, "--events", "300", "--seed", "4"], recorder)
    assert code == 0, err
    sample_users = {row.user_id for row in SAMPLE.interactions}
    assert {r["userId"] for r in recorder.requests} <= sample_users
    assert {e["itemId"] for e in recorder.events} <= set(PRICES)  # item_0001 ..., as in items.csv
    purchases = [e for e in recorder.events if e["eventType"] == "Purchase"]
    assert purchases and all(e["eventValue"] == PRICES[e["itemId"]] for e in purchases)


def test_items_beyond_the_sample_catalogue_are_warned_about():
    code, _, err = run_cli(["--dry-run", "--items", "400", "--events", "20"])
    assert code == 0 and "the deployed sample data has 300 items" in err


def test_every_run_sends_new_event_and_session_ids_unless_seeded():
    runs = []
    for argv in (["--events", "50"], ["--events", "50"], ["--events", "50", "--seed", "9"], ["--events", "50", "--seed", "9"]):
        recorder = Recorder()
        code, out, err = send(["--tracking-id", TRACKING_ID, "--json", *argv], recorder)
        assert code == 0, err
        runs.append((recorder, json.loads(out)["seed"]))
    ids = [({e["eventId"] for e in r.events}, {q["sessionId"] for q in r.requests}) for r, _ in runs]
    assert not ids[0][0] & ids[1][0] and not ids[0][1] & ids[1][1]  # two unseeded runs share no id
    assert ids[2] == ids[3] and runs[2][1] == runs[3][1] == 9  # --seed repeats them exactly
    assert runs[0][1] != runs[1][1]  # the seed each run drew is reported, to repeat it on purpose


# --------------------------------------------------------------------------- --config / --group


@pytest.fixture
def deployed_clients():
    """moto's STS and SSM holding the tracking id where the stack writes it."""
    with mock_aws():
        ssm = boto3.client("ssm", region_name=REGION)
        ssm.put_parameter(Name="/pimpact-default/retail/tracking-id", Value=TRACKING_ID, Type="String")
        yield {
            "ssm": ssm,
            "sts": boto3.client("sts", region_name=REGION),
            "personalize": boto3.client("personalize", region_name=REGION),
        }


def test_config_gives_the_tracking_id_and_the_configured_sources(deployed_clients):
    recorder = Recorder()
    code, out, err = send(["--config", DEFAULT_CONFIG, "--group", "retail", "--events", "400", "--json"], recorder, deployed_clients)
    assert code == 0, err
    assert err == ""
    assert {r["trackingId"] for r in recorder.requests} == {TRACKING_ID}
    sources = Counter(event_source(e) for e in recorder.events)
    configured = ("recommended_for_you", "viewed_X_also_viewed", "third_party_widget")
    assert set(sources) == {*configured, "SOURCE_NAME_UNDEFINED"}
    for source in configured:  # 80 % shared equally
        assert sources[source] / 400 == pytest.approx(0.8 / 3, abs=0.07)
    assert json.loads(out)["events"] == 400


def test_a_source_missing_from_the_config_is_warned_about(deployed_clients):
    recorder = Recorder()
    code, _, err = send(
        ["--config", DEFAULT_CONFIG, "--group", "retail", "--events", "20", "--source", "RECOMMENDED_FOR_YOU=0.3", "--source", "new_widget=0.2"],
        recorder,
        deployed_clients,
    )
    assert code == 0
    [warning] = err.splitlines()  # the upper-cased spelling is the same source (CloudWatch upper-cases)
    assert warning.startswith("send_events: warning: source 'new_widget' is not configured for dataset group 'retail'")


def test_config_in_a_dry_run_needs_no_credentials(monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    argv = ["--dry-run", "--json", "--config", DEFAULT_CONFIG, "--group", "retail", "--source", "nope=0.1", "--recommendation-ids"]
    code, out, err = run_cli(argv)
    assert code == 0, err
    assert "'nope' is not configured" in err
    assert "a dry run asks no recommender" in err
    assert set(json.loads(out)["by_source"]) == {"nope", "SOURCE_NAME_UNDEFINED"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--config", DEFAULT_CONFIG], "--config and --group go together"),
        (["--config", DEFAULT_CONFIG, "--group", "shop"], "its dataset groups: retail"),
        (["--config", "/no/such.yaml", "--group", "retail"], "cannot read it"),
        (["--backdate-hours", "1e12"], "reaches back before 1970-01-01"),
        (["--backdate-hours", "1", "--end-time", "1e20"], "--end-time"),
        (["--rate", "1e-9"], "--rate must be"),
        (["--recommender-arn", "arn:aws:personalize:us-east-1:1:recommender/x"], "expected SOURCE=ARN"),
        (["--recommender-arn", "a=arn:aws:personalize:us-east-1:1:campaign/x", "--source", "a=0.5"], "is not a recommender ARN"),
    ],
)
def test_bad_input_is_a_one_line_error(argv, message):
    code, _, err = run_cli(["--dry-run", *argv])
    assert code == 2
    assert message in err and err.startswith("send_events: error:") and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--recommendation-ids", "--source", "a=0.5"], "no source has a recommender"),
        (["--campaign-arn", "b=arn:aws:personalize:us-east-1:1:campaign/x", "--source", "a=0.5"], "add --source b=SHARE"),
    ],
)
def test_recommendation_sources_are_checked_before_anything_is_sent(argv, message):
    def no_client(service, **kwargs):
        raise AssertionError(f"no {service} client is needed to reject the options")

    code, _, err = run_cli(["--tracking-id", TRACKING_ID, *argv], client_factory=no_client)
    assert code == 2
    assert message in err and err.startswith("send_events: error:") and "Traceback" not in err


# --------------------------------------------------------------------------- recommendation ids


def runtime_stub(responses: list) -> tuple:
    client = boto3.client("personalize-runtime", region_name=REGION)
    stubber = Stubber(client)
    for expected, response in responses:
        if isinstance(response, str):
            stubber.add_client_error("get_recommendations", response, "stubbed", expected_params=expected)
        else:
            stubber.add_response("get_recommendations", response, expected)
    return client, stubber


def recommendation(number: int, items: list[str]) -> dict:
    return {"recommendationId": f"RID-{number}", "itemList": [{"itemId": i} for i in items]}


def test_config_recommenders_give_real_recommendation_ids_and_impressions(deployed_clients):
    listed = [f"item_{n:04d}" for n in range(1, 11)]
    user_context = {"recommenderArn": ANY, "userId": ANY, "numResults": 10}
    runtime, runtime_stubber = runtime_stub([(user_context, recommendation(n, listed)) for n in range(200)])
    recorder = Recorder()
    with runtime_stubber:
        code, out, err = send(
            ["--config", DEFAULT_CONFIG, "--group", "retail", "--recommendation-ids", "--impressions", "5",
             "--source", "recommended_for_you=0.5", "--events", "120", "--seed", "3", "--json"],
            recorder,
            {**deployed_clients, "personalize-runtime": runtime},
        )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)["recommendations"]
    attributed = [e for e in recorder.events if event_source(e) == "recommended_for_you"]
    sessions = {r["sessionId"] for r in recorder.requests if any(event_source(e) == "recommended_for_you" for e in r["eventList"])}
    assert summary["calls"] == len(sessions)  # one list per session and source, like one page view
    assert summary["events_with_recommendation_id"] == len(attributed) > 0
    used = {e["recommendationId"] for e in attributed}
    assert used <= {f"RID-{n}" for n in range(summary["calls"])}
    for event in attributed:
        assert event["impression"] == listed[:5]
        assert event["itemId"] in listed[:5]  # the user acted on an item the list showed
        if "eventValue" in event:
            assert event["eventValue"] == PRICES[event["itemId"]]
    assert all("recommendationId" not in e for e in recorder.events if event_source(e) != "recommended_for_you")


def test_item_to_item_recommender_from_config_is_asked_about_the_item(deployed_clients):
    item_context = {"recommenderArn": ANY, "userId": ANY, "itemId": ANY, "numResults": 10}
    runtime, runtime_stubber = runtime_stub([(item_context, recommendation(n, ["item_0002", "item_0003"])) for n in range(100)])
    recorder = Recorder()
    with runtime_stubber:
        code, _, err = send(
            ["--config", DEFAULT_CONFIG, "--group", "retail", "--recommendation-ids", "--source", "viewed_X_also_viewed=0.5",
             "--events", "40", "--seed", "1"],
            recorder,
            {**deployed_clients, "personalize-runtime": runtime},
        )  # fmt: skip
    assert code == 0, err
    assert any("recommendationId" in e for e in recorder.events)


def test_an_arn_of_unknown_recipe_is_asked_again_with_the_item():
    arn = "arn:aws:personalize:us-east-1:123456789012:recommender/similar"
    runtime, stubber = runtime_stub(
        [
            ({"recommenderArn": arn, "userId": "user_0001", "numResults": 10}, "InvalidInputException"),
            ({"recommenderArn": arn, "userId": "user_0001", "itemId": "item_0001", "numResults": 10}, recommendation(1, ["item_0002"])),
            ({"recommenderArn": arn, "userId": "user_0002", "itemId": "item_0005", "numResults": 10}, recommendation(2, ["item_0006"])),
        ]
    )
    fetcher = RecommendationFetcher(runtime, [Target("w", arn, "recommender")], [Item("item_0002", 3.0)], impressions=0, seed=1)
    first = EventBatch("s1", "user_0001", [{"eventType": "View", "itemId": "item_0001", "metricAttribution": {"eventAttributionSource": "w"}}])
    second = EventBatch("s2", "user_0002", [{"eventType": "View", "itemId": "item_0005", "metricAttribution": {"eventAttributionSource": "w"}}])
    with stubber:
        fetcher.apply(first)
        fetcher.apply(second)
        stubber.assert_no_pending_responses()
    assert first.events[0]["recommendationId"] == "RID-1" and first.events[0]["itemId"] == "item_0002"
    assert second.events[0]["recommendationId"] == "RID-2"
    assert fetcher.stats.calls == 3 and fetcher.stats.errors == Counter({"InvalidInputException": 1})


def test_a_missing_recommender_stops_being_asked_and_events_still_go():
    arn = "arn:aws:personalize:us-east-1:123456789012:campaign/gone"
    runtime, stubber = runtime_stub([({"campaignArn": arn, "userId": ANY, "numResults": 10}, "ResourceNotFoundException")])
    recorder = Recorder()
    with stubber:
        code, out, err = send(
            ["--tracking-id", TRACKING_ID, "--campaign-arn", f"w={arn}", "--source", "w=0.9", "--events", "60", "--seed", "2"],
            recorder,
            {"personalize-runtime": runtime},
        )
        stubber.assert_no_pending_responses()  # asked once, not once per session
    assert code == 0, err
    assert len(recorder.events) == 60 and all("recommendationId" not in e for e in recorder.events)
    assert "recommendations: 1 GetRecommendations calls, 0 events sent with their recommendationId" in out
    assert "w: recommender no longer asked: GetRecommendations failed: ResourceNotFoundException" in out


# --------------------------------------------------------------------------- summary and errors


def test_summary_counts_events_not_attempted_after_the_run_stops():
    client = boto3.client("personalize-events", region_name=REGION)
    stubber = Stubber(client)
    for _ in range(2):
        stubber.add_client_error("put_events", "InvalidInputException", "bad")
    with stubber:
        code, out, _ = run_cli(
            ["--tracking-id", TRACKING_ID, "--events", "100", "--seed", "1", "--max-failures", "2", "--json"],
            client_factory=lambda service, **kw: client,
        )
    summary = json.loads(out)
    assert code == 1
    assert summary["events"] == 0 and summary["failed_calls"] == 2
    assert summary["not_attempted_events"] == 100 - summary["failed_events"] > 0
    with stubber:
        stubber.add_client_error("put_events", "AccessDeniedException", "no", http_status_code=403)
        _, text, _ = run_cli(["--tracking-id", TRACKING_ID, "--events", "30", "--seed", "1"], client_factory=lambda service, **kw: client)
    assert "0 of 30 events" in text and "not attempted: " in text and "aborted: " in text


def test_a_closed_output_is_a_one_line_error():
    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    stderr = io.StringIO()
    code = send_events.main(["--dry-run", "--events", "5", "--json"], stdout=ClosedPipe(), stderr=stderr)
    assert code == 1
    assert re.fullmatch(r"send_events: error: output closed before [^\n]* \(broken pipe\)\n", stderr.getvalue())


def test_json_into_a_closed_pipe_has_no_traceback():
    # The reader is gone before the tool writes, as with `... --json | head -0`.
    process = subprocess.Popen(
        [sys.executable, "-m", "tools", "send-events", "--dry-run", "--events", "20", "--json"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 1
    assert re.fullmatch(r"send_events: error: output closed before [^\n]* \(broken pipe\)\n", stderr)


@settings(max_examples=40, deadline=None)
@given(
    rate=st.floats(0.2, 500),
    batches=st.lists(st.integers(1, 10), min_size=1, max_size=80),
    idle=st.lists(st.floats(0, 3), min_size=1, max_size=80),
)
def test_no_window_ever_holds_more_than_the_rate(rate, batches, idle):
    """Any rate, any batch sizes, any pauses between batches: every call carries 1..wanted events
    and no window [t, t + W) holds more than rate * W events (W = 1 s, or 1 / rate below 1/s)."""
    clock = FakeClock()
    limiter = RateLimiter(rate, clock=clock, sleep=clock.sleep)
    calls = []
    for number, size in enumerate(batches):
        clock.now += idle[number % len(idle)]
        while size:
            allowed, _ = limiter.acquire(size)
            assert 1 <= allowed <= size
            calls.append((clock.now, allowed))
            size -= allowed
    window = max(1.0, 1.0 / rate)
    for start, _ in calls:
        assert sum(n for t, n in calls if start <= t < start + window) <= rate * window + 1e-9
