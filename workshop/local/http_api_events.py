"""The Lambda proxy integration of HTTP APIs: the events API Gateway builds (payload formats 2.0
and 1.0) and how it turns a function's answer into an HTTP response.

Field for field after "Create AWS Lambda proxy integrations for HTTP APIs"
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from workshop.local.wsgi import Answer

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_COOKIE_SPLIT = re.compile(r";|, (?=[^=;, ]+=)")


class MalformedResponse(Exception):
    """The function answered something API Gateway cannot turn into an HTTP response."""


def new_request_id() -> str:
    """An id in the form HTTP APIs use (``apigw-requestid``): 16 characters of base64."""
    return base64.b64encode(os.urandom(11)).decode()


def clf_time(epoch: float) -> str:
    """``04/Mar/2020:19:15:17 +0000``: the form of ``requestContext.time``."""
    t = time.gmtime(epoch)
    return (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def is_text(content_type: str, content_encoding: str) -> bool:
    """Whether API Gateway passes a request body as text rather than base64.

    HTTP APIs have no binary media types: a body is text only when its type is ``text/*`` or
    JSON and it is not content-encoded (AWS's own slides: "set Content-Type to application/json
    or text/*, otherwise the body is base64-encoded by default"; a form post arrives base64).
    """
    if content_encoding and content_encoding.lower() != "identity":
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media == "application/json"


@dataclass
class ApiRequest:
    """One request to an HTTP API, as the events need it."""

    method: str
    path: str  # the whole path, stage included ("/prod/hello")
    query: str
    headers: dict[str, str]  # lower-case names, duplicates comma-joined
    body: bytes
    source_ip: str
    protocol: str
    api_id: str
    account: str
    region: str
    domain_name: str
    stage: str = "$default"
    route_key: str = "$default"
    route_path: str = ""
    path_parameters: dict[str, str] = field(default_factory=dict)
    stage_variables: dict[str, str] = field(default_factory=dict)
    request_id: str = field(default_factory=new_request_id)
    epoch: float = field(default_factory=time.time)

    def body_for_event(self) -> tuple[str | None, bool]:
        """The body as the event carries it, and whether it is base64."""
        if not self.body:
            return None, False
        if is_text(self.headers.get("content-type", ""), self.headers.get("content-encoding", "")):
            try:
                return self.body.decode("utf-8"), False
            except UnicodeDecodeError:
                pass
        return base64.b64encode(self.body).decode(), True

    def query_pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)


def event_v2(request: ApiRequest) -> dict[str, Any]:
    """The payload format 2.0 event."""
    headers = dict(request.headers)
    cookie = headers.pop("cookie", None)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": request.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
    }
    if cookie:
        # One Cookie header holds "a=1; b=2"; repeated headers arrive joined by ", ".
        event["cookies"] = [c.strip() for c in _COOKIE_SPLIT.split(cookie) if c.strip()]
    event["headers"] = headers
    pairs = request.query_pairs()
    if pairs:
        joined: dict[str, str] = {}
        for name, value in pairs:
            joined[name] = f"{joined[name]},{value}" if name in joined else value
        event["queryStringParameters"] = joined
    event["requestContext"] = {
        "accountId": request.account,
        "apiId": request.api_id,
        "domainName": request.domain_name,
        "domainPrefix": request.domain_name.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": request.headers.get("user-agent", ""),
        },
        "requestId": request.request_id,
        "routeKey": request.route_key,
        "stage": request.stage,
        "time": clf_time(request.epoch),
        "timeEpoch": int(request.epoch * 1000),
    }
    body, encoded = request.body_for_event()
    if body is not None:
        event["body"] = body
    if request.path_parameters:
        event["pathParameters"] = request.path_parameters
    event["isBase64Encoded"] = encoded
    if request.stage_variables:
        event["stageVariables"] = request.stage_variables
    return event


def event_v1(request: ApiRequest) -> dict[str, Any]:
    """The payload format 1.0 event (the REST-style one)."""
    headers = dict(request.headers)
    pairs = request.query_pairs()
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value  # the last value wins, as in format 1.0
        multi.setdefault(name, []).append(value)
    body, encoded = request.body_for_event()
    resource = request.route_path or request.route_key
    return {
        "version": "1.0",
        "resource": resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": single or None,
        "multiValueQueryStringParameters": multi or None,
        "requestContext": {
            "accountId": request.account,
            "apiId": request.api_id,
            "domainName": request.domain_name,
            "domainPrefix": request.domain_name.split(".", 1)[0],
            "extendedRequestId": request.request_id,
            "httpMethod": request.method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": request.source_ip,
                "user": None,
                "userAgent": request.headers.get("user-agent", ""),
                "userArn": None,
            },
            "path": request.path,
            "protocol": request.protocol,
            "requestId": request.request_id,
            "requestTime": clf_time(request.epoch),
            "requestTimeEpoch": int(request.epoch * 1000),
            "resourceId": request.route_key,
            "resourcePath": resource,
            "stage": request.stage,
        },
        "pathParameters": request.path_parameters or None,
        "stageVariables": request.stage_variables or None,
        "body": body,
        "isBase64Encoded": encoded,
    }


def lambda_answer(payload: bytes, version: str, request_id: str) -> Answer:
    """The HTTP response for a function's successful answer; raise
    :class:`MalformedResponse` for one API Gateway refuses."""
    try:
        result = json.loads(payload or b"null")
    except ValueError:
        raise MalformedResponse("not JSON") from None
    if version == "2.0" and not (isinstance(result, dict) and "statusCode" in result):
        # 2.0 infers the response: valid JSON without a statusCode is a 200 whose body is that
        # JSON, or the text itself for a string (AWS's example: "Hello from Lambda!").
        body = result.encode() if isinstance(result, str) else payload or b"null"
        return http_answer(200, [("Content-Type", "application/json")], body, request_id)
    if not isinstance(result, dict) or "statusCode" not in result:
        raise MalformedResponse("no statusCode")
    allowed = {"statusCode", "headers", "body", "isBase64Encoded", "cookies", "multiValueHeaders"}
    if version == "1.0" and set(result) - allowed:
        raise MalformedResponse(f"unexpected fields {sorted(set(result) - allowed)}")
    status = result["statusCode"]
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponse("bad statusCode")
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((str(name), _header_value(value)))
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(multi, dict):
        raise MalformedResponse("multiValueHeaders is not an object")
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse("a multiValueHeaders value is not a list")
        headers.extend((str(name), _header_value(v)) for v in values)
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list):
        raise MalformedResponse("cookies is not a list")
    headers.extend(("Set-Cookie", _header_value(c)) for c in cookies)
    body = result.get("body")
    if body is None:
        raw = b""
    elif isinstance(body, str):
        if result.get("isBase64Encoded") is True:
            try:
                raw = base64.b64decode(body, validate=True)
            except ValueError:
                raise MalformedResponse("body is not base64") from None
        else:
            raw = body.encode()
    else:
        raise MalformedResponse("body is not a string")
    return http_answer(status, headers, raw, request_id)


def _header_value(value: Any) -> str:
    if isinstance(value, (dict, list)) or value is None:
        raise MalformedResponse("a header value is not a scalar")
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if "\r" in text or "\n" in text:
        raise MalformedResponse("a header value contains a line break")
    return text


def http_answer(
    status: int, headers: list[tuple[str, str]], body: bytes, request_id: str
) -> Answer:
    kept = [(k, v) for k, v in headers if k.lower() not in ("content-length", "apigw-requestid")]
    kept += [("Content-Length", str(len(body))), ("apigw-requestid", request_id)]
    return f"{status} {_REASONS.get(status, 'Status')}", kept, body


def message_answer(status: int, message: str, request_id: str) -> Answer:
    """API Gateway's own error responses: ``{"message": ...}``."""
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return http_answer(status, [("Content-Type", "application/json")], body, request_id)


_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
