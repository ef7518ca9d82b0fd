"""API Gateway HTTP APIs on the local backend: moto stores them, this module serves them.

- Every API's ``ApiEndpoint`` is ``{server}/_aws/execute-api/{apiId}`` (LocalStack's form), so
  notebook code that calls ``ApiEndpoint + "/hello"`` runs unchanged on both backends.
- Quick create (``create_api(Target=...)``) adds what AWS adds and moto does not: the
  ``AWS_PROXY`` integration (payload 2.0), the route and the auto-deployed ``$default`` stage.
- A stage with ``AutoDeploy`` serves the API's current routes and integrations; any other stage
  serves the snapshot its deployment took (:mod:`http_api_deployments`), and nothing before one.
- Each API's routes, integrations and stages are read once and cached; any ``/v2/`` control
  call for that API (which passes through :meth:`HttpApis.control`) drops the cache.
- Served: Lambda proxy integrations (payload 2.0 and 1.0) and the SQS-SendMessage integration.
  HTTP_PROXY and the other AWS service subtypes answer 500; authorizers, CORS preflight and
  stage throttling are not applied.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import threading
import time
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from workshop.local import internal
from workshop.local.aws_errors import SqsError
from workshop.local.http_api_deployments import Deployments
from workshop.local.http_api_events import (
    ApiRequest,
    MalformedResponse,
    event_v1,
    event_v2,
    http_answer,
    lambda_answer,
    message_answer,
    new_request_id,
)
from workshop.local.http_api_routes import RouteTable, split_stage
from workshop.local.http_api_sqs import (
    MappingError,
    error_result,
    queue_arn,
    send_message_params,
    send_result,
)
from workshop.local.iam_policy import allowed
from workshop.local.lambda_service import INIT_LIMIT_S, LambdaError
from workshop.local.moto_state import MotoApis, MotoIam, MotoLambda
from workshop.local.wsgi import Answer, call, json_answer, read_body

if TYPE_CHECKING:
    from workshop.local.gateway import Gateway

EXECUTE_API_PREFIX = "/_aws/execute-api/"
"""Local invoke URLs are ``{endpoint}/_aws/execute-api/{apiId}``: what ``ApiEndpoint`` says."""
MAX_BODY = 10 * 1024 * 1024  # HTTP API payload limit: 10 MB
MAX_INTEGRATION_MS = 30_000  # HTTP API integration timeout: at most 30 s
_API_PATH = re.compile(r"^/v2/apis/(?P<api>[^/]+)(?P<rest>/.*)?$")
_LAMBDA_PATH = re.compile(
    r"^arn:[^:]+:apigateway:[^:]+:lambda:path/[^/]+/functions/(.+)/invocations$"
)
_INVALID = frozenset("\x00\r\n")


class _Served:
    """The routes and integrations one stage serves."""

    def __init__(self, routes: list[dict[str, Any]], integrations: list[dict[str, Any]]):
        self.routes = RouteTable.build(routes)
        self.integrations = {i["integrationId"]: i for i in integrations}


class _Api:
    """What serving one API needs, read once from moto (and its stages' deployments)."""

    def __init__(
        self,
        api_id: str,
        account: str,
        region: str,
        described: dict[str, Any],
        deployments: Deployments,
    ):
        self.api_id, self.account, self.region = api_id, account, region
        self.protocol = described["api"].get("protocolType")
        self.stages = {s["stageName"]: s for s in described["stages"]}
        self.stage_names = set(self.stages)
        self.domain = f"{api_id}.execute-api.{region}.amazonaws.com"
        current = _Served(described["routes"], described["integrations"])
        self.served: dict[str, _Served] = {}  # by stage; a stage never deployed is missing
        for name, stage in self.stages.items():
            deployment = deployments.of_stage(api_id, name)
            if stage.get("autoDeploy"):
                self.served[name] = current
            elif deployment is not None:
                self.served[name] = _Served(deployment.routes, deployment.integrations)


class HttpApis:
    """Serves every HTTP API of the local cloud.

    - :meth:`control` sees every API Gateway v2 control call (``/v2/...``) first: it may answer
      it (quick create), or let moto answer and then fix moto's state (the local
      ``ApiEndpoint``); it returns None to let the gateway forward the call to moto unchanged.
    - :meth:`serve` answers an execute-api request (``PATH_INFO`` under
      :data:`EXECUTE_API_PREFIX`).
    """

    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        self._apis: dict[str, _Api] = {}
        self.deployments = Deployments()
        self._generation: dict[str, int] = {}  # per API, bumped by every control call
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    # --- control plane ---------------------------------------------------------------------

    def control(
        self, method: str, path: str, environ: dict[str, Any], region: str
    ) -> Answer | None:
        """Answer ``/v2/apis...`` calls through moto, with the local endpoint and quick create."""
        if path.rstrip("/") == "/v2/apis":
            if method == "POST":
                return self._create_api(environ, region)
            return self._rewrite(call(self.gateway.moto_app, environ))
        found = _API_PATH.match(path)
        if found is None:
            return None
        api_id = found["api"]
        self._forget(api_id)
        rest = (found["rest"] or "").rstrip("/")
        try:
            if rest.startswith("/deployments"):
                return self._deployment_call(api_id, method, rest, environ)
            if rest.startswith("/stages"):
                return self._stage_call(api_id, method, rest, environ)
            answer = call(self.gateway.moto_app, environ)
            if not rest and method == "DELETE" and answer[0].startswith("2"):
                self.deployments.forget(api_id)
            return self._rewrite(answer)
        finally:
            self._forget(api_id)

    def _create_api(self, environ: dict[str, Any], region: str) -> Answer:
        try:
            request = json.loads(read_body(environ) or b"{}")
        except ValueError:
            request = {}
        answer = call(self.gateway.moto_app, environ)
        target = request.get("target") if isinstance(request, dict) else None
        if target and answer[0].startswith("2") and request.get("protocolType") == "HTTP":
            api_id = json.loads(answer[2])["apiId"]
            refused = self._quick_create(api_id, request, region)
            if refused is not None:
                # all or nothing, as one CreateApi call: no half-built API is left behind
                self._moto("DELETE", f"/v2/apis/{api_id}", None, region)
                self._forget(api_id)
                return refused
        return self._rewrite(answer)

    def _quick_create(self, api_id: str, request: dict[str, Any], region: str) -> Answer | None:
        """What AWS adds for ``Target``: a proxy integration, the route, the $default stage.
        None when all were made; else moto's answer to the step it refused."""
        target = str(request["target"])
        integration: dict[str, Any] = {"integrationUri": target}
        if target.startswith("arn:"):
            integration |= {"integrationType": "AWS_PROXY", "payloadFormatVersion": "2.0"}
        else:
            integration |= {
                "integrationType": "HTTP_PROXY",
                "integrationMethod": "ANY",
                "payloadFormatVersion": "1.0",
            }
        if request.get("credentialsArn"):
            integration["credentialsArn"] = request["credentialsArn"]
        created = self._moto("POST", f"/v2/apis/{api_id}/integrations", integration, region)
        if not created[0].startswith("2"):
            return created
        route = {
            "routeKey": request.get("routeKey") or "$default",
            "target": f"integrations/{json.loads(created[2])['integrationId']}",
        }
        for path, body in (
            (f"/v2/apis/{api_id}/routes", route),
            (f"/v2/apis/{api_id}/stages", {"stageName": "$default", "autoDeploy": True}),
        ):
            answer = self._moto("POST", path, body, region)
            if not answer[0].startswith("2"):
                return answer
        return None

    def _deployment_call(
        self, api_id: str, method: str, rest: str, environ: dict[str, Any]
    ) -> Answer:
        """Create, list, get and delete deployments (moto has none)."""
        where = MotoApis.find(api_id)
        described = MotoApis.describe(*where, api_id) if where else None
        if described is None:
            return _v2_error(404, f"Invalid API identifier specified {api_id}")
        if rest == "/deployments" and method == "POST":
            request = _json_body(environ)
            stage = request.get("stageName")
            if stage and stage not in {s["stageName"] for s in described["stages"]}:
                return _v2_error(404, "Invalid stage identifier specified")
            deployment = self.deployments.create(api_id, described, request.get("description"))
            if stage:
                self.deployments.point(api_id, stage, deployment.deployment_id)
            return json_answer(201, deployment.to_json())
        if rest == "/deployments" and method == "GET":
            return json_answer(200, {"items": [d.to_json() for d in self.deployments.all(api_id)]})
        deployment_id = unquote(rest.removeprefix("/deployments/"))
        deployment = self.deployments.get(api_id, deployment_id)
        if deployment is None:
            return _v2_error(404, f"Invalid Deployment identifier specified {deployment_id}")
        if method == "DELETE":
            self.deployments.delete(api_id, deployment_id)
            return "204 No Content", [], b""
        if method == "PATCH":
            description = _json_body(environ).get("description")
            if description is not None:
                deployment = self.deployments.describe(api_id, deployment_id, str(description))
        return json_answer(200, deployment.to_json())

    def _stage_call(self, api_id: str, method: str, rest: str, environ: dict[str, Any]) -> Answer:
        """Stage calls go to moto; the stage-to-deployment links are kept here."""
        request = _json_body(environ) if method in ("POST", "PATCH") else {}
        deployment_id = request.get("deploymentId")
        if deployment_id and self.deployments.get(api_id, deployment_id) is None:
            return _v2_error(404, f"Invalid Deployment identifier specified {deployment_id}")
        name = unquote(rest.removeprefix("/stages").strip("/")) or request.get("stageName")
        if method == "PATCH" and name:
            where = MotoApis.find(api_id)
            described = MotoApis.describe(*where, api_id) if where else None
            stages = {s["stageName"]: s for s in (described or {}).get("stages", [])}
            if described is None or name not in stages:
                return _v2_error(404, "Invalid stage identifier specified")
            turned_off = stages[name].get("autoDeploy") and request.get("autoDeploy") is False
            if turned_off and not deployment_id:
                # it keeps serving what its last automatic deployment released
                last = self.deployments.create(api_id, described, auto_deployed=True)
                deployment_id = last.deployment_id
            updated = MotoApis.update_stage(*where, api_id, name, request)
            answer = json_answer(200, updated)
        else:
            answer = call(self.gateway.moto_app, environ)
        if not answer[0].startswith("2"):
            return answer
        if name and method == "DELETE":
            self.deployments.point(api_id, name, None)
        elif name and deployment_id:
            self.deployments.point(api_id, name, deployment_id)

        def add_deployment_ids(item: dict[str, Any]) -> None:
            if "stageName" in item:
                linked = self.deployments.deployment_id_of(api_id, item["stageName"])
                if linked:
                    item["deploymentId"] = linked

        return _edit_json(answer, add_deployment_ids)

    def _moto(self, method: str, path: str, body: dict[str, Any] | None, region: str) -> Answer:
        """One API Gateway v2 call to moto, made by the local cloud itself."""
        raw = b"" if body is None else json.dumps(body).encode()
        environ = internal.environ_for(
            method, path, raw, region, {"Content-Type": "application/json"}
        )
        environ["HTTP_AUTHORIZATION"] = environ["HTTP_AUTHORIZATION"].replace(
            "/sqs/", "/apigateway/"
        )
        return call(self.gateway.moto_app, environ)

    def _rewrite(self, answer: Answer) -> Answer:
        """Replace moto's public ``apiEndpoint`` with the local one."""
        if b"apiEndpoint" not in answer[2]:
            return answer

        def local_endpoint(item: dict[str, Any]) -> None:
            if "apiEndpoint" in item and "apiId" in item:
                item["apiEndpoint"] = self.endpoint_of(item["apiId"])

        return _edit_json(answer, local_endpoint)

    def endpoint_of(self, api_id: str) -> str:
        base = self.gateway.lambdas.endpoint_url or "http://127.0.0.1"
        return f"{base.rstrip('/')}{EXECUTE_API_PREFIX}{api_id}"

    def _forget(self, api_id: str) -> None:
        with self._lock:
            self._apis.pop(api_id, None)
            self._generation[api_id] = self._generation.get(api_id, 0) + 1

    def _api(self, api_id: str) -> _Api | None:
        api = self._apis.get(api_id)
        if api is not None and MotoApis.exists(api.account, api.region, api_id):
            return api  # (moto's state can also be reset without a /v2/ call)
        with self._lock:
            generation = self._generation.get(api_id, 0)
        where = MotoApis.find(api_id)
        if where is None:
            return None
        described = MotoApis.describe(*where, api_id)
        if described is None:
            return None
        api = _Api(api_id, where[0], where[1], described, self.deployments)
        with self._lock:
            # A control call while moto was read may have changed what was read: serve it,
            # but do not keep it.
            if self._generation.get(api_id, 0) == generation:
                self._apis[api_id] = api
        return api

    # --- data plane ------------------------------------------------------------------------

    def serve(self, environ: dict[str, Any]) -> Answer:
        request_id = new_request_id()
        try:
            return self._serve(environ, request_id)
        except Exception:  # a bug of ours must not take the server down; answer as AWS does
            return message_answer(500, "Internal Server Error", request_id)

    def _serve(self, environ: dict[str, Any], request_id: str) -> Answer:
        raw_path = _raw_path(environ)
        api_id, _, rest = raw_path.removeprefix(EXECUTE_API_PREFIX).partition("/")
        api = self._api(api_id) if api_id else None
        if api is None or api.protocol != "HTTP":
            return message_answer(404, "Not Found", request_id)
        try:
            body = _read_limited(environ)
        except (OSError, ValueError):  # a broken chunked body
            return message_answer(400, "Bad Request", request_id)
        if body is None:
            # Not read any further: the server closes the connection after the answer.
            return message_answer(413, "Request Entity Too Large", request_id)
        path = "/" + rest
        staged = split_stage(path, api.stage_names)
        if staged is None:
            return message_answer(404, "Not Found", request_id)
        stage, stage_path = staged
        served = api.served.get(stage)
        if served is None:  # a stage that was never deployed serves nothing
            return message_answer(404, "Not Found", request_id)
        method = environ.get("REQUEST_METHOD", "GET").upper()
        matched = served.routes.match(method, stage_path)
        if matched is None:
            return message_answer(404, "Not Found", request_id)
        route, parameters = matched
        integration = served.integrations.get(route.integration_id or "")
        if integration is None:
            return message_answer(404, "Not Found", request_id)
        request = ApiRequest(
            method=method,
            path=path,
            query=_text(environ.get("QUERY_STRING", "")),
            headers=_headers(environ),
            body=body,
            source_ip=environ.get("REMOTE_ADDR", "127.0.0.1"),
            protocol=environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            api_id=api.api_id,
            account=api.account,
            region=api.region,
            domain_name=api.domain,
            stage=stage,
            route_key=route.route_key,
            route_path=route.path,
            path_parameters=parameters,
            stage_variables=dict(api.stages[stage].get("stageVariables") or {}),
            request_id=request_id,
        )
        if integration.get("integrationSubtype") == "SQS-SendMessage":
            return self._send_message(api, integration, request)
        if integration.get("integrationType") == "AWS_PROXY":
            return self._invoke(api, integration, request, route.path)
        # HTTP_PROXY and the other AWS services are not served locally.
        return message_answer(500, "Internal Server Error", request_id)

    # --- Lambda proxy ------------------------------------------------------------------------

    def _invoke(
        self, api: _Api, integration: dict[str, Any], request: ApiRequest, route_path: str
    ) -> Answer:
        function = _function_of(str(integration.get("integrationUri") or ""))
        version = str(integration.get("payloadFormatVersion") or "1.0")
        moto = MotoLambda(api.account, api.region)
        # A missing resource-based permission gives HTTP APIs' 500 "Internal Server Error"
        # (re:Post "api-gateway-http-lambda-integrations"; AWS "Troubleshooting issues with HTTP
        # API Lambda integrations").
        role = str(integration.get("credentialsArn") or "")
        if role:  # API Gateway invokes as this role: it must exist and allow the invoke
            documents = MotoIam(api.account).role_policies(role)
            function_arn = (
                function
                if function.startswith("arn:")
                else f"arn:aws:lambda:{api.region}:{api.account}:function:{function}"
            )
            if documents is None or not allowed(documents, "lambda:InvokeFunction", function_arn):
                return message_answer(500, "Internal Server Error", request.request_id)
        elif not self._may_invoke(moto, function, api, request, route_path):
            return message_answer(500, "Internal Server Error", request.request_id)
        event = event_v2(request) if version == "2.0" else event_v1(request)
        payload = json.dumps(event).encode()
        limit_ms = min(int(integration.get("timeoutInMillis") or MAX_INTEGRATION_MS), 30_000)
        try:
            result = self._call_with_limit(function, payload, api, moto, limit_ms)
        except TimeoutError:
            return message_answer(503, "Service Unavailable", request.request_id)
        except LambdaError:
            # Not found, throttled, bad payload: HTTP APIs answer 500 for all of them
            # (re:Post "api-gateway-internal-server-error": a throttled backend gives an
            # internal server error).
            return message_answer(500, "Internal Server Error", request.request_id)
        if result.error:
            # A function error: HTTP APIs answer 500 "Internal Server Error" (REST APIs: 502
            # "Internal server error"); seen in awslabs/aws-lambda-cpp#117 and
            # denoland/deno_registry2#87.
            return message_answer(500, "Internal Server Error", request.request_id)
        try:
            return lambda_answer(result.payload, version, request.request_id)
        except MalformedResponse:
            return message_answer(500, "Internal Server Error", request.request_id)

    def _call_with_limit(
        self, function: str, payload: bytes, api: _Api, moto: MotoLambda, limit_ms: int
    ):
        """Invoke; past the integration timeout raise TimeoutError (the invocation goes on,
        as on AWS). A function that cannot pass the limit even after a cold start's Init runs
        in the request's thread."""
        lambdas = self.gateway.lambdas
        found = moto.function(function, None)
        function_ms = int(found[0].get("Timeout") or 3) * 1000 if found else 0
        if function_ms + INIT_LIMIT_S * 1000 <= limit_ms:
            return lambdas.call(function, payload, api.region, api.account)
        pool = self._executor()
        future = pool.submit(lambdas.call, function, payload, api.region, api.account)
        try:
            return future.result(timeout=limit_ms / 1000)
        except concurrent.futures.TimeoutError:
            raise TimeoutError from None

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=32, thread_name_prefix="http-api-invoke"
                )
            return self._pool

    def _may_invoke(
        self, moto: MotoLambda, function: str, api: _Api, request: ApiRequest, route_path: str
    ) -> bool:
        """Whether the function's resource policy lets API Gateway invoke it for this request."""
        statements = moto.policy_statements(function, None)
        if not statements:
            return False
        target = f"{request.method}{route_path}" if route_path else "$default"
        source = (
            f"arn:aws:execute-api:{api.region}:{api.account}:{api.api_id}/{request.stage}/{target}"
        )
        for statement in statements:
            if statement.get("Effect", "Allow") != "Allow":
                continue
            if not _principal_is_apigateway(statement.get("Principal")):
                continue
            actions = statement.get("Action")
            actions = [actions] if isinstance(actions, str) else actions or []
            if not any(a in ("lambda:InvokeFunction", "lambda:*", "*") for a in actions):
                continue
            if _conditions_hold(statement.get("Condition") or {}, source, api.account):
                return True
        return False

    # --- SQS-SendMessage -------------------------------------------------------------------

    def _send_message(self, api: _Api, integration: dict[str, Any], request: ApiRequest) -> Answer:
        rid = request.request_id
        try:
            params, region = send_message_params(
                integration.get("requestParameters") or {}, request, api.region
            )
        except MappingError:
            return message_answer(400, "Bad Request", rid)
        role = str(integration.get("credentialsArn") or "")
        documents = MotoIam(api.account).role_policies(role) if role else None
        if documents is None:
            # API Gateway cannot assume the role: 500 (terraform-aws-apigateway-v2#87).
            return message_answer(500, "Internal Server Error", rid)
        arn = queue_arn(str(params["QueueUrl"]), region)
        if not allowed(documents, "sqs:SendMessage", arn):
            role_name = role.rsplit("/", 1)[-1]
            message = (
                f"User: arn:aws:sts::{api.account}:assumed-role/{role_name}/{rid} is not "
                f"authorized to perform: sqs:sendmessage on resource: {arn} because no "
                "identity-based policy allows the sqs:sendmessage action"
            )
            return _json(403, error_result("AccessDenied", message), rid)
        try:
            result = internal.sqs(self.gateway, "SendMessage", params, region)
        except SqsError as error:
            return _json(error.status, error_result(error.code, str(error)), rid)
        return _json(200, send_result(result), rid)

    def close(self) -> None:
        """Stop background work; in-flight requests may still finish."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


# --- helpers -------------------------------------------------------------------------------


def _edit_json(answer: Answer, edit: Callable[[dict[str, Any]], None]) -> Answer:
    """Apply ``edit`` to each resource of a successful control-plane answer (the answer itself,
    or each of its ``items``)."""
    status, headers, raw = answer
    if not status.startswith("2"):
        return answer
    try:
        result = json.loads(raw)
    except ValueError:
        return answer
    for item in result.get("items", [result]) if isinstance(result, dict) else []:
        if isinstance(item, dict):
            edit(item)
    body = json.dumps(result).encode()
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
    return status, [*headers, ("Content-Length", str(len(body)))], body


def _json_body(environ: dict[str, Any]) -> dict[str, Any]:
    """A control call's JSON body ({} if there is none or it is not an object); moto can still
    read it afterwards."""
    try:
        body = json.loads(read_body(environ) or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _v2_error(status: int, message: str, code: str = "NotFoundException") -> Answer:
    """An API Gateway v2 control-plane error, shaped as moto shapes its own."""
    return json_answer(status, {"__type": code, "message": message}, [("x-amzn-ErrorType", code)])


def _json(status: int, result: Any, request_id: str | None = None) -> Answer:
    body = json.dumps(result).encode()
    return http_answer(status, [("Content-Type", "application/json")], body, request_id or "")


def _raw_path(environ: dict[str, Any]) -> str:
    """The path as the client sent it, still percent-encoded (werkzeug's ``PATH_INFO`` is
    decoded): ``rawPath`` is raw on AWS, and a path parameter is decoded exactly once."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not raw or not raw.startswith("/"):
        return _text(environ.get("PATH_INFO", ""))
    return _text(raw.split("?", 1)[0])


