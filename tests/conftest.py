"""Fixtures: one local cloud server for the whole test session, a fresh participant per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from workshop.backends import LocalBackend
from workshop.config import Settings
from workshop.local.server import LocalServer


@pytest.fixture(scope="session")
def server() -> Iterator[LocalServer]:
    with LocalServer() as running:
        yield running


def make_local(server: LocalServer, participant: str | None = None) -> LocalBackend:
    """A local backend on the test server, for a participant of its own."""
    settings = Settings(
        backend="local",
        participant=participant or f"t{uuid.uuid4().hex[:8]}",
        region="us-east-1",
        endpoint=server.endpoint_url,
        aws_confirm=None,
    )
    return LocalBackend(settings)


@pytest.fixture
def cloud(server: LocalServer) -> Iterator[LocalBackend]:
    """A local backend whose resources are removed after the test."""
    backend = make_local(server)
    yield backend
    backend.cleanup(quiet=True)


@pytest.fixture
def sqs(cloud: LocalBackend):
    return cloud.client("sqs")
