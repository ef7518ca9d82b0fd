"""Lambda on the local backend: real environment processes under the real runtime client."""

from __future__ import annotations

import base64
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.config import Config
from conftest import invoke, zipped

REPORT = re.compile(
    r"^REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: \d+\.\d{2} ms\tBilled Duration: "
    r"(?P<billed>\d+) ms\tMemory Size: 128 MB\tMax Memory Used: (?P<mem>\d+) MB"
    r"(\tInit Duration: (?P<init>\d+\.\d{2}) ms)?$"
)


def test_cold_then_warm_with_report_lines(cloud, deploy):
    name = deploy()
    first, body = invoke(cloud, name, {"n": 1}, LogType="Tail")
    assert first["StatusCode"] == 200 and "FunctionError" not in first
    assert body["invocations"] == 1 and body["n"] == 1
    log = base64.b64decode(first["LogResult"]).decode().splitlines()
    assert log[0].startswith("INIT_START Runtime Version: python:3.12")  # a new environment
    assert log[1] == f"START RequestId: {body['request_id']} Version: $LATEST"
    assert "probe invocation 1" in log
    assert log[-2] == f"END RequestId: {body['request_id']}"
    cold = REPORT.match(log[-1])
    assert cold and cold["init"] is not None and int(cold["mem"]) > 1
    assert int(cold["billed"]) >= float(cold["init"])  # Init is billed

    second, warm_body = invoke(cloud, name, {"n": 2}, LogType="Tail")
    warm = REPORT.match(base64.b64decode(second["LogResult"]).decode().splitlines()[-1])
    assert warm and warm["init"] is None  # Init Duration only on a cold start
    assert warm_body["invocations"] == 2 and warm_body["pid"] == body["pid"]  # reused
    assert warm_body["request_id"] != body["request_id"]
    assert 0 < warm_body["remaining_ms"] <= 3000


def test_standard_and_function_variables(cloud, deploy):
    name = deploy(Environment={"Variables": {"GREETING": "hej"}}, MemorySize=256)
    _, body = invoke(cloud, name)
    env = body["env"]
    assert env["GREETING"] == "hej"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_ENDPOINT_URL"] == cloud.endpoint_url or env["AWS_ENDPOINT_URL"].startswith(
        "http://127.0.0.1:"
    )
    assert "AWS_LAMBDA_MAX_CONCURRENCY" not in env


def test_code_in_the_function_reaches_the_same_backend(cloud, deploy):
    name = deploy()
    queue = cloud.create_queue("from-lambda")
    _, body = invoke(cloud, name, {"action": "send", "queue_url": queue})
    assert "errorMessage" not in body
    got = cloud.client("sqs").receive_message(QueueUrl=queue, WaitTimeSeconds=2)["Messages"]
    assert got[0]["Body"] == "from lambda"


def test_handler_error_has_aws_shape_and_the_next_call_works(cloud, deploy):
    name = deploy()
    response, error = invoke(cloud, name, {"action": "fail", "n": 3})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "failed on purpose 3"
    assert len(error["requestId"]) == 36 and isinstance(error["stackTrace"], list)
    _, body = invoke(cloud, name)
    assert body["invocations"] == 2  # a handler error does not cost the environment


def test_timeout_kills_the_environment_and_the_next_call_starts_fresh(cloud, deploy):
    name = deploy(Timeout=1)
    _, first = invoke(cloud, name)
    response, error = invoke(cloud, name, {"action": "sleep", "seconds": 5})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(
        r"RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds",
        error["errorMessage"],
    )
    _, after = invoke(cloud, name)
    assert after["invocations"] == 1 and after["pid"] != first["pid"]


def test_a_crash_is_a_runtime_exit_error_and_the_next_call_works(cloud, deploy):
    name = deploy()
    response, error = invoke(cloud, name, {"action": "exit"})
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert "exit status 7" in error["errorMessage"]
    _, after = invoke(cloud, name, {"n": 9})
    assert after["n"] == 9


