"""The Lambda Runtime API, served to one execution environment on 127.0.0.1.

The runtime client inside the environment (AWS's ``awslambdaric``, or our small client where
it has no wheels) asks ``GET /runtime/invocation/next`` for work, runs the handler, and posts
the result to ``/response`` or ``/error``. Each environment gets a server of its own, so an
event can only ever go to the process that asked for it.

Two traps from ``shared/local-cloud-notes.md``: awslambdaric 4.2.2 crashes without a
``Content-Type`` on the event, and headers and body written separately cost about 40 ms per
invoke on a keep-alive connection (Nagle plus delayed ACK), hence one write with no delay.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

PREFIX = "/2018-06-01/runtime"


class Retired(Exception):
    """The environment is going away: stop serving its runtime client."""


@dataclass
class Delivery:
    """One event on its way into the environment."""

    request_id: str
    payload: bytes
    deadline_ms: int
    function_arn: str
    handed_over: threading.Event = field(default_factory=threading.Event)
    sent_at: float = 0.0
    """``time.perf_counter()`` when the event went out: the start of Duration."""


class RuntimeListener(Protocol):
    """What the environment does with what its runtime client says."""

    def next_delivery(self) -> Delivery | None:
        """Wait a little for an event for this environment: None if none came yet, and
        :class:`Retired` once the environment is going away."""
        ...

    def delivered(self, delivery: Delivery) -> None: ...

    def finished(self, request_id: str, body: bytes, *, error: bool) -> None: ...

    def init_failed(self, body: bytes) -> None: ...


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A runtime client killed mid-request (a crash, a timeout, SIGKILL) is an expected
        end of an environment, already reported as the invocation's outcome: no traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class RuntimeApiServer:
    """An HTTP server speaking the Runtime API to one environment's runtime client."""

    def __init__(self, listener: RuntimeListener):
        handler = type("Handler", (_Handler,), {"listener": listener})
        self._server = _Server(("127.0.0.1", 0), handler)
        # A short poll interval: retiring an environment (a timeout, a configuration change)
        # waits for this loop to notice, and the caller is waiting too.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(0.02,),
            name="lambda-runtime-api",
            daemon=True,
        )
        self._thread.start()

    @property
    def address(self) -> str:
        """``host:port``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    listener: RuntimeListener
    protocol_version = "HTTP/1.1"  # the client keeps its connection open
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None):
        lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
        all_headers = {"Content-Length": str(len(body)), **(headers or {})}
        lines += [f"{name}: {value}" for name, value in all_headers.items()]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)  # one write
        self.wfile.flush()

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        if self.path != f"{PREFIX}/invocation/next":
            self._send(404, b'{"errorMessage":"unknown path"}')
            return
        delivery = None
        try:
            while delivery is None:
                delivery = self.listener.next_delivery()
        except Retired:
            self.close_connection = True
            return
        delivery.sent_at = time.perf_counter()
        try:
            self._send(
                200,
                delivery.payload,
                {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": delivery.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(delivery.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": delivery.function_arn,
                    "Lambda-Runtime-Trace-Id": f"Root=1-{delivery.request_id[:8]}-local",
                },
            )
        except OSError:
            return  # the process is gone: the environment notices and fails the invocation
        self.listener.delivered(delivery)

    def do_POST(self) -> None:
        body = self._body()
        parts = self.path.removeprefix(PREFIX).strip("/").split("/")
        if parts == ["init", "error"]:
            self.listener.init_failed(body)
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            self.listener.finished(parts[1], body, error=parts[2] == "error")
        else:
            self._send(404, json.dumps({"errorMessage": f"unknown path {self.path}"}).encode())
            return
        self._send(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