def _text(value: str) -> str:
    """WSGI strings are bytes as latin-1; paths are UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers with lower-case names, plus those API Gateway adds."""
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].lower().replace("_", "-")
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = key.lower().replace("_", "-")
        else:
            continue
        text = _text(str(value))
        if not text or any(c in _INVALID for c in text):
            continue
        headers[name] = text
    source = environ.get("REMOTE_ADDR", "127.0.0.1")
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {source}" if forwarded else source
    headers["x-forwarded-port"] = str(environ.get("SERVER_PORT", "80"))
    headers["x-forwarded-proto"] = environ.get("wsgi.url_scheme", "http")
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}")
    return headers


def _read_limited(environ: dict[str, Any]) -> bytes | None:
    """The body, or None if it is over the 10 MB limit (then not read any further)."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length_text = environ.get("CONTENT_LENGTH") or ""
    if length_text:
        try:
            length = int(length_text)
        except ValueError:
            return b""
        if length > MAX_BODY:
            return None
        return read_body(environ) if length > 0 else b""
    if not environ.get("wsgi.input_terminated"):
        return b""
    chunks, total = [], 0
    while True:  # chunked: read up to the limit, never past it
        chunk = stream.read(min(65536, MAX_BODY + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > MAX_BODY:
            return None
    return b"".join(chunks)


def _function_of(uri: str) -> str:
    """The function an integration URI names (an ARN, a name, or the apigateway path form)."""
    found = _LAMBDA_PATH.match(uri)
    return found.group(1) if found else uri


def _principal_is_apigateway(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        service = principal.get("Service")
        services = [service] if isinstance(service, str) else service or []
        return "apigateway.amazonaws.com" in services or principal.get("AWS") == "*"
    return principal == "apigateway.amazonaws.com"


def _conditions_hold(condition: dict[str, Any], source_arn: str, account: str) -> bool:
    """The SourceArn and SourceAccount conditions AddPermission writes, with wildcards."""
    for operator, tests in condition.items():
        if not isinstance(tests, dict):
            continue
        for key, expected in tests.items():
            values = [expected] if isinstance(expected, str) else list(expected or [])
            if key.lower() == "aws:sourcearn":
                actual = source_arn
            elif key.lower() == "aws:sourceaccount":
                actual = account
            else:
                continue
            if operator in ("ArnLike", "StringLike"):
                ok = any(fnmatchcase(actual, v) for v in values)
            else:
                ok = actual in values
            if not ok:
                return False
    return True
