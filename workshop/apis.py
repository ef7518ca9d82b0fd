"""API Gateway helpers the notebooks share: the permissions and roles an HTTP API needs, and a
small HTTP client to call it.

None of this is what notebooks 07 and 08 teach (that is the ``apigatewayv2`` calls themselves),
so it lives here; all of it is plain boto3 and works the same on the local and the aws backend.
"""

from __future__ import annotations

import http.client
import json
import shlex
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from workshop.lambdas import execution_role, put_policy, trust_policy

if TYPE_CHECKING:
    from workshop.backends import Backend

APIGATEWAY_TRUST_POLICY = trust_policy("apigateway.amazonaws.com")
QUEUE_POLLING_ACTIONS = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
]
IAM_PROPAGATION_S = 10.0
"""How long a new IAM role is given before API Gateway is expected to be able to assume it."""

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
USER_AGENT = "workshop-apis (Python http.client)"
"""Sent unless the caller sets one: API Gateway passes it on (``requestContext.http.userAgent``)."""


# --- permissions and roles ------------------------------------------------------------------


def allow_api_gateway(cloud: Backend, function_name: str, api_id: str) -> None:
    """Let the HTTP API ``api_id`` invoke the function (a resource-based policy statement).

    Without it API Gateway answers 500: it is the function's policy, not the API, that says
    who may call it. Safe to call twice (the statement id is fixed per API).
    """
    aws_lambda, statement_id = cloud.client("lambda"), f"apigateway-{api_id}"
    try:
        policy = json.loads(aws_lambda.get_policy(FunctionName=function_name)["Policy"])
        if any(s.get("Sid") == statement_id for s in policy.get("Statement", [])):
            return
    except aws_lambda.exceptions.ResourceNotFoundException:
        pass  # no policy yet (or no function: add_permission says which)
    source_arn = f"arn:aws:execute-api:{cloud.region}:{cloud.account_id}:{api_id}/*"
    try:
        aws_lambda.add_permission(
            FunctionName=function_name,
            StatementId=statement_id,
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=source_arn,
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceConflictException":
            raise


def sqs_send_role(cloud: Backend, queue_arn: str) -> str:
    """A role API Gateway assumes to send to one queue, allowed nothing else; return its ARN.

    The SQS-SendMessage integration takes it as ``CredentialsArn``. Created once per queue
    name; on AWS a new role needs a few seconds before API Gateway can assume it, so a new
    one is given :data:`IAM_PROPAGATION_S` seconds.
    """
    iam = cloud.client("iam")
    queue_name = queue_arn.rsplit(":", 1)[-1].removesuffix(".fifo")
    name = cloud.name(f"apigw-send-{queue_name.removeprefix(cloud.prefix)}")[:64]
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
        created = False
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
        arn = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(APIGATEWAY_TRUST_POLICY),
            Description="API Gateway may send to one queue (workshop)",
            Tags=cloud.tag_list(),
        )["Role"]["Arn"]
        created = True
    put_policy(iam, name, "send-message", "sqs:SendMessage", queue_arn)
    if created and cloud.kind == "aws":
        time.sleep(IAM_PROPAGATION_S)
    return arn


def allow_queue_polling(cloud: Backend, queue_arn: str) -> None:
    """Let the participant's functions read and delete from a queue.

    An event source mapping polls with the function's execution role, and AWS refuses to
    create the mapping unless that role may receive from the queue. One inline policy per
    queue; calling again replaces it with the same document. On AWS the new policy is given
    :data:`IAM_PROPAGATION_S` seconds to reach Lambda.
    """
    role_name = execution_role(cloud).rsplit("/", 1)[-1]
    queue_name = queue_arn.rsplit(":", 1)[-1]
    put_policy(
        cloud.client("iam"), role_name, f"poll-{queue_name}"[:128], QUEUE_POLLING_ACTIONS, queue_arn
    )
    if cloud.kind == "aws":  # IAM is eventually consistent; Lambda checks the role at once
        time.sleep(IAM_PROPAGATION_S)


def lambda_routes(
    cloud: Backend, api_id: str, function_arn: str, routes: dict[str, str]
) -> list[str]:
    """Route each key of ``routes`` (``{"GET /orders": "2.0"}``) to its own Lambda proxy
    integration of the function with that payload format, and add the ``$default`` stage with
    auto-deploy; return the API's route keys. The same calls notebook 07 makes one by one.
    """
    v2 = cloud.client("apigatewayv2")
    for route_key, payload_format in routes.items():
        made = v2.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=function_arn,
            PayloadFormatVersion=payload_format,
        )
        v2.create_route(
            ApiId=api_id, RouteKey=route_key, Target=f"integrations/{made['IntegrationId']}"
        )
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    return [route["RouteKey"] for route in v2.get_routes(ApiId=api_id)["Items"]]


