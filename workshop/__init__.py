"""Helpers for the SQS, Lambda and API Gateway workshop.

A notebook starts with::

    import workshop
    cloud = workshop.connect(BACKEND)      # "local" (default) or "aws"
    sqs = cloud.client("sqs")              # plain boto3 from here on

and ends with ``cloud.cleanup()``. Everything else in the package is what the notebooks would
otherwise have to write in cells: experiments, plots and exercise checks.
"""

from __future__ import annotations

import threading

from workshop.backends import AwsBackend, AwsOptInRequired, Backend, LocalBackend
from workshop.config import ConfigError, Settings, read_settings

__all__ = [
    "AwsBackend",
    "AwsOptInRequired",
    "Backend",
    "ConfigError",
    "LocalBackend",
    "Settings",
    "cleanup",
    "client",
    "connect",
    "current",
]
__version__ = "0.1.0"

_backends: dict[tuple[str, str], Backend] = {}
_current: Backend | None = None
_lock = threading.Lock()


def connect(
    backend: str | None = None, participant: str | None = None, *, quiet: bool = False
) -> Backend:
    """Connect to the chosen backend (``WORKSHOP_BACKEND`` if not given) and say where.

    The local backend starts the kernel's local cloud on first use; the aws backend shows the
    account and region and stops unless the learner has confirmed them (``WORKSHOP_AWS_ACCOUNT``).
    Calling it again with the same arguments returns the same backend.
    """
    global _current
    from workshop.backends import make_backend

    settings = read_settings(backend, participant)
    key = (settings.backend, settings.participant)
    with _lock:
        if key not in _backends:
            _backends[key] = make_backend(settings)
        _current = _backends[key]
    if not quiet:
        print(f"Connected: {_current.describe()}")
    return _current


def current() -> Backend:
    """The backend of the last :func:`connect`, connecting quietly if there was none."""
    return _current or connect(quiet=True)


def client(service: str):
    """A boto3 client for ``service`` on the current backend."""
    return current().client(service)


def cleanup(*, quiet: bool = False) -> list[str]:
    """Delete everything the current participant created on the current backend."""
    return current().cleanup(quiet=quiet)
