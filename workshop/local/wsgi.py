"""Small WSGI helpers the local cloud's services share: an answer is (status, headers, body)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from typing import Any

StartResponse = Callable[..., object]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Answer = tuple[str, list[tuple[str, str]], bytes]

REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


def call(app: WsgiApp, environ: dict[str, Any], body: bytes | None = None) -> Answer:
    """Call a WSGI app (moto) and collect its whole answer; ``body`` replaces the request's."""
    if body is not None:
        environ = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
        captured["status"], captured["headers"] = status, headers

    chunks = app(environ, start_response)
    try:
        raw = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
    return captured["status"], [*headers, ("Content-Length", str(len(raw)))], raw


def read_body(environ: dict[str, Any]) -> bytes:
    """The request body; it is put back so that moto can still read it."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    return body


def json_answer(
    status: int,
    result: Any,
    headers: list[tuple[str, str]] | None = None,
    content_type: str = "application/json",
) -> Answer:
    payload = json.dumps(result).encode()
    return (
        f"{status} {REASONS.get(status, '')}".rstrip(),
        [("Content-Type", content_type), ("Content-Length", str(len(payload))), *(headers or [])],
        payload,
    )


def respond(start_response: StartResponse, answer: Answer) -> Iterable[bytes]:
    status, headers, body = answer
    start_response(status, headers)
    return [body]