def test_memory_beyond_the_memory_size_fails_as_out_of_memory(cloud, deploy):
    name = deploy()  # 128 MB
    _, fine = invoke(cloud, name, {"action": "allocate", "mb": 20})
    assert fine["invocations"] == 1
    response, error = invoke(cloud, name, {"action": "allocate", "mb": 200}, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.OutOfMemory"
    report = REPORT.match(base64.b64decode(response["LogResult"]).decode().splitlines()[-1])
    assert report and int(report["mem"]) == 128  # AWS reports at most the memory size
    _, after = invoke(cloud, name, {"n": 1})
    assert after["n"] == 1 and after["pid"] != fine["pid"]


def test_an_init_error_has_an_empty_request_id(cloud, deploy):
    name = deploy("broken", module="broken")
    response, error = invoke(cloud, name)
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ImportModuleError"
    assert error["requestId"] == ""
    assert "this_module_does_not_exist" in error["errorMessage"]


def test_a_configuration_change_forces_a_cold_start(cloud, deploy):
    name = deploy()
    _, before = invoke(cloud, name)
    cloud.client("lambda").update_function_configuration(
        FunctionName=name, Environment={"Variables": {"GREETING": "new"}}
    )
    response, after = invoke(cloud, name, LogType="Tail")
    assert after["pid"] != before["pid"] and after["env"]["GREETING"] == "new"
    assert "Init Duration" in base64.b64decode(response["LogResult"]).decode()


def test_concurrent_calls_get_their_own_environments(cloud, deploy):
    name = deploy()
    with ThreadPoolExecutor(6) as pool:
        bodies = list(
            pool.map(
                lambda n: invoke(cloud, name, {"action": "sleep", "seconds": 0.4, "n": n})[1],
                range(6),
            )
        )
    assert sorted(b["n"] for b in bodies) == list(range(6))
    assert len({b["pid"] for b in bodies}) == 6
    assert len({b["request_id"] for b in bodies}) == 6


def test_reserved_concurrency_throttles_with_429(cloud, deploy):
    name = deploy()
    cloud.client("lambda").put_function_concurrency(
        FunctionName=name, ReservedConcurrentExecutions=1
    )
    no_retry = cloud.session.client(
        "lambda", endpoint_url=cloud.endpoint_url, config=Config(retries={"total_max_attempts": 1})
    )

    def call(n: int) -> str:
        try:
            no_retry.invoke(
                FunctionName=name, Payload=json.dumps({"action": "sleep", "seconds": 0.5}).encode()
            )["Payload"].read()
        except no_retry.exceptions.TooManyRequestsException as error:
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429
            return "throttled"
        return "ran"

    with ThreadPoolExecutor(3) as pool:
        results = sorted(pool.map(call, range(3)))
    assert results.count("ran") == 1 and results.count("throttled") == 2


def test_event_invocations_run_in_the_background(cloud, deploy):
    name = deploy()
    queue = cloud.create_queue("async")
    response = cloud.client("lambda").invoke(
        FunctionName=name,
        InvocationType="Event",
        Payload=json.dumps({"action": "send", "queue_url": queue}).encode(),
    )
    assert response["StatusCode"] == 202
    got = cloud.client("sqs").receive_message(QueueUrl=queue, WaitTimeSeconds=5)
    assert got["Messages"][0]["Body"] == "from lambda"


def test_logs_reach_cloudwatch(cloud, deploy, server):
    name = deploy()
    _, body = invoke(cloud, name)
    server.gateway.lambdas.flush_logs()
    logs = cloud.client("logs")
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    messages = [e["message"] for e in events]
    assert f"START RequestId: {body['request_id']} Version: $LATEST" in messages
    assert any(REPORT.match(m) for m in messages)
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert len(streams) == 1 and "[$LATEST]" in streams[0]["logStreamName"]


def test_unknown_function_is_aws_shaped(cloud):
    with pytest.raises(cloud.client("lambda").exceptions.ResourceNotFoundException):
        cloud.client("lambda").invoke(FunctionName=cloud.name("nothing"), Payload=b"{}")


def test_deleting_a_function_retires_its_environments(cloud, deploy, server):
    name = deploy()
    _, body = invoke(cloud, name)
    cloud.client("lambda").delete_function(FunctionName=name)
    deadline = time.monotonic() + 5
    while Path(f"/proc/{body['pid']}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (
        not Path(f"/proc/{body['pid']}").exists()
        or "Z" in Path(f"/proc/{body['pid']}/stat").read_text().split()[2]
    )


def test_many_calls_with_random_failures_each_get_their_own_answer(cloud, deploy):
    name = deploy()

    def call(n: int) -> None:
        event = {"n": n, "action": "fail" if n % 7 == 3 else None}
        response, body = invoke(cloud, name, event)
        if n % 7 == 3:
            assert response["FunctionError"] == "Unhandled"
            assert body["errorMessage"] == f"failed on purpose {n}"
        else:
            assert body["n"] == n

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(call, range(120)))


def test_stopping_the_cloud_stops_every_environment(client_kind):
    import boto3

    from workshop.local.server import LocalServer

    with LocalServer() as local:
        session = boto3.Session(
            aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1"
        )
        iam = session.client("iam", endpoint_url=local.endpoint_url)
        aws_lambda = session.client("lambda", endpoint_url=local.endpoint_url)
        name = f"stop-{client_kind}-{time.monotonic_ns()}"  # moto's state outlives servers
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        aws_lambda.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="probe.handler",
            Code={"ZipFile": zipped("probe")},
        )
        answer = aws_lambda.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
        pids = [json.loads(answer)["pid"]]
    assert pids and all(not Path(f"/proc/{pid}").exists() for pid in pids)


