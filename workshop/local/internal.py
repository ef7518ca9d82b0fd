"""Requests the local cloud makes to itself, without a network hop.

The HTTP API's SQS integration and the event source mapping's pollers call SQS and Lambda as
AWS's own services do. They go through the same gateway a boto3 client reaches, so every
limit, error and side effect is the one a learner would see, but as a direct WSGI call.
"""

from __future__ import annotations

import io
import json
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

from workshop.local.aws_errors import SqsError
from workshop.local.wsgi import WsgiApp, call

_DATE = "20260101"


def environ_for(
    method: str,
    path: str,
    body: bytes,
    region: str,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> dict[str, Any]:
    """A WSGI environ for a request signed (in form only) for ``region``."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "REMOTE_ADDR": "127.0.0.1",
        # moto and the gateway read the region (and moto the account) from the signature.
        "HTTP_AUTHORIZATION": (
            f"AWS4-HMAC-SHA256 Credential=workshop/{_DATE}/{region}/sqs/aws4_request, "
            "SignedHeaders=host, Signature=0"
        ),
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        else:
            environ[f"HTTP_{key}"] = value
    return environ


def sqs(app: WsgiApp, action: str, params: dict[str, Any], region: str) -> dict[str, Any]:
    """Call an SQS action (JSON protocol) on ``app``; return the result or raise
    :class:`SqsError` with AWS's code and message."""
    body = json.dumps(params).encode()
    environ = environ_for(
        "POST",
        "/",
        body,
        region,
        {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"AmazonSQS.{action}",
        },
    )
    status, _headers, raw = call(app, environ)
    result = json.loads(raw or b"{}")
    if not status.startswith("2"):
        code = str(result.get("__type", "InternalFailure")).rsplit("#", 1)[-1]
        message = result.get("message") or result.get("Message") or ""
        raise SqsError(code, message, status=int(status[:3]))
    return result


ACCOUNT = DEFAULT_ACCOUNT_ID
