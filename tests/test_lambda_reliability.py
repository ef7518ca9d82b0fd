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

import pytest
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
    pids = [e["pid"] for e in server._shared._gateway.lambdas.environments()]
    print("PIDS", *pids, flush=True)
threading.Thread(target=report, daemon=True).start()
lambdas.invoke(cloud, name, {"sleep": 30})
"""


def test_ctrl_c_in_the_middle_of_an_invocation_leaves_no_environment(tmp_path):
    env = {**os.environ, "WORKSHOP_PARTICIPANT": "interrupted", "WORKSHOP_BACKEND": "local"}
    env.pop("WORKSHOP_ENDPOINT", None)
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        line = ""
        deadline = time.monotonic() + 30
        while not line.startswith("PIDS") and time.monotonic() < deadline:
            line = process.stdout.readline()
        pids = [int(p) for p in line.split()[1:]]
        assert pids, "the invocation never started"
        process.send_signal(signal.SIGINT)  # Ctrl-C, while the handler sleeps
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
    time.sleep(0.2)
    alive = [
        pid
        for pid in pids
        if Path(f"/proc/{pid}").exists()
        and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
    ]
    assert alive == [], f"environment processes left running: {alive}"


@pytest.mark.parametrize("signal_number", [signal.SIGKILL])
def test_environments_end_when_their_kernel_is_killed(signal_number):
    """Even without a clean exit: an environment whose Runtime API vanished stops by itself."""
    env = {**os.environ, "WORKSHOP_PARTICIPANT": "killed", "WORKSHOP_BACKEND": "local"}
    env.pop("WORKSHOP_ENDPOINT", None)
    script = SCRIPT.replace('{"sleep": 30}', '{"sleep": 0}') + "\ntime.sleep(60)\n"
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        line = ""
        deadline = time.monotonic() + 30
        while not line.startswith("PIDS") and time.monotonic() < deadline:
            line = process.stdout.readline()
        pids = [int(p) for p in line.split()[1:]]
        assert pids
        process.send_signal(signal_number)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.1)
    assert not [p for p in pids if Path(f"/proc/{p}").exists()], json.dumps(pids)
