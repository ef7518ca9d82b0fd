"""The `workshop` command, run as a learner runs it: in a separate process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

ROOT = Path(__file__).resolve().parent.parent


def workshop_cmd(*args: str, env: dict | None = None, timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "workshop", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def serve():
    """`workshop serve --port 0` in the background; yields (process, endpoint)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "workshop", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline().rstrip("\n")
        yield process, first
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


def local_client(endpoint: str, service: str = "sqs"):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="any",
        aws_secret_access_key="any",
    )


def test_serve_prints_the_endpoint_first_and_serves_any_sdk(serve):
    _, first = serve
    assert first.startswith("endpoint: http://127.0.0.1:")
    endpoint = first.removeprefix("endpoint: ")
    sqs = local_client(endpoint)
    url = sqs.create_queue(QueueName="cli-check")["QueueUrl"]
    assert sqs.list_queues()["QueueUrls"] == [url]
    # the limits hold through `workshop serve` too
    with pytest.raises(sqs.exceptions.ClientError, match="VisibilityTimeout"):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "43201"})


def test_ctrl_c_stops_serve_and_everything_it_started(serve):
    process, first = serve
    endpoint = first.removeprefix("endpoint: ")
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
    assert "stopped" in process.stdout.read()
    with pytest.raises(EndpointConnectionError):  # the port is closed
        local_client(endpoint).list_queues()


def test_cleanup_command_cleans_the_shared_cloud_for_one_participant(serve):
    _, first = serve
    endpoint = first.removeprefix("endpoint: ")
    env = {"WORKSHOP_ENDPOINT": endpoint, "WORKSHOP_BACKEND": "local"}
    for who in ("ana", "bo"):
        made = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import workshop; workshop.connect(participant='{who}').create_queue('jobs')",
            ],
            env={**os.environ, **env},
            timeout=60,
        )
        assert made.returncode == 0
    result = workshop_cmd("cleanup", "--participant", "ana", env=env)
    assert result.returncode == 0, result.stderr
    assert "removed SQS queue ws-ana-jobs" in result.stdout
    left = [u.rsplit("/", 1)[-1] for u in local_client(endpoint).list_queues()["QueueUrls"]]
    assert left == ["ws-bo-jobs"]
    again = workshop_cmd("cleanup", "--participant", "ana", env=env)
    assert "Nothing to remove for participant ana" in again.stdout


def test_doctor_on_the_local_backend():
    result = workshop_cmd("doctor", "--backend", "local")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[ok] Python" in result.stdout
    assert "local cloud answers: backend local (http://127.0.0.1:" in result.stdout
    assert result.stdout.rstrip().endswith("All good.")


def test_doctor_on_aws_says_what_to_fix(serve):
    _, first = serve
    env = {  # credentials and an "AWS" that is the local server: no network needed
        "AWS_ENDPOINT_URL": first.removeprefix("endpoint: "),
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_REGION": "eu-west-1",
        "WORKSHOP_AWS_ACCOUNT": "",
    }
    result = workshop_cmd("doctor", "--backend", "aws", env=env)
    assert result.returncode == 1
    assert "[ok] aws region eu-west-1" in result.stdout
    assert "fix: export WORKSHOP_AWS_ACCOUNT=123456789012" in result.stdout


def test_lab_starts_jupyterlab_on_the_notebooks(tmp_path):
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "workshop", "lab", "--no-browser", "--port=0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    seen = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            seen.append(line)
            if "http://127.0.0.1" in line or not line:
                break
        log = "".join(seen)
        assert "http://127.0.0.1" in log, log
        assert str(ROOT / "notebooks") in log, log
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl-C does
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
    assert process.returncode == 130
    assert not _processes_matching(str(tmp_path)), "jupyter outlived `workshop lab`"


def _processes_matching(text: str) -> list[str]:
    """Command lines of live processes whose environment or arguments mention ``text``."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if text.encode() in (proc / "environ").read_bytes():
                status = (proc / "status").read_text()
                if "State:\tZ" not in status:
                    found.append((proc / "cmdline").read_bytes().decode(errors="replace"))
        except OSError:
            continue
    return found


def test_module_and_console_script_show_the_commands():
    result = workshop_cmd("--help")
    assert result.returncode == 0
    for command in ("lab", "serve", "doctor", "cleanup"):
        assert command in result.stdout


def test_serve_offers_realism_and_message_move_tasks(serve):
    _, first = serve
    endpoint = first.removeprefix("endpoint: ")
    env = {"WORKSHOP_ENDPOINT": endpoint}
    script = """
import json, time, workshop
cloud = workshop.connect(participant="served", quiet=True)
sqs = cloud.client("sqs")
url = cloud.create_queue("realistic")
cloud.set_sqs_realism(url, duplicate=1.0)
sqs.send_message(QueueUrl=url, MessageBody="x")
first = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"][0]
again = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"][0]
assert again["MessageId"] == first["MessageId"], "no duplicate through workshop serve"
dlq = cloud.create_queue("dlq")
arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
policy = {"deadLetterTargetArn": arn, "maxReceiveCount": 1}
cloud.create_queue("src", RedrivePolicy=json.dumps(policy))
sqs.start_message_move_task(SourceArn=arn)
print(sqs.list_message_move_tasks(SourceArn=arn)["Results"][0]["Status"])
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in {"RUNNING", "COMPLETED"}


def test_serve_runs_lambda_functions_for_any_sdk(serve):
    _, first = serve
    script = """
import workshop
from workshop import lambdas
cloud = workshop.connect(participant="served-fn", quiet=True)
name = lambdas.deploy(cloud, "hello")
print(lambdas.invoke(cloud, name, {"name": "cli"})["message"])
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "WORKSHOP_ENDPOINT": first.removeprefix("endpoint: ")},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello, cli"