def queue_api(
    cloud: Backend,
    queue_url: str,
    role_arn: str,
    route: str = "POST /",
    parameters: dict[str, str] | None = None,
    name: str = "to-sqs",
) -> dict:
    """An HTTP API whose route sends each request to a queue; return what create_api returned.

    The first-class SQS-SendMessage integration (payload 1.0, ``role_arn`` allowed
    sqs:SendMessage), the route, and the ``$default`` stage with auto-deploy. ``parameters``
    are the integration's RequestParameters; by default the request body is the message body.
    Notebook 08 builds the same thing step by step.
    """
    v2 = cloud.client("apigatewayv2")
    api = v2.create_api(Name=cloud.name(name), ProtocolType="HTTP", Tags=cloud.tags)
    integration = v2.create_integration(
        ApiId=api["ApiId"],
        IntegrationType="AWS_PROXY",
        IntegrationSubtype="SQS-SendMessage",
        PayloadFormatVersion="1.0",
        CredentialsArn=role_arn,
        RequestParameters=parameters or {"QueueUrl": queue_url, "MessageBody": "$request.body"},
    )
    v2.create_route(
        ApiId=api["ApiId"], RouteKey=route, Target=f"integrations/{integration['IntegrationId']}"
    )
    v2.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    return api


# --- calling an API ---------------------------------------------------------------------------


@dataclass
class Response:
    """What an HTTP request got back, and how long it took from send to last byte."""

    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_ms: float
    reason: str = ""
    raw_headers: list[tuple[str, str]] = field(default_factory=list, repr=False)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        shown = self.text if len(self.body) <= 200 else self.text[:200] + " ..."
        return f"<Response {self.status} in {self.elapsed_ms:.1f} ms: {shown}>"


def _encode(body: Any, headers: dict[str, str]) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    headers.setdefault("Content-Type", "application/json")
    return json.dumps(body).encode()


def request(
    url: str,
    method: str = "GET",
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 35,
) -> Response:
    """Send one HTTP request and return the response, whatever its status.

    ``body`` may be bytes, text, or anything JSON can encode (sent as ``application/json``).
    The default timeout is above API Gateway's 30 s integration limit, so a slow integration
    shows as the gateway's own 503/504 rather than as a client-side timeout.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Not an http(s) URL: {url!r}")
    sent_headers = dict(headers or {})
    if not any(key.lower() == "user-agent" for key in sent_headers):
        sent_headers["User-Agent"] = USER_AGENT
    data = _encode(body, sent_headers)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        start = time.perf_counter()
        connection.request(method, target, body=data, headers=sent_headers)
        answer = connection.getresponse()
        payload = answer.read()
        elapsed = (time.perf_counter() - start) * 1000
    finally:
        connection.close()
    raw = answer.getheaders()
    return Response(
        status=answer.status,
        headers={key.lower(): value for key, value in raw},
        body=payload,
        elapsed_ms=elapsed,
        reason=answer.reason,
        raw_headers=raw,
    )


def curl_command(
    url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
) -> str:
    """The curl command line that sends the same request as :func:`request`."""
    sent_headers = dict(headers or {})
    data = _encode(body, sent_headers)
    words = ["curl", "-i"]
    if method != "GET" or (data is not None and method == "GET"):
        words += ["-X", method]
    for key, value in sent_headers.items():
        words += ["-H", f"{key}: {value}"]
    if data is not None:
        words += ["--data-binary", data.decode("utf-8", errors="replace")]
    words.append(url)
    return " ".join(shlex.quote(word) for word in words)


def wait_until_served(
    url: str,
    timeout: float = 30,
    *,
    not_yet: tuple[int, ...] = (404, 500),
    method: str = "GET",
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Response | None:
    """Wait until a new route (or permission) is live, and return the first real response.

    On AWS an API, a route or a permission takes a few seconds to reach every API Gateway
    node; until then the answer is 404 ``Not Found`` or a 500 (statuses in ``not_yet``).
    Polls once a second, at most ``timeout`` seconds, then returns the last response. The local
    cloud applies changes at once, so for a loopback URL it returns None without sending
    anything.
    """
    if urlsplit(url).hostname in _LOOPBACK:
        return None
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = request(url, method, body, headers, timeout=min(35.0, timeout))
        except OSError:  # DNS of a brand-new API can take a moment too
            answer = None
        if answer is not None and answer.status not in not_yet:
            return answer
        if time.monotonic() > deadline:
            return answer
        time.sleep(1)
