"""WaitCondition signals, sent to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lambdas.personalize_resources import wait_condition
from lambdas.personalize_resources.wait_condition import SignalError, signal


class RecordingServer:
    """Answers each request with the next queued status code (200 once the queue is empty)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.responses: list[int] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self):
                length = int(self.headers.get("Content-Length", "0"))
                recorder.requests.append({
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": self.rfile.read(length),
                })
                code = recorder.responses.pop(0) if recorder.responses else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT

            def log_message(self, *args):  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def server():
    with RecordingServer() as running:
        yield running


@pytest.fixture
def sleeps():
    recorded: list[float] = []
    return recorded


def presigned_like(server) -> str:
    return (
        f"{server.url}/arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/s/id/Handle"
        "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc123"
    )


def test_success_signal_is_a_put_of_the_json_document(server, sleeps):
    url = presigned_like(server)
    status = signal(url, "SUCCESS", "recommender ACTIVE", "recommender-1", "arn:x",
                    sleep=sleeps.append)

    assert status == 200
    assert sleeps == []
    [request] = server.requests
    assert request["method"] == "PUT"
    # The query string (the presigned signature) reaches the server untouched.
    assert request["path"] == url[len(server.url):]
    assert json.loads(request["body"]) == {
        "Status": "SUCCESS", "Reason": "recommender ACTIVE", "UniqueId": "recommender-1",
        "Data": "arn:x",
    }


def test_content_type_is_sent_empty_for_the_presigned_url(server):
    signal(presigned_like(server), "FAILURE", "CREATE FAILED: bad data", "r-1")

    headers = {name.lower(): value for name, value in server.requests[0]["headers"].items()}
    assert headers["content-type"] == ""
    assert int(headers["content-length"]) == len(server.requests[0]["body"])


def test_data_defaults_to_empty(server):
    signal(server.url + "/h", "FAILURE", "why", "u")
    assert json.loads(server.requests[0]["body"])["Data"] == ""


def test_server_error_is_retried_with_backoff(server, sleeps):
    server.responses = [500, 503]

    assert signal(server.url + "/h", "SUCCESS", "ok", "u", sleep=sleeps.append) == 200

    assert len(server.requests) == 3
    assert len({r["body"] for r in server.requests}) == 1, "every attempt sends the same signal"
    assert sleeps == [1.0, 2.0]


def test_gives_up_after_the_last_attempt(server, sleeps):
    server.responses = [500] * 10

    with pytest.raises(SignalError, match="after 3 attempts.*500") as raised:
        signal(server.url + "/h", "SUCCESS", "ok", "u", attempts=3, sleep=sleeps.append)

    assert raised.value.retryable, "a later attempt may still get through"
    assert len(server.requests) == 3
    assert sleeps == [1.0, 2.0]


def test_client_error_is_not_retried(server, sleeps):
    server.responses = [403]

    with pytest.raises(SignalError, match="refused.*403") as raised:
        signal(server.url + "/h", "SUCCESS", "ok", "u", sleep=sleeps.append)

    assert not raised.value.retryable
    assert len(server.requests) == 1
    assert sleeps == []


def test_connection_refused_is_retried_then_reported(sleeps):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(SignalError, match="after 2 attempts") as raised:
        signal(f"http://127.0.0.1:{port}/h", "SUCCESS", "ok", "u", attempts=2, timeout=1,
               sleep=sleeps.append)
    assert sleeps == [1.0]
    assert raised.value.retryable


def test_long_reasons_are_truncated(server):
    signal(server.url + "/h", "FAILURE", "x" * 10_000, "u")
    reason = json.loads(server.requests[0]["body"])["Reason"]
    assert len(reason) == wait_condition.MAX_REASON_CHARS
    assert reason.endswith("...")


@pytest.mark.parametrize(
    "arguments, message",
    [
        (("https://h/x", "DONE", "r", "u"), "status must be SUCCESS or FAILURE"),
        (("https://h/x", "SUCCESS", "r", ""), "unique_id is required"),
        (("file:///etc/passwd", "SUCCESS", "r", "u"), "http"),
    ],
)
def test_invalid_arguments_are_refused_before_sending(arguments, message):
    with pytest.raises(ValueError, match=message):
        signal(*arguments)


# --- the handle reference: the URL is read from CloudFormation, never passed along -------------

HANDLE = {"StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1", "LogicalResourceId": "ReadyHandleAbc"}


def _cloudformation_client():
    import boto3

    return boto3.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1").client("cloudformation")


def test_handle_url_reads_the_handles_physical_id():
    from botocore.stub import Stubber

    from lambdas.personalize_resources import wait_condition

    client = _cloudformation_client()
    url = "https://cloudformation-waitcondition-us-east-1.s3.amazonaws.com/arn%3Aaws%3A.../ReadyHandleAbc?X-Amz-Signature=x"
    detail = {
        "LogicalResourceId": "ReadyHandleAbc", "PhysicalResourceId": url, "ResourceType": "AWS::CloudFormation::WaitConditionHandle",
        "LastUpdatedTimestamp": "2026-01-01T00:00:00Z", "ResourceStatus": "CREATE_COMPLETE",
    }
    with Stubber(client) as stubber:
        stubber.add_response(
            "describe_stack_resource", {"StackResourceDetail": detail},
            {"StackName": HANDLE["StackId"], "LogicalResourceId": "ReadyHandleAbc"},
        )
        assert wait_condition.handle_url(HANDLE, client) == url


@pytest.mark.parametrize(("code", "status", "retryable"), [("ValidationError", 400, False), ("Throttling", 400, True), ("InternalFailure", 500, True)])
def test_handle_url_errors_are_signal_errors(code, status, retryable):
    from botocore.stub import Stubber

    from lambdas.personalize_resources import wait_condition

    client = _cloudformation_client()
    with Stubber(client) as stubber:
        stubber.add_client_error("describe_stack_resource", code, "nope", http_status_code=status)
        with pytest.raises(wait_condition.SignalError) as caught:
            wait_condition.handle_url(HANDLE, client)
    assert caught.value.retryable is retryable
