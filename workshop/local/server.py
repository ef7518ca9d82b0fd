"""The local cloud server: moto's services behind the workshop's gateway, on one port of 127.0.0.1.

One :class:`LocalServer` per kernel is enough: :func:`shared_server` starts it on first use and
stops it when the interpreter exits. ``workshop serve`` runs one in the foreground so that
several notebooks, a terminal and the AWS CLI can share its state.
"""

from __future__ import annotations

import atexit
import logging
import threading
import urllib.request
from typing import Self

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from workshop.config import DEFAULT_REGION
from workshop.local.gateway import Gateway

log = logging.getLogger(__name__)


class _QuietHandler(MotoRequestHandler):
    """No request log (it would flood a notebook) and no Nagle delay on small responses."""

    disable_nagle_algorithm = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log(self, type: str, message: str, *args: object) -> None:
        log.debug(message, *args)


class LocalServer:
    """moto plus the workshop's data plane, served from a background thread.

    >>> with LocalServer() as cloud:
    ...     cloud.endpoint_url.startswith("http://127.0.0.1:")
    True
    """

    def __init__(self, port: int = 0, region: str = DEFAULT_REGION):
        self.region = region
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def gateway(self) -> Gateway:
        """The running cloud's front door (its Lambda, HTTP API and mapping services)."""
        if self._server is None:
            raise RuntimeError("The local cloud is not running; call start() first.")
        return self._gateway

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("The local cloud is not running; call start() first.")
        return self._server.server_port

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._gateway = app = Gateway(DomainDispatcherApplication(create_backend_app), self.region)
        # Loopback only: the local cloud accepts any credentials, so it must not be reachable
        # from another machine.
        self._server = make_server(
            "127.0.0.1", self._port, app, threaded=True, request_handler=_QuietHandler
        )
        app.serving_at(self.endpoint_url)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="workshop-local-cloud", daemon=True
        )
        self._thread.start()
        log.info("local cloud listening on %s", self.endpoint_url)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()  # no new requests first, then the data plane stops
        self._gateway.close()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        log.info("local cloud stopped")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_shared: LocalServer | None = None
_shared_lock = threading.Lock()


def shared_server(region: str = DEFAULT_REGION) -> LocalServer:
    """The kernel's one local cloud, started on first use and stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            _shared = LocalServer(region=region).start()
            atexit.register(_shared.stop)
        return _shared


def stop_shared_server() -> None:
    """Stop the kernel's local cloud now rather than at exit (tests use this)."""
    with _shared_lock:
        if _shared is not None:
            _shared.stop()


def answers(endpoint: str, timeout: float = 2.0) -> bool:
    """True if a local cloud (or any moto server) answers at ``endpoint``."""
    try:
        urllib.request.urlopen(f"{endpoint.rstrip('/')}/moto-api/", timeout=timeout).close()
    except OSError:
        return False
    return True
