"""Lambda event source mappings from SQS on the local backend: polled as Lambda polls.

SKELETON: being written (issue 5). See the class docstring for the contract with the gateway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workshop.local.moto_state import MotoLambda
from workshop.local.wsgi import Answer, call

if TYPE_CHECKING:
    from workshop.local.gateway import Gateway


class EventSourceMappings:
    """The pollers of every SQS event source mapping.

    :meth:`control` sees every ``/2015-03-31/event-source-mappings`` call first and returns
    its answer (checking what AWS checks, letting moto store the mapping, then starting,
    updating or stopping the mapping's pollers).
    """

    def __init__(self, gateway: Gateway):
        self.gateway = gateway

    def control(self, method: str, path: str, environ: dict[str, Any], region: str) -> Answer:
        answer = call(self.gateway.moto_app, environ)
        MotoLambda.silence_sqs_triggers()
        return answer

    def close(self) -> None:
        """Stop every poller promptly (the server is stopping)."""
