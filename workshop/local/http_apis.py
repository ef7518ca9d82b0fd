"""API Gateway HTTP APIs on the local backend: moto stores them, this module serves them.

SKELETON: being written (issue 5). See the class docstring for the contract with the gateway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workshop.local.wsgi import Answer, json_answer

if TYPE_CHECKING:
    from workshop.local.gateway import Gateway

EXECUTE_API_PREFIX = "/_aws/execute-api/"
"""Local invoke URLs are ``{endpoint}/_aws/execute-api/{apiId}``: what ``ApiEndpoint`` says."""


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

    def control(
        self, method: str, path: str, environ: dict[str, Any], region: str
    ) -> Answer | None:
        return None

    def serve(self, environ: dict[str, Any]) -> Answer:
        return json_answer(404, {"message": "Not Found"})

    def close(self) -> None:
        """Stop background work; in-flight requests may still finish."""
