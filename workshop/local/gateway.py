"""The local cloud's front door: a WSGI app that routes each request to what answers it.

SQS requests (JSON protocol, ``X-Amz-Target: AmazonSQS.<Action>``) go to the workshop's SQS
front end, which enforces AWS's limits and adds what moto lacks; the workshop's own control
calls live under ``/_workshop/``; everything else goes straight to moto. Later parts of the
data plane (Lambda, API Gateway) hook in here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from workshop.local.aws_errors import StartResponse
from workshop.local.sqs_service import Answer, SqsFrontEnd, WsgiApp

_REGION_IN_AUTH = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")
CONTROL_PREFIX = "/_workshop/"


class Gateway:
    """WSGI app in front of moto's server app."""

    def __init__(self, moto_app: WsgiApp, default_region: str):
        self.moto_app = moto_app
        self.default_region = default_region
        self.sqs = SqsFrontEnd(moto_app)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("AmazonSQS."):
            params = _json_body(environ)
            if isinstance(params, dict):
                answer = self.sqs.handle(
                    target.removeprefix("AmazonSQS."), params, self._region(environ), environ
                )
                return _respond(start_response, answer)
        if environ.get("PATH_INFO", "").startswith(CONTROL_PREFIX):
            return _respond(start_response, self._control(environ))
        return self.moto_app(environ, start_response)

    def close(self) -> None:
        """Stop background work (message move tasks) before the server goes away."""
        self.sqs.move_tasks.stop_all()

    def _region(self, environ: dict[str, Any]) -> str:
        match = _REGION_IN_AUTH.search(environ.get("HTTP_AUTHORIZATION", ""))
        return match.group(1) if match else self.default_region

    def _control(self, environ: dict[str, Any]) -> Answer:
        """The workshop's own calls: ``POST /_workshop/sqs/realism``."""
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if (method, path) != ("POST", f"{CONTROL_PREFIX}sqs/realism"):
            return _plain(404, {"message": f"No workshop control call {method} {path}"})
        request = _json_body(environ)
        if not isinstance(request, dict):
            return _plain(400, {"message": "The body must be a JSON object."})
        region = str(request.get("Region") or self.default_region)
        try:
            return _plain(200, self.sqs.configure_realism(request, region))
        except (ValueError, TypeError) as error:
            return _plain(400, {"message": str(error)})


def _json_body(environ: dict[str, Any]) -> Any:
    """The request body parsed as JSON (None if it is not); the body is put back for moto."""
    import io

    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    try:
        return json.loads(body or b"{}")
    except ValueError:
        return None


def _plain(status: int, result: dict[str, Any]) -> Answer:
    payload = json.dumps(result).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    return f"{status} {reason}", headers, payload


def _respond(start_response: StartResponse, answer: Answer) -> Iterable[bytes]:
    status, headers, body = answer
    start_response(status, headers)
    return [body]
