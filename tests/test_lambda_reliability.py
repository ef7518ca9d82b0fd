"""Reliability of the local Lambda data plane under load, with real processes throughout."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import invoke

ROOT = Path(__file__).resolve().parent.parent


def check_answer(cloud, name: str, n: int, fail: bool) -> str:
    """Invoke once and check that the answer is this call's own; return its request id."""
    event = {"n": n, "action": "fail" if fail else None}
    response, body = invoke(cloud, name, event)
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    if fail:
        assert response["FunctionError"] == "Unhandled"
        assert body["errorMessage"] == f"failed on purpose {n}"
        assert body["requestId"] == request_id
    else:
        assert "FunctionError" not in response
        assert body["n"] == n and body["request_id"] == request_id
    return request_id


def test_a_thousand_sequential_calls_with_random_failures(cloud, deploy):
    name = deploy()
    rng = random.Random(1)
    ids = [check_answer(cloud, name, n, rng.random() < 0.1) for n in range(1000)]
    assert len(set(ids)) == 1000


def test_two_hundred_concurrent_calls_with_random_failures(cloud, deploy):
    name = deploy()
    rng = random.Random(2)
    plan = [(n, rng.random() < 0.1) for n in range(200)]
    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(lambda item: check_answer(cloud, name, *item), plan))
    assert len(set(ids)) == 200


SCRIPT = """
import threading, time, workshop
from workshop import lambdas
from workshop.local import server
cloud = workshop.connect(quiet=True)
name = lambdas.deploy(cloud, "counter")
def report():
    time.sleep(1.0)
    pids = [e["pid"] for e in server._shared.gateway.lambdas.environments()]
    print("PIDS", *pids, flush=True)
threading.Thread(target=report, daemon=True).start()
lambdas.invoke(cloud, name, {"sleep": 30})
"""


def start_script(script: str, participant: str) -> tuple[subprocess.Popen, list[int]]:
    """Run a notebook-like script in its own interpreter; return it and its environments' pids
    once it has reported them."""
    env = {**os.environ, "WORKSHOP_PARTICIPANT": participant, "WORKSHOP_BACKEND": "local"}
    env.pop("WORKSHOP_ENDPOINT", None)
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )
    line, deadline = "", time.monotonic() + 30
    while not line.startswith("PIDS") and time.monotonic() < deadline:
        line = process.stdout.readline()
    return process, [int(p) for p in line.split()[1:]]


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()
    process.stdout.close()


def running(pids: list[int]) -> list[int]:
    """The pids that still belong to a live (not zombie) process."""
    return [
        pid
        for pid in pids
        if Path(f"/proc/{pid}").exists()
        and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
    ]


def test_ctrl_c_in_the_middle_of_an_invocation_leaves_no_environment():
    process, pids = start_script(SCRIPT, "interrupted")
    try:
        assert pids, "the invocation never started"
        process.send_signal(signal.SIGINT)  # Ctrl-C, while the handler sleeps
        process.wait(timeout=20)
    finally:
        stop(process)
    time.sleep(0.2)
    assert running(pids) == [], "environment processes left running"


def test_environments_end_when_their_kernel_is_killed():
    """Even without a clean exit: an environment whose Runtime API vanished stops by itself."""
    script = SCRIPT.replace('{"sleep": 30}', '{"sleep": 0}') + "\ntime.sleep(60)\n"
    process, pids = start_script(script, "killed")
    try:
        assert pids
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        stop(process)
    deadline = time.monotonic() + 10
    while running(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert running(pids) == [], json.dumps(pids)


def test_a_runtime_client_killed_mid_request_leaves_no_traceback(capsys):
    """SIGKILL is how environments end in several experiments; the Runtime API server must not
    print a traceback for the connection the dead client dropped, but must for a real bug."""
    from workshop.local.runtime_api import _Server

    server = _Server(("127.0.0.1", 0), object)
    try:
        for error in (ConnectionResetError(104, "reset"), BrokenPipeError(32, "pipe")):
            try:
                raise error
            except OSError:
                server.handle_error(None, ("127.0.0.1", 1))
        assert capsys.readouterr().err == ""
        try:
            raise ValueError("a bug of ours")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
        assert "ValueError: a bug of ours" in capsys.readouterr().err
    finally:
        server.server_close()