def test_provisioned_concurrency_initialises_environments_ahead_of_traffic(cloud, deploy):
    name = deploy()
    aws_lambda = cloud.client("lambda")
    with pytest.raises(aws_lambda.exceptions.InvalidParameterValueException):
        aws_lambda.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=2
        )
    version = aws_lambda.publish_version(FunctionName=name)["Version"]
    put = aws_lambda.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=3
    )
    assert put["RequestedProvisionedConcurrentExecutions"] == 3
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = aws_lambda.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
        if state["Status"] == "READY":
            break
        time.sleep(0.05)
    assert state["Status"] == "READY" and state["AvailableProvisionedConcurrentExecutions"] == 3
    with ThreadPoolExecutor(3) as pool:
        answers = list(
            pool.map(
                lambda n: invoke(
                    cloud,
                    name,
                    {"action": "sleep", "seconds": 0.3, "n": n},
                    Qualifier=version,
                    LogType="Tail",
                ),
                range(3),
            )
        )
    for response, body in answers:
        assert body["init_type"] == "provisioned-concurrency"
        assert body["env"]["AWS_LAMBDA_FUNCTION_VERSION"] == version
        assert "Init Duration" not in base64.b64decode(response["LogResult"]).decode()
    assert len({body["pid"] for _, body in answers}) == 3
    aws_lambda.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    with pytest.raises(aws_lambda.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        aws_lambda.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)


def test_snap_start_restores_published_versions_from_one_init(cloud, deploy):
    name = deploy(SnapStart={"ApplyOn": "PublishedVersions"})
    aws_lambda = cloud.client("lambda")
    latest = aws_lambda.get_function_configuration(FunctionName=name)
    assert latest["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    version = aws_lambda.publish_version(FunctionName=name)["Version"]
    published = aws_lambda.get_function_configuration(FunctionName=name, Qualifier=version)
    assert published["SnapStart"]["OptimizationStatus"] == "On"

    with ThreadPoolExecutor(3) as pool:
        answers = list(
            pool.map(
                lambda n: invoke(
                    cloud,
                    name,
                    {"action": "sleep", "seconds": 0.3},
                    Qualifier=version,
                    LogType="Tail",
                ),
                range(3),
            )
        )
    pids = set()
    for response, body in answers:
        report = base64.b64decode(response["LogResult"]).decode().splitlines()[-1]
        assert "Restore Duration:" in report and "Init Duration" not in report
        assert body["init_type"] == "snap-start"
        pids.add(body["pid"])
    assert len(pids) == 3  # three environments, restored from one initialised template
    with pytest.raises(aws_lambda.exceptions.InvalidParameterValueException):
        aws_lambda.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1
        )
    response, _ = invoke(cloud, name, LogType="Tail")  # $LATEST: an ordinary cold start
    assert "Init Duration" in base64.b64decode(response["LogResult"]).decode()


def test_an_idle_environment_retires_after_the_keep_alive(cloud, deploy, monkeypatch):
    from workshop.local import lambda_service

    monkeypatch.setattr(lambda_service, "KEEP_ALIVE_S", 0.5)
    name = deploy()
    _, first = invoke(cloud, name)
    _, warm = invoke(cloud, name)
    assert warm["pid"] == first["pid"]
    time.sleep(2.0)  # the keep-alive passes; the reaper looks once a second
    response, later = invoke(cloud, name, LogType="Tail")
    assert later["pid"] != first["pid"] and later["invocations"] == 1
    assert "Init Duration" in base64.b64decode(response["LogResult"]).decode()
    assert not Path(f"/proc/{first['pid']}").exists()


def test_new_code_retires_the_old_environments(cloud, deploy):
    import io
    import zipfile

    name = deploy()
    _, before = invoke(cloud, name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # same handler name, new code
        archive.writestr("probe.py", "def handler(event, context):\n    return {'code': 2}\n")
    cloud.client("lambda").update_function_code(FunctionName=name, ZipFile=buffer.getvalue())
    _, after = invoke(cloud, name)
    assert after == {"code": 2}
    deadline = time.monotonic() + 5
    while Path(f"/proc/{before['pid']}").exists() and time.monotonic() < deadline:
        if "Z" in Path(f"/proc/{before['pid']}/stat").read_text().split()[2]:
            break
        time.sleep(0.05)
    else:
        assert not Path(f"/proc/{before['pid']}").exists()


def test_a_repeated_statement_id_is_refused_as_on_aws(cloud, deploy):
    name = deploy()
    aws_lambda = cloud.client("lambda")
    permission = {
        "FunctionName": name,
        "StatementId": "api",
        "Action": "lambda:InvokeFunction",
        "Principal": "apigateway.amazonaws.com",
    }
    aws_lambda.add_permission(**permission)
    with pytest.raises(aws_lambda.exceptions.ResourceConflictException, match=r"\(api\)"):
        aws_lambda.add_permission(**permission)
    statements = json.loads(aws_lambda.get_policy(FunctionName=name)["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["api"]
