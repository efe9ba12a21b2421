"""Tests for send-events (tools/events/): generation, validation against botocore's model, pacing,
retries, CLI. The features of issue 11 (config lookup, shared catalogue, unique ids, real
recommendation ids, the burst-free rate limit) are in test_send_events_deployed.py."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from tests.tools.conftest import REGION
from tools import send_events
from tools.events.inputs import load_items, parse_source_mix, sample_catalogue_items, sample_user_ids
from tools.events.rate_limit import RateLimiter
from tools.events.sender import RetryPolicy, send_batches
from tools.events.traffic import (
    UNATTRIBUTED_SOURCE,
    EventBatch,
    Item,
    TrafficModel,
    WeightedChoice,
    event_source,
    generate_batches,
)
from tools.events.validation import MAX_EVENTS_PER_CALL, PutEventsValidator

TRACKING_ID = "b7c2f4e8-1234-4cde-9abc-0123456789ab"
START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SOURCES = (
    WeightedChoice("recommended_for_you", 0.4),
    WeightedChoice("viewed_X_also_viewed", 0.3),
    WeightedChoice("third_party_widget", 0.2),
)


@pytest.fixture(scope="module")
def validator() -> PutEventsValidator:
    return PutEventsValidator()


def make_model(**overrides) -> TrafficModel:
    values = {
        "event_count": 200,
        "users": sample_user_ids(30),
        "items": sample_catalogue_items(50),
        "sources": SOURCES,
        "window_start": START,
    }
    values.update(overrides)
    return TrafficModel(**values)


def stubbed_client():
    """A real personalize-events client whose calls are answered by a Stubber.

    botocore validates every request against the service model before the Stubber answers.
    """
    client = boto3.client("personalize-events", region_name=REGION)
    return client, Stubber(client)


def run_cli(argv, **kwargs):
    stdout, stderr = io.StringIO(), io.StringIO()
    code = send_events.main(argv, stdout=stdout, stderr=stderr, **kwargs)
    return code, stdout.getvalue(), stderr.getvalue()


# --------------------------------------------------------------------------- generation


def test_same_seed_gives_same_events_and_another_seed_differs():
    first = list(generate_batches(make_model(), seed=7))
    again = list(generate_batches(make_model(), seed=7))
    other = list(generate_batches(make_model(), seed=8))
    assert first == again
    assert first != other


def test_batches_hold_at_most_ten_events_of_one_session_and_add_up():
    batches = list(generate_batches(make_model(event_count=500, mean_session_length=25), seed=1))
    assert max(len(b.events) for b in batches) == MAX_EVENTS_PER_CALL  # long sessions are split
    assert all(1 <= len(b.events) <= MAX_EVENTS_PER_CALL for b in batches)
    assert sum(len(b.events) for b in batches) == 500
    users_by_session = {}
    for batch in batches:
        assert users_by_session.setdefault(batch.session_id, batch.user_id) == batch.user_id


def test_source_and_event_type_mix_follow_the_shares():
    model = make_model(event_count=20_000, event_types=(WeightedChoice("View", 0.8), WeightedChoice("Purchase", 0.2)))
    events = [e for b in generate_batches(model, seed=3) for e in b.events]
    sources = Counter(event_source(e) for e in events)
    types = Counter(e["eventType"] for e in events)
    assert sources["recommended_for_you"] / len(events) == pytest.approx(0.4, abs=0.02)
    assert sources["viewed_X_also_viewed"] / len(events) == pytest.approx(0.3, abs=0.02)
    assert sources["third_party_widget"] / len(events) == pytest.approx(0.2, abs=0.02)
    assert sources[UNATTRIBUTED_SOURCE] / len(events) == pytest.approx(0.1, abs=0.02)
    assert types["Purchase"] / len(events) == pytest.approx(0.2, abs=0.02)
    unattributed = [e for e in events if event_source(e) == UNATTRIBUTED_SOURCE]
    assert all("metricAttribution" not in e for e in unattributed)


def test_items_csv_gives_item_ids_prices_and_purchases_carry_the_price(fixtures_dir):
    items = load_items(fixtures_dir / "items.csv")
    assert items[0] == Item("a1b2c3d4-0001", 29.99, "apparel")
    prices = {item.item_id: item.price for item in items}
    events = [e for b in generate_batches(make_model(items=items, event_count=300), seed=2) for e in b.events]
    assert {e["itemId"] for e in events} <= set(prices)
    purchases = [e for e in events if e["eventType"] == "Purchase"]
    assert purchases and all(e["eventValue"] == prices[e["itemId"]] for e in purchases)
    assert all("eventValue" not in e for e in events if e["eventType"] == "View")


def test_impressions_only_on_attributed_events_and_no_made_up_recommendation_ids(validator):
    model = make_model(impressions=25)
    batches = list(generate_batches(model, seed=5))
    for batch in batches:
        assert validator.problems(batch.request(TRACKING_ID)) == []
        for event in batch.events:
            assert "recommendationId" not in event  # only GetRecommendations gives real ones
            if "metricAttribution" in event:
                assert len(event["impression"]) == 25
                assert event["itemId"] in event["impression"]
                assert len(set(event["impression"])) == 25
            else:
                assert "recommendationId" not in event and "impression" not in event


def test_backdated_sent_at_stays_in_the_window():
    model = make_model(window_seconds=6 * 3600)
    events = [e for b in generate_batches(model, seed=4) for e in b.events]
    stamps = [e["sentAt"] for e in events]
    assert min(stamps) == START
    assert max(stamps) <= START + timedelta(hours=6)
    assert max(stamps) - min(stamps) > timedelta(hours=5)  # spread, not bunched


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    event_count=st.integers(1, 120),
    batch_size=st.integers(1, 10),
    session_length=st.floats(1, 30),
    impressions=st.integers(0, 25),
)
def test_every_generated_request_is_valid_and_within_limits(seed, event_count, batch_size, session_length, impressions):
    validator = PutEventsValidator()
    model = make_model(
        event_count=event_count,
        batch_size=batch_size,
        mean_session_length=session_length,
        impressions=impressions,
    )
    batches = list(generate_batches(model, seed))
    assert sum(len(b.events) for b in batches) == event_count
    for batch in batches:
        assert 1 <= len(batch.events) <= batch_size
        assert validator.problems(batch.request(TRACKING_ID)) == []


# --------------------------------------------------------------------------- validation


def test_validator_reports_what_the_service_model_forbids(validator):
    event = {"eventType": "View", "sentAt": START, "itemId": "i1"}
    too_many = {"trackingId": TRACKING_ID, "sessionId": "s", "eventList": [dict(event) for _ in range(11)]}
    assert any("eventList: 11 entries, at most 10" in p for p in validator.problems(too_many))

    long_impression = dict(event, impression=[f"i{n}" for n in range(26)])
    request = {"trackingId": TRACKING_ID, "sessionId": "s", "eventList": [long_impression]}
    assert any("impression: 26 entries, at most 25" in p for p in validator.problems(request))

    bad_source = dict(event, metricAttribution={"eventAttributionSource": "   "})
    request = {"trackingId": TRACKING_ID, "sessionId": "s", "eventList": [bad_source]}
    assert any("eventAttributionSource: does not match" in p for p in validator.problems(request))

    no_sent_at = {"eventType": "View", "itemId": "i1"}
    request = {"trackingId": TRACKING_ID, "sessionId": "s", "eventList": [no_sent_at]}
    assert any("sentAt" in p for p in validator.problems(request))

    missing_session = {"trackingId": TRACKING_ID, "eventList": [event]}
    assert any("sessionId" in p for p in validator.problems(missing_session))

    long_item = dict(event, itemId="x" * 257)
    request = {"trackingId": TRACKING_ID, "sessionId": "s", "eventList": [long_item]}
    problems = validator.problems(request)
    assert any("itemId: 257 characters, at most 256" in p for p in problems)
    assert not any("xxxx" in p for p in problems)  # sensitive values are not echoed


def test_invalid_batches_are_counted_and_not_sent(validator):
    client, stubber = stubbed_client()
    good = EventBatch("s1", "u1", [{"eventType": "View", "sentAt": START, "itemId": "i1"}])
    bad = EventBatch("s2", "u1", [{"eventType": "View", "sentAt": START, "itemId": "i" * 300}])
    with stubber:
        stubber.add_response("put_events", {}, {"trackingId": TRACKING_ID, "userId": "u1", "sessionId": "s1", "eventList": ANY})
        summary = send_batches([bad, good], client, TRACKING_ID, validator=validator)
        stubber.assert_no_pending_responses()
    assert summary.invalid_calls == 1 and summary.calls == 1 and not summary.ok
    assert "request 1 (session s2)" in summary.first_problems[0]


# --------------------------------------------------------------------------- sending


def test_sends_every_batch_as_generated_through_a_stubbed_client(validator):
    batches = list(generate_batches(make_model(event_count=120, impressions=3), seed=9))
    client, stubber = stubbed_client()
    with stubber:
        for batch in batches:
            stubber.add_response("put_events", {}, batch.request(TRACKING_ID))
        summary = send_batches(batches, client, TRACKING_ID, validator=validator)
        stubber.assert_no_pending_responses()
    assert summary.ok
    assert summary.calls == len(batches)
    assert summary.events_total == 120
    expected = Counter((event_source(e), e["eventType"]) for b in batches for e in b.events)
    assert summary.events == expected
    calls_with_source = Counter(s for b in batches for s in {event_source(e) for e in b.events})
    assert summary.calls_by_source == calls_with_source


def test_live_sends_restamp_sent_at_with_the_wall_clock(validator):
    batches = list(generate_batches(make_model(event_count=15), seed=1))
    sent_time = datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)
    client, stubber = stubbed_client()
    with stubber:
        for _ in batches:
            stubber.add_response("put_events", {})
        send_batches(batches, client, TRACKING_ID, validator=validator, wall_clock=lambda: sent_time)
    assert all(e["sentAt"] == sent_time for b in batches for e in b.events)


def test_throttled_calls_are_retried_with_growing_backoff(validator, fake_clock):
    batches = list(generate_batches(make_model(event_count=10, mean_session_length=20), seed=1))
    assert len(batches) == 1
    client, stubber = stubbed_client()
    with stubber:
        stubber.add_client_error("put_events", "ThrottlingException", "Rate exceeded", http_status_code=400)
        stubber.add_client_error("put_events", "TooManyRequestsException", "slow down", http_status_code=429)
        stubber.add_client_error("put_events", "ServiceUnavailable", "busy", http_status_code=503)
        stubber.add_response("put_events", {})
        summary = send_batches(
            batches,
            client,
            TRACKING_ID,
            validator=validator,
            retry=RetryPolicy(max_retries=5, base_delay=0.5, max_delay=20),
            sleep=fake_clock.sleep,
            clock=fake_clock,
        )
        stubber.assert_no_pending_responses()
    assert summary.ok and summary.calls == 1 and summary.retries == 3
    first, second, third = fake_clock.sleeps
    assert 0.25 <= first <= 0.5 and 0.5 <= second <= 1.0 and 1.0 <= third <= 2.0
    assert summary.elapsed_seconds == pytest.approx(sum(fake_clock.sleeps))


def test_a_call_still_throttled_after_the_last_retry_fails_and_sending_goes_on(validator, fake_clock):
    batches = [
        EventBatch("s1", "u1", [{"eventType": "View", "sentAt": START, "itemId": "i1"}]),
        EventBatch("s2", "u2", [{"eventType": "View", "sentAt": START, "itemId": "i2"}]),
    ]
    client, stubber = stubbed_client()
    with stubber:
        for _ in range(3):
            stubber.add_client_error("put_events", "ThrottlingException", "Rate exceeded")
        stubber.add_response("put_events", {})
        summary = send_batches(
            batches, client, TRACKING_ID, validator=validator, retry=RetryPolicy(max_retries=2), sleep=fake_clock.sleep
        )
        stubber.assert_no_pending_responses()
    assert summary.retries == 2 and summary.failed_calls == 1 and summary.failed_events == 1
    assert summary.calls == 1 and summary.errors == Counter({"ThrottlingException": 1})
    assert not summary.ok


def test_invalid_input_is_not_retried(validator, fake_clock):
    batch = EventBatch("s1", "u1", [{"eventType": "View", "sentAt": START, "itemId": "i1"}])
    client, stubber = stubbed_client()
    with stubber:
        stubber.add_client_error("put_events", "InvalidInputException", "bad event")
        summary = send_batches([batch], client, TRACKING_ID, validator=validator, sleep=fake_clock.sleep)
    assert summary.retries == 0 and fake_clock.sleeps == []
    assert summary.errors == Counter({"InvalidInputException": 1})


def test_access_denied_stops_at_the_first_call(validator):
    batches = list(generate_batches(make_model(event_count=50), seed=1))
    client, stubber = stubbed_client()
    with stubber:
        stubber.add_client_error("put_events", "AccessDeniedException", "not allowed", http_status_code=403)
        summary = send_batches(batches, client, TRACKING_ID, validator=validator)
        stubber.assert_no_pending_responses()
    assert summary.failed_calls == 1 and summary.calls == 0
    assert "AccessDeniedException" in summary.aborted


def test_max_failures_stops_the_run(validator):
    batches = list(generate_batches(make_model(event_count=100), seed=1))
    client, stubber = stubbed_client()
    with stubber:
        for _ in range(3):
            stubber.add_client_error("put_events", "InvalidInputException", "bad")
        summary = send_batches(batches, client, TRACKING_ID, validator=validator, max_failures=3)
        stubber.assert_no_pending_responses()
    assert summary.failed_calls == 3 and "--max-failures" in summary.aborted


# --------------------------------------------------------------------------- rate limiting


def test_rate_limiter_spaces_calls_without_an_opening_burst(fake_clock):
    limiter = RateLimiter(rate=10, clock=fake_clock, sleep=fake_clock.sleep)
    assert limiter.acquire(10) == (10, 0)  # the first call goes at once...
    allowed, waited = limiter.acquire(5)  # ...the next waits until the window has room again
    assert allowed == 5 and waited == pytest.approx(1.0)
    allowed, waited = limiter.acquire(10)  # 5 of the window's 10 are taken: the other 5 may go, after 0.5 s
    assert allowed == 5 and waited == pytest.approx(0.5)
    allowed, waited = limiter.acquire(10)  # spaced 0.5 s after the last 5; the oldest 5 have left the window
    assert allowed == 5 and waited == pytest.approx(0.5)
    allowed, waited = limiter.acquire(10)  # room for only 0 then 5 events: waits for 5, not for a sliver
    assert allowed == 5 and waited == pytest.approx(0.5)
    fake_clock.now += 100  # idle time is not saved up into a burst
    assert limiter.acquire(25) == (10, 0)
    allowed, waited = limiter.acquire(1)
    assert allowed == 1 and waited == pytest.approx(1.0)
    with pytest.raises(ValueError):
        limiter.acquire(0)


def test_sending_never_exceeds_the_rate_in_any_one_second_window(validator, fake_clock):
    batches = list(generate_batches(make_model(event_count=600), seed=2))
    client, stubber = stubbed_client()
    calls = []  # (fake time, events) of every PutEvents call, as botocore makes it
    client.meta.events.register(
        "before-parameter-build.personalize-events.PutEvents",
        lambda params, **kwargs: calls.append((fake_clock(), len(params["eventList"]))),
    )
    limiter = RateLimiter(rate=20, clock=fake_clock, sleep=fake_clock.sleep)
    with stubber:
        for _ in range(3 * len(batches)):  # a batch may go in several calls when the window has room for part of it
            stubber.add_response("put_events", {})
        summary = send_batches(
            batches, client, TRACKING_ID, validator=validator, limiter=limiter, clock=fake_clock, sleep=fake_clock.sleep
        )
    assert summary.ok and summary.events_total == 600 == sum(n for _, n in calls)
    # The bug: the first second of --rate 50 carried 100 events. No window [t, t + 1 s) exceeds the rate.
    for start, _ in calls:
        assert sum(n for t, n in calls if start <= t < start + 1) <= 20
    assert sum(n for t, n in calls if t < calls[0][0] + 1) <= 20
    # ...and the rate is nearly reached: batch sizes vary, so some room is left unused.
    assert 0.85 * 20 <= 600 / summary.elapsed_seconds <= 20 * 1.05
    assert summary.calls <= 1.5 * len(batches)
    assert summary.rate_wait_seconds == pytest.approx(summary.elapsed_seconds)


# --------------------------------------------------------------------------- CLI


def test_cli_reads_tracking_id_from_ssm_and_sends(fake_clock):
    argv = [
        "--tracking-id-parameter", "/personalize-impact/tracking-id",
        "--events", "60", "--seed", "11", "--rate", "30", "--quiet",
        "--source", "recommended_for_you=0.5", "--source", "third_party_widget=25%",
    ]  # fmt: skip
    code, out, _ = run_cli([*argv, "--dry-run", "--json"])
    assert code == 0
    expected_calls = json.loads(out)["calls"]

    with mock_aws():
        ssm = boto3.client("ssm", region_name=REGION)
        ssm.put_parameter(Name="/personalize-impact/tracking-id", Value=TRACKING_ID, Type="String")
        events_client, stubber = stubbed_client()
        for _ in range(2 * expected_calls):  # the rate limit may split a batch in two calls
            stubber.add_response("put_events", {}, {"trackingId": TRACKING_ID, "userId": ANY, "sessionId": ANY, "eventList": ANY})
        clients = {"ssm": ssm, "personalize-events": events_client}
        with stubber:
            code, out, err = run_cli(
                argv,
                client_factory=lambda service, **kwargs: clients[service],
                clock=fake_clock,
                sleep=fake_clock.sleep,
            )
    assert code == 0, err
    assert "60 of 60 events in" in out and "sent" in out
    assert "recommended_for_you" in out and "third_party_widget" in out and UNATTRIBUTED_SOURCE in out
    assert 1.5 <= fake_clock.now - 1000.0 <= 2.5  # paced by --rate 30: 60 events take about 2 s, no opening burst
    assert err == ""  # not a TTY: no progress bar


def test_cli_missing_ssm_parameter_is_a_clear_error():
    with mock_aws():
        ssm = boto3.client("ssm", region_name=REGION)
        code, _, err = run_cli(
            ["--tracking-id-parameter", "/nope", "--events", "5"],
            client_factory=lambda service, **kwargs: ssm,
        )
    assert code == 2
    assert "SSM parameter '/nope' not found" in err and "Traceback" not in err


def test_cli_dry_run_needs_no_credentials(monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, out, err = run_cli(
        ["--dry-run", "--events", "250", "--impressions", "4", "--rate", "50",
         "--source", "recommended_for_you=0.4", "--source", "viewed_X_also_viewed=0.3"]
    )  # fmt: skip
    assert code == 0, err
    assert "250 of 250 events in" in out and "dry run, nothing sent" in out
    assert "PutEvents model" in out and "about 5.0 s" in out


def test_cli_json_summary_is_deterministic_for_a_seed():
    argv = ["--dry-run", "--json", "--events", "80", "--seed", "3", "--source", "recommended_for_you=0.5"]
    first = json.loads(run_cli(argv)[1])
    second = json.loads(run_cli(argv)[1])
    for summary in (first, second):
        summary.pop("elapsed_seconds")
    assert first == second
    assert first["events"] == 80
    assert sum(s["events"] for s in first["by_source"].values()) == 80


def test_cli_items_csv_and_event_type_mix(fixtures_dir):
    code, out, err = run_cli(
        ["--dry-run", "--json", "--events", "100", "--items-csv", str(fixtures_dir / "items.csv"),
         "--event-type", "View=3", "--event-type", "AddToCart=1", "--event-type", "Purchase=1"]
    )  # fmt: skip
    assert code == 0, err
    types = json.loads(out)["by_source"][UNATTRIBUTED_SOURCE]["by_event_type"]
    assert set(types) == {"View", "AddToCart", "Purchase"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--events", "5"], "give --tracking-id, --tracking-id-parameter or --config"),
        (["--dry-run", "--source", "recommended_for_you"], "expected NAME=SHARE"),
        (["--dry-run", "--source", "a=lots"], "'lots' is not a number"),
        (["--dry-run", "--source", "a=-0.1"], "must be a number >= 0"),
        (["--dry-run", "--source", "a=0.7", "--source", "b=0.5"], "add up to 1.2"),
        (["--dry-run", "--source", "a=0.1", "--source", "a=0.2"], "given twice"),
        (["--dry-run", "--source", "SOURCE_NAME_UNDEFINED=0.2"], "leave that share out"),
        (["--dry-run", "--source", "caf\u00e9=0.2"], "printable ASCII"),
        (["--dry-run", "--event-type", "View=0"], "weight above 0"),
        (["--dry-run", "--batch-size", "11"], "--batch-size must be 1-10"),
        (["--dry-run", "--impressions", "26"], "--impressions must be 0-25"),
        (["--dry-run", "--items", "3", "--impressions", "5"], "more than the 3 items"),
        (["--dry-run", "--rate", "0"], "--rate must be"),
        (["--dry-run", "--events", "0"], "argument --events: '0': must be at least 1"),
        (["--dry-run", "--end-time", "2024-01-01"], "--end-time only applies with --backdate-hours"),
        (["--dry-run", "--backdate-hours", "2", "--end-time", "yesterday"], "is not a time"),
        (["--dry-run", "--items-csv", "/no/such/items.csv"], "no such file"),
        (["--tracking-id", "x", "--tracking-id-parameter", "y"], "not allowed with argument"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_cli_bad_input_exits_2_with_a_message(argv, message):
    code, _, err = run_cli(argv)
    assert code == 2
    assert message in err
    assert err.startswith("send_events: error:") and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty file"),
        ("ID,PRICE\n1,2\n", "line 1: no ITEM_ID column"),
        ("ITEM_ID,PRICE\nA,cheap\n", "line 2: PRICE 'cheap' is not a number"),
        ("ITEM_ID,PRICE\nA,1\nB\n", "line 3: expected 2 fields, found 1"),
        ("ITEM_ID,PRICE\n", "no items"),
    ],
)
def test_cli_bad_items_csv_names_file_and_line(tmp_path, content, message):
    path = tmp_path / "items.csv"
    path.write_text(content)
    code, _, err = run_cli(["--dry-run", "--items-csv", str(path)])
    assert code == 2 and message in err and str(path) in err


def test_progress_bar_only_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    argv = ["--tracking-id", TRACKING_ID, "--events", "30"]
    client, stubber = stubbed_client()
    for _ in range(60):  # two runs of at most 30 calls each
        stubber.add_response("put_events", {})
    with stubber:
        terminal = Terminal()
        code = send_events.main(argv, client_factory=lambda s, **k: client, stdout=io.StringIO(), stderr=terminal)
        assert code == 0
        assert "30/30" in terminal.getvalue()
        quiet = Terminal()
        send_events.main([*argv, "--quiet"], client_factory=lambda s, **k: client, stdout=io.StringIO(), stderr=quiet)
        assert quiet.getvalue() == ""


def test_module_runs_as_a_script_without_traceback():
    root = Path(__file__).resolve().parents[2]
    ok = subprocess.run(
        [sys.executable, "-m", "tools.send_events", "--dry-run", "--events", "20", "--json"],
        cwd=root, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["events"] == 20
    bad = subprocess.run(
        [sys.executable, "-m", "tools", "send-events", "--source", "oops"],
        cwd=root, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "expected NAME=SHARE" in bad.stderr and "Traceback" not in bad.stderr


def test_parse_source_mix_accepts_percentages_and_rejects_bad_names():
    assert parse_source_mix(["a=40%", "b=0.6"]) == [WeightedChoice("a", 0.4), WeightedChoice("b", 0.6)]


def test_ctrl_c_keeps_the_summary_of_what_was_sent(validator):
    def batches_then_interrupt():
        yield EventBatch("s1", "u1", [{"eventType": "View", "sentAt": START, "itemId": "i1"}])
        raise KeyboardInterrupt

    client, stubber = stubbed_client()
    with stubber:
        stubber.add_response("put_events", {})
        summary = send_batches(batches_then_interrupt(), client, TRACKING_ID, validator=validator)
    assert summary.interrupted and summary.aborted == "interrupted"
    assert summary.calls == 1 and summary.events_total == 1


def test_cli_backdated_run_stamps_events_in_the_window():
    sent = []
    client, stubber = stubbed_client()
    client.meta.events.register("before-parameter-build.personalize-events.PutEvents", lambda params, **kw: sent.append(params))
    for _ in range(40):
        stubber.add_response("put_events", {})
    with stubber:
        code, _, err = run_cli(
            ["--tracking-id", TRACKING_ID, "--events", "40", "--backdate-hours", "2",
             "--end-time", "2024-05-01T12:00:00Z", "--quiet"],
            client_factory=lambda service, **kwargs: client,
        )  # fmt: skip
    assert code == 0, err
    stamps = [e["sentAt"] for request in sent for e in request["eventList"]]
    assert len(stamps) == 40
    assert min(stamps) == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert max(stamps) <= datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_help_exits_0(capsys):
    code, _, _ = run_cli(["--help"])
    assert code == 0 and "--tracking-id-parameter" in capsys.readouterr().out


def test_items_csv_repeated_ids_are_kept_once(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("ITEM_ID,PRICE\nA,1\nB,2\nA,3\n")
    assert load_items(path) == [Item("A", 1.0), Item("B", 2.0)]
