"""The local HTTP API server survives malformed requests and clients that go away, and keeps
serving: every request below is sent over a raw socket, then a normal request must still work."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request

import test_http_api
from test_http_api import call, echoed

# The fixtures this module shares with test_http_api.
role = test_http_api.role
function = test_http_api.function
api = test_http_api.quick_api  # a quick-created API in front of the echo function


def exchange(port: int, data: bytes, *, close_after_send: bool = False) -> bytes:
    """Send raw bytes; return whatever comes back before the server closes (bounded)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(data)
        except OSError:
            return b""
        if close_after_send:
            return b""
        sock.shutdown(socket.SHUT_WR)
        received = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            received += chunk
        return received


def status_of(raw: bytes) -> int | None:
    if not raw.startswith(b"HTTP/"):
        return None
    return int(raw.split(b" ", 2)[1])


def malformed_requests(path: str) -> dict[str, tuple[bytes, set[int | None]]]:
    """Name: (the bytes, the statuses we accept; None means the server just closed)."""
    host = b"Host: 127.0.0.1\r\n"
    p = path.encode()
    return {
        "binary garbage": (b"\x00\xff\xfe\x16\x03\x01 nonsense\r\n\r\n", {400, None}),
        "unknown method": (b"FROB " + p + b"/x HTTP/1.1\r\n" + host + b"\r\n", {200}),
        "lower-case method": (b"get " + p + b"/x HTTP/1.1\r\n" + host + b"\r\n", {200}),
        "HTTP/0.9": (b"GET " + p + b"/x\r\n\r\n", {None, 400, 200}),
        "unsupported version": (
            b"GET " + p + b"/x HTTP/9.9\r\n" + host + b"\r\n",
            {505, 400, None},
        ),
        "header without colon": (
            b"GET " + p + b"/x HTTP/1.1\r\n" + host + b"this is not a header\r\n\r\n",
            {200, 400},
        ),
        "huge header": (
            b"GET " + p + b"/x HTTP/1.1\r\n" + host + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n",
            {400, 431, None},
        ),
        "many headers": (
            b"GET "
            + p
            + b"/x HTTP/1.1\r\n"
            + host
            + b"".join(b"X-H%d: v\r\n" % i for i in range(150))
            + b"\r\n",
            {431, 400, None},
        ),
        "non-latin header value": (
            b"GET " + p + b"/x HTTP/1.1\r\n" + host + "X-Name: Zoë ☃\r\n".encode() + b"\r\n",
            {200},
        ),
        "invalid utf-8 path": (b"GET " + p + b"/\xff\xfe%FF HTTP/1.1\r\n" + host + b"\r\n", {200}),
        "bad percent encoding": (b"GET " + p + b"/%zz%?a=%%% HTTP/1.1\r\n" + host + b"\r\n", {200}),
        "very long path": (
            b"GET " + p + b"/" + b"a" * 70_000 + b" HTTP/1.1\r\n" + host + b"\r\n",
            {200, 400, 414, None},
        ),
        "content-length not a number": (
            b"POST " + p + b"/x HTTP/1.1\r\n" + host + b"Content-Length: abc\r\n\r\nhello",
            {200, 400},
        ),
        "negative content-length": (
            b"POST " + p + b"/x HTTP/1.1\r\n" + host + b"Content-Length: -5\r\n\r\nhello",
            {200, 400},
        ),
        "body shorter than its length": (
            b"POST " + p + b"/x HTTP/1.1\r\n" + host + b"Content-Length: 100\r\n\r\nshort",
            {200, None},
        ),
        "bad chunk size": (
            b"POST "
            + p
            + b"/x HTTP/1.1\r\n"
            + host
            + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
            {400},
        ),
        "valid chunked body": (
            b"POST "
            + p
            + b"/x HTTP/1.1\r\n"
            + host
            + b"Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"5\r\nhello\r\n0\r\n\r\n",
            {200},
        ),
        "over 10 MB announced, never sent": (
            b"POST " + p + b"/x HTTP/1.1\r\n" + host + b"Content-Length: 20000000\r\n\r\n",
            {413},
        ),
        "invalid json body": (
            b"POST "
            + p
            + b"/x HTTP/1.1\r\n"
            + host
            + b"Content-Type: application/json\r\nContent-Length: 9\r\n\r\n{not json",
            {200},
        ),
        "unknown api": (b"GET /_aws/execute-api/nosuchapi/x HTTP/1.1\r\n" + host + b"\r\n", {404}),
        "no api id": (b"GET /_aws/execute-api/ HTTP/1.1\r\n" + host + b"\r\n", {404}),
    }


def test_malformed_requests_do_not_stop_the_server(server, api):
    path = "/_aws/execute-api/" + api["ApiId"]
    for name, (data, accepted) in malformed_requests(path).items():
        raw = exchange(server.port, data)
        assert status_of(raw) in accepted, f"{name}: {raw[:200]!r}"
        if status_of(raw) == 413:
            assert raw.endswith(b'{"message":"Request Entity Too Large"}'), name
        assert call(api["ApiEndpoint"] + "/after")[0] == 200, f"not serving after {name}"


def test_clients_that_disconnect(server, api):
    path = "/_aws/execute-api/" + api["ApiId"]
    head = f"POST {path}/x HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
    for data in (
        head,  # headers never finished
        head + b"Content-Length: 1000\r\n\r\npartial",  # body cut short
        head + b"Content-Length: 5\r\n\r\nhello",  # gone before the answer
        f"GET {path}/x?mode=sleep&seconds=0.3 HTTP/1.1\r\nHost: a\r\n\r\n".encode(),
    ):
        exchange(server.port, data, close_after_send=True)
    assert call(api["ApiEndpoint"] + "/after")[0] == 200


def test_a_burst_of_concurrent_clients(server, api):
    """Many requests at once, some abandoned half-way, all others answered."""
    results: list[int] = []

    def good() -> None:
        results.append(call(api["ApiEndpoint"] + "/burst")[0])

    def rude() -> None:
        exchange(server.port, b"POST /_aws/execute-api/x HTTP/1.1\r\n", close_after_send=True)

    threads = [threading.Thread(target=good if i % 3 else rude) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [200] * 20
    event = echoed(api["ApiEndpoint"] + "/final?x=1")
    assert event["queryStringParameters"] == {"x": "1"}
    with urllib.request.urlopen(f"{server.endpoint_url}/moto-api/", timeout=5) as answer:
        assert answer.status == 200
    assert json.loads(call(api["ApiEndpoint"] + "/x?mode=return", "POST", b"[1]")[2]) == [1]
