"""workshop.apis: the permission, the roles, and the small HTTP client notebooks 07 and 08 use."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workshop import apis, lambdas


class _Echo(BaseHTTPRequestHandler):
    """Answers every request with what it received; the first ``failures`` answers are 404."""

    failures = 0

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        server = self.server
        with server.lock:  # type: ignore[attr-defined]
            server.seen += 1  # type: ignore[attr-defined]
            failing = server.seen <= self.failures  # type: ignore[attr-defined]
        payload = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode(),
            }
        ).encode()
        self.send_response(404 if failing else 201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "a=1")
        self.send_header("Set-Cookie", "b=2")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args) -> None:
        pass


def _serve(host: str, failures: int = 0) -> Iterator[str]:
    handler = type("Echo", (_Echo,), {"failures": failures})
    httpd = ThreadingHTTPServer((host, 0), handler)
    httpd.seen, httpd.lock = 0, threading.Lock()
    thread = threading.Thread(target=httpd.serve_forever, name="test-echo", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def echo() -> Iterator[str]:
    yield from _serve("127.0.0.1")


# --- permissions and roles --------------------------------------------------------------------


def test_allow_api_gateway_adds_one_statement_and_may_be_repeated(cloud):
    name = lambdas.deploy(cloud, "hello")
    apis.allow_api_gateway(cloud, name, "abc123")
    apis.allow_api_gateway(cloud, name, "abc123")  # no ResourceConflictException
    policy = json.loads(cloud.client("lambda").get_policy(FunctionName=name)["Policy"])
    [statement] = policy["Statement"]
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    source = statement["Condition"]["ArnLike"]["AWS:SourceArn"]
    assert source == f"arn:aws:execute-api:us-east-1:{cloud.account_id}:abc123/*"


def test_allow_api_gateway_passes_other_errors_on(cloud):
    with pytest.raises(cloud.client("lambda").exceptions.ResourceNotFoundException):
        apis.allow_api_gateway(cloud, cloud.name("no-such-function"), "abc123")


def test_sqs_send_role_may_only_send_to_its_queue(cloud):
    url = cloud.create_queue("orders")
    arn = cloud.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    queue_arn = arn["Attributes"]["QueueArn"]
    role_arn = apis.sqs_send_role(cloud, queue_arn)
    assert apis.sqs_send_role(cloud, queue_arn) == role_arn  # the same role again
    iam = cloud.client("iam")
    name = role_arn.rsplit("/", 1)[-1]
    assert name == cloud.name("apigw-send-orders")
    role = iam.get_role(RoleName=name)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]} == cloud.tags
    [policy_name] = iam.list_role_policies(RoleName=name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert document["Statement"] == [
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn}
    ]
    assert f"IAM role {name}" in cloud.cleanup(quiet=True)


def test_allow_queue_polling_extends_the_execution_role(cloud):
    queue_arn = f"arn:aws:sqs:us-east-1:{cloud.account_id}:{cloud.name('jobs')}"
    apis.allow_queue_polling(cloud, queue_arn)
    apis.allow_queue_polling(cloud, queue_arn)
    iam = cloud.client("iam")
    role = lambdas.execution_role(cloud).rsplit("/", 1)[-1]
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    assert sorted(names) == sorted(["write-logs", f"poll-{cloud.name('jobs')}"])
    document = iam.get_role_policy(RoleName=role, PolicyName=f"poll-{cloud.name('jobs')}")
    statement = json.loads(json.dumps(document["PolicyDocument"]))["Statement"][0]
    assert set(statement["Action"]) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    }
    assert statement["Resource"] == queue_arn


# --- the HTTP client --------------------------------------------------------------------------


def test_request_sends_json_and_reads_the_answer(echo):
    answer = apis.request(f"{echo}/orders/7?x=1", "POST", {"item": "tea"}, {"X-Trace": "t-1"})
    assert answer.status == 201 and answer.reason == "Created"
    got = answer.json()
    assert got["method"] == "POST" and got["path"] == "/orders/7?x=1"
    assert json.loads(got["body"]) == {"item": "tea"}
    assert got["headers"]["content-type"] == "application/json"
    assert got["headers"]["x-trace"] == "t-1"
    assert answer.headers["content-type"] == "application/json"
    assert [v for k, v in answer.raw_headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert 0 < answer.elapsed_ms < 5000
    assert "201" in repr(answer)


def test_request_sends_bytes_and_text_unchanged(echo):
    assert apis.request(echo, "PUT", "plain text").json()["body"] == "plain text"
    assert apis.request(echo, "PUT", b"\x00\x01").json()["body"] == "\x00\x01"
    assert "content-type" not in apis.request(echo, "PUT", b"raw").json()["headers"]


def test_request_gives_the_local_cloud_not_found_for_an_unknown_api(server):
    answer = apis.request(f"{server.endpoint_url}/_aws/execute-api/nosuchapi/hello")
    assert answer.status == 404
    assert answer.json() == {"message": "Not Found"}


def test_request_refuses_what_is_not_an_http_url():
    with pytest.raises(ValueError, match="Not an http"):
        apis.request("ftp://example.com/file")


def test_request_has_a_bounded_wait():
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        with pytest.raises(TimeoutError):
            apis.request(f"http://127.0.0.1:{listener.getsockname()[1]}/", timeout=0.5)
    finally:
        listener.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_command_sends_the_same_request(echo):
    url = f"{echo}/say?it=1"
    command = apis.curl_command(url, "POST", {"text": "it's"}, {"X-Trace": "t 1"})
    assert command.startswith("curl -i -X POST")
    output = subprocess.run(
        ["sh", "-c", command.replace("curl -i", "curl -s", 1)],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    by_curl = json.loads(output)
    by_request = apis.request(url, "POST", {"text": "it's"}, {"X-Trace": "t 1"}).json()
    for key in ("method", "path", "body"):
        assert by_curl[key] == by_request[key]
    for header in ("content-type", "x-trace", "content-length"):
        assert by_curl["headers"][header] == by_request["headers"][header]
    assert apis.curl_command(url) == f"curl -i '{url}'"


def test_wait_until_served_returns_at_once_for_the_local_cloud(server):
    assert apis.wait_until_served(f"{server.endpoint_url}/_aws/execute-api/nosuchapi/") is None


def test_wait_until_served_polls_a_remote_api_until_it_answers():
    # 127.0.0.2 stands for a remote API here: it is not the local cloud's address.
    serving = _serve("127.0.0.2", failures=2)
    url = next(serving)
    try:
        answer = apis.wait_until_served(f"{url}/hello", timeout=10)
        assert answer is not None and answer.status == 201
    finally:
        serving.close()


def test_wait_until_served_gives_up_after_its_timeout():
    serving = _serve("127.0.0.2", failures=1000)
    url = next(serving)
    try:
        answer = apis.wait_until_served(url, timeout=1.5)
        assert answer is not None and answer.status == 404
        assert apis.wait_until_served(url, timeout=1.5, not_yet=(500,)).status == 404
    finally:
        serving.close()
