"""The local cloud server: loopback only, quiet, and gone when stopped."""

from __future__ import annotations

import socket

import boto3
import pytest

from workshop.local.server import LocalServer, answers, shared_server


def test_listens_on_loopback_only():
    with LocalServer() as server:
        assert server._server.socket.getsockname()[0] == "127.0.0.1"


def test_serves_quietly(capfd):
    with LocalServer() as server:
        sqs = boto3.client(
            "sqs",
            endpoint_url=server.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="a",
            aws_secret_access_key="b",
        )
        sqs.create_queue(QueueName="quiet")
        sqs.list_queues()
    out, err = capfd.readouterr()
    assert "POST" not in out + err and "HTTP/1.1" not in out + err


def test_stop_closes_the_port_and_is_idempotent():
    server = LocalServer().start()
    port = server.port
    assert answers(server.endpoint_url)
    server.stop()
    server.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    with pytest.raises(RuntimeError, match="start"):
        server.endpoint_url  # noqa: B018


def test_one_shared_server_per_process():
    assert shared_server() is shared_server()
    assert shared_server().running
