"""Fixtures: one local cloud server for the whole test session, a fresh participant per test."""

from __future__ import annotations

import io
import json
import os
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from workshop.backends import LocalBackend
from workshop.config import Settings
from workshop.local.server import LocalServer, stop_shared_server


def live_children() -> list[str]:
    """Command lines of this process's children that are still running (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == os.getpid() and fields[0] != "Z":
                found.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, IndexError, ValueError):
            continue
    return found


@pytest.fixture(scope="session", autouse=True)
def nothing_left_running() -> Iterator[None]:
    """The whole session must end with no server of ours and no child process still running."""
    yield
    stop_shared_server()
    assert not live_children(), f"tests left processes running: {live_children()}"


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


@pytest.fixture
def current(cloud: LocalBackend, monkeypatch) -> Iterator[LocalBackend]:
    """Point ``workshop.current()`` (which exercise checkers use) at the test's backend, and
    check afterwards that the checker removed the scratch queues and functions it made."""
    import workshop

    monkeypatch.setattr(workshop, "_current", cloud)
    yield cloud
    left = cloud.client("sqs").list_queues(QueueNamePrefix=cloud.prefix).get("QueueUrls", [])
    assert left == [], f"a checker left its scratch queues behind: {left}"
    functions = cloud.client("lambda").list_functions()["Functions"]
    left = [f["FunctionName"] for f in functions if f["FunctionName"].startswith(cloud.prefix)]
    assert left == [], f"a checker left its function behind: {left}"
    groups = cloud.client("logs").describe_log_groups(
        logGroupNamePrefix=f"/aws/lambda/{cloud.prefix}"
    )["logGroups"]
    assert groups == [], f"a checker left a log group behind: {groups}"


def no_workers_left() -> bool:
    """True if no experiment thread of the workshop is still running (the server's excepted)."""
    import threading

    return not [
        t
        for t in threading.enumerate()
        if t.name.startswith("workshop-") and t.name != "workshop-local-cloud"
    ]


def no_check_threads_left(seconds: float = 5.0) -> bool:
    """True once no exercise checker's worker thread is running any more."""
    import threading
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not [t for t in threading.enumerate() if t.name.startswith("workshop-check-")]:
            return True
        time.sleep(0.05)
    return False


# --- Lambda -----------------------------------------------------------------------------------

FUNCTIONS = Path(__file__).with_name("functions")


@pytest.fixture(params=["awslambdaric", "workshop"])
def client_kind(request, monkeypatch):
    """Every test runs under AWS's runtime client and under ours."""
    if request.param == "awslambdaric":
        pytest.importorskip("awslambdaric")
        monkeypatch.delenv("WORKSHOP_RUNTIME_CLIENT", raising=False)
    else:
        monkeypatch.setenv("WORKSHOP_RUNTIME_CLIENT", "workshop")
    return request.param


def zipped(*modules: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for module in modules:
            archive.write(FUNCTIONS / f"{module}.py", f"{module}.py")
    return buffer.getvalue()


@pytest.fixture
def deploy(cloud, client_kind):
    aws_lambda = cloud.client("lambda")
    role = cloud.client("iam").create_role(
        RoleName=cloud.name("lambda-role"), AssumeRolePolicyDocument="{}", Tags=cloud.tag_list()
    )["Role"]["Arn"]

    def make(base: str = "probe", module: str = "probe", **settings) -> str:
        name = cloud.name(base)
        aws_lambda.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler=f"{module}.handler",
            Code={"ZipFile": zipped(module)},
            Tags=cloud.tags,
            **{"Timeout": 3, "MemorySize": 128, **settings},
        )
        return name

    return make


def invoke(cloud, name: str, event: dict | None = None, **extra) -> tuple[dict, object]:
    response = cloud.client("lambda").invoke(
        FunctionName=name, Payload=json.dumps(event or {}).encode(), **extra
    )
    return response, json.loads(response["Payload"].read() or b"null")
