"""The local cloud's front door: a WSGI app that routes each request to what answers it.

SQS requests (JSON protocol, ``X-Amz-Target: AmazonSQS.<Action>``) go to the workshop's SQS
front end, which enforces AWS's limits and adds what moto lacks; the workshop's own control
calls live under ``/_workshop/``; Lambda Invoke runs code (:mod:`lambda_service`); HTTP APIs
are served under ``/_aws/execute-api/`` (:mod:`http_apis`); event source mappings are polled
(:mod:`event_sources`); everything else goes straight to moto.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, unquote

from moto.core import DEFAULT_ACCOUNT_ID

from workshop.local.event_sources import EventSourceMappings
from workshop.local.http_apis import EXECUTE_API_PREFIX, HttpApis
from workshop.local.lambda_service import LambdaService
from workshop.local.moto_state import MotoLambda
from workshop.local.sqs_service import SqsFrontEnd
from workshop.local.wsgi import Answer, StartResponse, WsgiApp, call, json_answer, read_body
from workshop.local.wsgi import respond as _respond

_REGION_IN_AUTH = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")
_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
_PROVISIONED = re.compile(r"^/2019-09-30/functions/(?P<name>[^/]+)/provisioned-concurrency/?$")
_FUNCTION = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/?$")
_POLICY = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/policy/?$")
_MAPPINGS = re.compile(r"^/2015-03-31/event-source-mappings")
CONTROL_PREFIX = "/_workshop/"


class Gateway:
    """WSGI app in front of moto's server app."""

    def __init__(self, moto_app: WsgiApp, default_region: str):
        self.moto_app = moto_app
        self.default_region = default_region
        self.sqs = SqsFrontEnd(moto_app)
        self.lambdas = LambdaService()
        self.http_apis = HttpApis(self)
        self.mappings = EventSourceMappings(self)

    def serving_at(self, endpoint_url: str) -> None:
        """Where clients reach this cloud: functions get it as their AWS_ENDPOINT_URL."""
        self.lambdas.endpoint_url = endpoint_url

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("Logs_"):
            # Lambda's log lines are shipped in the background; let a reader see them all.
            self.lambdas.flush_logs()
        if target.startswith("AmazonSQS."):
            params = _json_body(environ)
            if isinstance(params, dict):
                answer = self.sqs.handle(
                    target.removeprefix("AmazonSQS."), params, self._region(environ), environ
                )
                return _respond(start_response, answer)
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if path.startswith(EXECUTE_API_PREFIX):
            return _respond(start_response, self.http_apis.serve(environ))
        if path.startswith("/v2/"):
            answer = self.http_apis.control(method, path, environ, self._region(environ))
            if answer is not None:
                return _respond(start_response, answer)
            return self.moto_app(environ, start_response)
        invoke = _INVOKE.match(path)
        if invoke and method == "POST":
            answer = self.lambdas.invoke(
                invoke["name"], environ, self._region(environ), DEFAULT_ACCOUNT_ID
            )
            return _respond(start_response, answer)
        if path.startswith(CONTROL_PREFIX):
            return _respond(start_response, self._control(environ))
        provisioned = _PROVISIONED.match(path)
        if provisioned and method in ("PUT", "GET", "DELETE"):
            answer = self.lambdas.provisioned_concurrency(
                method, provisioned["name"], environ, self._region(environ), DEFAULT_ACCOUNT_ID
            )
            return _respond(start_response, answer)
        configured = self.lambdas.configuration_call(
            method, path, environ, self._region(environ), DEFAULT_ACCOUNT_ID, self.moto_app
        )
        if configured is not None:
            return _respond(start_response, configured)
        policy = _POLICY.match(path)
        if policy and method == "POST":
            conflict = self._repeated_statement(policy["name"], environ)
            if conflict is not None:
                return _respond(start_response, conflict)
        function = _FUNCTION.match(path)
        if function and method == "DELETE":
            answer = call(self.moto_app, environ)
            if answer[0].startswith("2"):  # its environments go with it, as on AWS
                self.lambdas.retire_function(unquote(function["name"]))
            return _respond(start_response, answer)
        if _MAPPINGS.match(path):
            # moto would run the function inside SendMessage; the workshop polls instead.
            answer = self.mappings.control(method, path, environ, self._region(environ))
            return _respond(start_response, answer)
        return self.moto_app(environ, start_response)

    def close(self) -> None:
        """Stop background work (message move tasks, Lambda environments) before the server
        goes away."""
        self.mappings.close()
        self.http_apis.close()
        self.sqs.move_tasks.stop_all()
        self.lambdas.close()

    def _repeated_statement(self, name: str, environ: dict[str, Any]) -> Answer | None:
        """AddPermission with a StatementId the policy already has: AWS refuses it (moto would
        add a second statement)."""
        request = _json_body(environ)
        sid = request.get("StatementId") if isinstance(request, dict) else None
        qualifier = parse_qs(environ.get("QUERY_STRING", "")).get("Qualifier", [None])[0]
        moto = MotoLambda(DEFAULT_ACCOUNT_ID, self._region(environ))
        statements = moto.policy_statements(unquote(name), qualifier) or []
        if sid is None or not any(s.get("Sid") == sid for s in statements):
            return None
        return json_answer(
            409,
            {
                "Type": "User",
                "message": f"The statement id ({sid}) provided already exists. Please provide a "
                "new statement id, or remove the existing statement.",
            },
            [("x-amzn-ErrorType", "ResourceConflictException")],
        )

    def _region(self, environ: dict[str, Any]) -> str:
        match = _REGION_IN_AUTH.search(environ.get("HTTP_AUTHORIZATION", ""))
        return match.group(1) if match else self.default_region

    def _control(self, environ: dict[str, Any]) -> Answer:
        """The workshop's own calls: ``POST /_workshop/sqs/realism``."""
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if (method, path) != ("POST", f"{CONTROL_PREFIX}sqs/realism"):
            return json_answer(404, {"message": f"No workshop control call {method} {path}"})
        request = _json_body(environ)
        if not isinstance(request, dict):
            return json_answer(400, {"message": "The body must be a JSON object."})
        region = str(request.get("Region") or self.default_region)
        try:
            return json_answer(200, self.sqs.configure_realism(request, region))
        except (ValueError, TypeError) as error:
            return json_answer(400, {"message": str(error)})


def _json_body(environ: dict[str, Any]) -> Any:
    """The request body parsed as JSON (None if it is not); the body is put back for moto."""
    try:
        return json.loads(read_body(environ) or b"{}")
    except ValueError:
        return None
