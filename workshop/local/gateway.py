"""The local cloud's front door: a WSGI app that checks requests the way AWS would, then hands
them to moto.

Everything a client sends arrives here first. Requests moto already answers like AWS go
straight through; SQS requests (JSON protocol, ``X-Amz-Target: AmazonSQS.<Action>``) are first
checked against AWS's limits. Later parts of the data plane (Lambda, API Gateway) hook in here.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterable
from typing import Any

from workshop.local.aws_errors import SqsError, StartResponse
from workshop.local.moto_state import MotoQueues
from workshop.local.sqs_limits import Checked, DeletedQueues, check_request

WsgiApp = Any
_REGION_IN_AUTH = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")


class Gateway:
    """WSGI app in front of moto's server app."""

    def __init__(self, moto_app: WsgiApp, default_region: str):
        self.moto_app = moto_app
        self.default_region = default_region
        self.deleted_queues = DeletedQueues()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("AmazonSQS."):
            return self._sqs(target.removeprefix("AmazonSQS."), environ, start_response)
        return self.moto_app(environ, start_response)

    def _region(self, environ: dict[str, Any]) -> str:
        match = _REGION_IN_AUTH.search(environ.get("HTTP_AUTHORIZATION", ""))
        return match.group(1) if match else self.default_region

    def _sqs(
        self, action: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        body = _read_body(environ)
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = None
        if not isinstance(params, dict):  # let moto answer malformed input its own way
            _replace_body(environ, body)
            return self.moto_app(environ, start_response)
        region = self._region(environ)
        queues = MotoQueues(region, self.deleted_queues)
        try:
            checked = check_request(action, params, queues)
            if action in _ANSWERED_HERE:
                return _json(start_response, _ANSWERED_HERE[action](checked, queues))
        except SqsError as error:
            return error.wsgi(start_response)
        if checked.failed:
            return self._batch_with_failures(checked, environ, start_response)
        _replace_body(environ, body)
        if action != "DeleteQueue":
            return self.moto_app(environ, start_response)
        status, headers, raw = _call(self.moto_app, environ)
        if status.startswith("200"):
            self.deleted_queues.record(region, str(params.get("QueueUrl", "")).rsplit("/", 1)[-1])
        start_response(status, headers)
        return [raw]

    def _batch_with_failures(
        self, checked: Checked, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """Forward the entries that passed, then add the failed ones to moto's answer."""
        result: dict[str, Any] = {"Successful": [], "Failed": []}
        status, headers = "200 OK", [("Content-Type", "application/x-amz-json-1.0")]
        if not checked.nothing_left:
            _replace_body(environ, json.dumps(checked.params).encode())
            status, headers, raw = _call(self.moto_app, environ)
            if not status.startswith("200"):
                start_response(status, headers)
                return [raw]
            result = json.loads(raw)
        result.setdefault("Failed", []).extend(checked.failed)
        payload = json.dumps(result).encode()
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(payload)))])
        return [payload]


def _change_visibility(checked: Checked, queues: MotoQueues) -> dict[str, Any]:
    params = checked.params
    queues.change_visibility(
        params["QueueUrl"], params["ReceiptHandle"], int(params["VisibilityTimeout"])
    )
    return {}


def _change_visibility_batch(checked: Checked, queues: MotoQueues) -> dict[str, Any]:
    successful, failed = [], list(checked.failed)
    for entry in checked.params["Entries"]:
        try:
            queues.change_visibility(
                checked.params["QueueUrl"], entry["ReceiptHandle"], int(entry["VisibilityTimeout"])
            )
        except SqsError as error:
            if error.name == "QueueDoesNotExist":
                raise
            failed.append(error.batch_entry(entry["Id"]))
        else:
            successful.append({"Id": entry["Id"]})
    return {"Successful": successful, "Failed": failed}


# SQS actions the gateway answers itself instead of moto, and why:
_ANSWERED_HERE = {
    # moto counts the 12-hour visibility limit from the send, AWS from the receive
    "ChangeMessageVisibility": _change_visibility,
    "ChangeMessageVisibilityBatch": _change_visibility_batch,
}


def _json(start_response: StartResponse, result: dict[str, Any]) -> Iterable[bytes]:
    payload = json.dumps(result).encode()
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("Content-Length", str(len(payload))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ],
    )
    return [payload]


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length > 0 else b""


def _replace_body(environ: dict[str, Any], body: bytes) -> None:
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def _call(app: WsgiApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Call a WSGI app and collect its whole response."""
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
        captured["status"], captured["headers"] = status, headers

    chunks = app(environ, start_response)
    try:
        raw = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close:
            close()
    return captured["status"], captured["headers"], raw
