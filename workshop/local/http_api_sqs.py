"""The SQS-SendMessage integration of HTTP APIs: request parameters, selection expressions, the
role's check, and the answer SQS gives.

AWS: "Integration subtype reference" and "Transform API requests and responses for HTTP APIs"
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-aws-services-reference.html,
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-parameter-mapping.html).
A value is static text, a selection expression (``$request.body.order.id``), or text with
``${request.path.id}`` parts.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from urllib.parse import urlparse

from workshop.local.http_api_events import ApiRequest, clf_time

SEND_PARAMETERS = (
    "QueueUrl",
    "MessageBody",
    "DelaySeconds",
    "MessageAttributes",
    "MessageDeduplicationId",
    "MessageGroupId",
    "Region",
)
_EMBEDDED = re.compile(r"\$\{([^}]+)\}")
_INDEX = re.compile(r"^([^\[\]]*)((?:\[\d+\])*)$")


class MappingError(Exception):
    """A request parameter could not be built (a missing required value)."""


def resolve(expression: str, request: ApiRequest) -> str | None:
    """The value a selection expression selects from a request, or None if there is none."""
    if expression == "$request.body":
        return request.body.decode("utf-8", "replace") if request.body else None
    if expression.startswith("$request.body."):
        return _json_path(request.body, expression.removeprefix("$request.body."))
    for prefix, source in (
        ("$request.header.", {k.lower(): v for k, v in request.headers.items()}),
        ("$request.querystring.", _query(request)),
        ("$request.path.", request.path_parameters),
        ("$stageVariables.", request.stage_variables),
    ):
        if expression.startswith(prefix):
            name = expression.removeprefix(prefix)
            return source.get(name.lower() if prefix == "$request.header." else name)
    if expression.startswith("$context."):
        return _context(request).get(expression.removeprefix("$context."))
    return None


def value_of(template: str, request: ApiRequest) -> str | None:
    """A parameter's value: a whole selection expression, or text with ``${...}`` parts."""
    if template.startswith("$") and not template.startswith("${"):
        return resolve(template, request)
    if "${" not in template:
        return template
    return _EMBEDDED.sub(lambda m: resolve("$" + m.group(1), request) or "", template)


def send_message_params(
    parameters: dict[str, str], request: ApiRequest, default_region: str
) -> tuple[dict[str, Any], str]:
    """SendMessage's parameters and the region to call, from the integration's mapping."""
    values = {}
    for name, template in (parameters or {}).items():
        value = value_of(str(template), request)
        if value is not None and value != "":
            values[name] = value
    for required in ("QueueUrl", "MessageBody"):
        if required not in values:
            raise MappingError(required)
    params: dict[str, Any] = {"QueueUrl": values["QueueUrl"], "MessageBody": values["MessageBody"]}
    if "DelaySeconds" in values:
        delay = values["DelaySeconds"]
        params["DelaySeconds"] = int(delay) if delay.lstrip("-").isdigit() else delay
    if "MessageAttributes" in values:
        try:
            params["MessageAttributes"] = json.loads(values["MessageAttributes"])
        except ValueError:
            raise MappingError("MessageAttributes") from None
    for name in ("MessageDeduplicationId", "MessageGroupId"):
        if name in values:
            params[name] = values[name]
    return params, values.get("Region", default_region)


def queue_arn(queue_url: str, region: str) -> str:
    parts = urlparse(queue_url).path.strip("/").split("/")
    account, name = [*parts, "", ""][:2]
    return f"arn:aws:sqs:{region}:{account}:{name}"


def send_result(result: dict[str, Any]) -> dict[str, Any]:
    """SendMessage's answer in the JSON form the integration returns it."""
    return {
        "SendMessageResponse": {
            "ResponseMetadata": {"RequestId": str(uuid.uuid4())},
            "SendMessageResult": {
                "MD5OfMessageAttributes": result.get("MD5OfMessageAttributes"),
                "MD5OfMessageBody": result.get("MD5OfMessageBody"),
                "MD5OfMessageSystemAttributes": result.get("MD5OfMessageSystemAttributes"),
                "MessageId": result.get("MessageId"),
                "SequenceNumber": result.get("SequenceNumber"),
            },
        }
    }


def error_result(code: str, message: str) -> dict[str, Any]:
    """An SQS error in the same JSON form."""
    sender = not code.startswith(("InternalError", "ServiceUnavailable"))
    return {
        "Error": {"Code": code, "Message": message, "Type": "Sender" if sender else "Receiver"},
        "RequestId": str(uuid.uuid4()),
    }


def _query(request: ApiRequest) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in request.query_pairs():
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def _context(request: ApiRequest) -> dict[str, str]:
    return {
        "requestId": request.request_id,
        "accountId": request.account,
        "apiId": request.api_id,
        "stage": request.stage,
        "routeKey": request.route_key,
        "httpMethod": request.method,
        "path": request.path,
        "protocol": request.protocol,
        "domainName": request.domain_name,
        "requestTime": clf_time(request.epoch),
        "requestTimeEpoch": str(int(request.epoch * 1000)),
        "identity.sourceIp": request.source_ip,
        "identity.userAgent": request.headers.get("user-agent", ""),
    }


def _json_path(body: bytes, path: str) -> str | None:
    """``order.items[0].id`` in a JSON body; a string is returned as is, anything else as
    JSON."""
    try:
        value: Any = json.loads(body)
    except ValueError:
        return None
    for part in path.split("."):
        match = _INDEX.match(part)
        if match is None:
            return None
        key, indexes = match.groups()
        if key:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        for index in re.findall(r"\[(\d+)\]", indexes):
            if not isinstance(value, list) or int(index) >= len(value):
                return None
            value = value[int(index)]
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
