"""Lambda helpers the notebooks share: deploy a folder of ``functions/``, read REPORT lines.

Both work the same on the local and the aws backend: ``deploy`` makes the zip and calls plain
``create_function``; ``reports`` reads CloudWatch Logs with ``filter_log_events``.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from workshop.backends import Backend

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"


def trust_policy(service: str) -> dict:
    """A role's trust policy: ``service`` (e.g. ``lambda.amazonaws.com``) may assume it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }


def put_policy(
    iam: Any, role: str, name: str, actions: str | list[str], resource: str, effect: str = "Allow"
) -> None:
    """Give ``role`` (name or ARN) the inline policy ``name``: one statement, ``effect`` on
    ``actions`` for ``resource``. Putting it again replaces it."""
    statement = {"Effect": effect, "Action": actions, "Resource": resource}
    iam.put_role_policy(
        RoleName=role.rsplit("/", 1)[-1],
        PolicyName=name,
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )


TRUST_POLICY = trust_policy("lambda.amazonaws.com")
LOGGING_POLICY = {  # what AWS's AWSLambdaBasicExecutionRole allows, written inline
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
}
REPORT = re.compile(
    r"REPORT RequestId: (?P<request_id>\S+)\s+Duration: (?P<duration_ms>[\d.]+) ms\s+"
    r"Billed Duration: (?P<billed_ms>\d+) ms\s+Memory Size: (?P<memory_mb>\d+) MB\s+"
    r"Max Memory Used: (?P<max_memory_mb>\d+) MB"
    r"(?:\s+Init Duration: (?P<init_ms>[\d.]+) ms)?"
    r"(?:\s+Restore Duration: (?P<restore_ms>[\d.]+) ms)?"
)


def zip_folder(folder: Path) -> bytes:
    """The folder's files as a deployment package (paths relative to the folder)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"No function folder {folder}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def execution_role(cloud: Backend) -> str:
    """The participant's role for their functions (created once): Lambda may assume it, and
    it may write logs. On AWS a new role takes a few seconds before Lambda accepts it."""
    iam, name = cloud.client("iam"), cloud.name("lambda-role")
    try:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
    arn = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
        Tags=cloud.tag_list(),
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=name, PolicyName="write-logs", PolicyDocument=json.dumps(LOGGING_POLICY)
    )
    return arn


def deploy(cloud: Backend, folder: str, *, name: str | None = None, **options: Any) -> str:
    """Create (or replace) a function from ``functions/<folder>`` and return its name.

    ``options`` are those of :func:`deploy_code` (``handler``, ``runtime``) and of
    ``create_function`` (``MemorySize=256``, ``Timeout=5``, ``Environment={...}``).
    """
    code = zip_folder(FUNCTIONS_DIR / folder)
    return deploy_code(cloud, name or folder.replace("_", "-"), code, **options)


def deploy_code(
    cloud: Backend,
    base: str,
    code: bytes,
    *,
    handler: str = "app.handler",
    runtime: str = "python3.12",
    **configuration: Any,
) -> str:
    """Create (or replace) a function from zip bytes, with the participant's name, tags and
    execution role, and wait until it is active; return its name."""
    aws_lambda = cloud.client("lambda")
    function_name = cloud.name(base)
    role = execution_role(cloud)
    with contextlib.suppress(aws_lambda.exceptions.ResourceNotFoundException):
        aws_lambda.delete_function(FunctionName=function_name)
    deadline = time.monotonic() + 30
    while True:
        try:
            aws_lambda.create_function(
                FunctionName=function_name,
                Runtime=runtime,
                Role=role,
                Handler=handler,
                Code={"ZipFile": code},
                Tags=cloud.tags,
                **configuration,
            )
            break
        except aws_lambda.exceptions.InvalidParameterValueException as error:
            # AWS: "The role defined for the function cannot be assumed by Lambda" for a few
            # seconds after the role is created.
            if "cannot be assumed" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(2)
    aws_lambda.get_waiter("function_active_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    return function_name


def invoke(cloud: Backend, function_name: str, event: Any = None, **options: Any) -> dict:
    """Invoke and return the decoded payload, with the error marker if there was one."""
    response = cloud.client("lambda").invoke(
        FunctionName=function_name, Payload=json.dumps(event or {}).encode(), **options
    )
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        return {"FunctionError": response["FunctionError"], **(payload or {})}
    return payload


def parse_reports(lines: list[str]) -> pd.DataFrame:
    """REPORT lines as a table: one row per invocation, durations in ms, memory in MB."""
    rows = []
    for line in lines:
        match = REPORT.search(line)
        if match:
            row: dict[str, Any] = match.groupdict()
            for key in ("duration_ms", "init_ms", "restore_ms"):
                row[key] = float(row[key]) if row[key] is not None else math.nan
            for key in ("billed_ms", "memory_mb", "max_memory_mb"):
                row[key] = int(row[key])
            # A snapshot restore is a new environment too: a cold start, only a shorter one.
            row["cold_start"] = not (math.isnan(row["init_ms"]) and math.isnan(row["restore_ms"]))
            rows.append(row)
    columns = [
        "request_id",
        "duration_ms",
        "billed_ms",
        "memory_mb",
        "max_memory_mb",
        "init_ms",
        "restore_ms",
        "cold_start",
    ]
    return pd.DataFrame(rows, columns=columns)


def reports(cloud: Backend, function_name: str, *, since_ms: int = 0) -> pd.DataFrame:
    """Every REPORT line of a function in CloudWatch Logs, as :func:`parse_reports` gives
    them (on AWS, logs arrive a few seconds after the invocation)."""
    logs = cloud.client("logs")
    lines: list[str] = []
    try:
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{function_name}",
            filterPattern='"REPORT RequestId"',
            startTime=since_ms,
        )
        for page in pages:
            lines += [event["message"] for event in page.get("events", [])]
    except logs.exceptions.ResourceNotFoundException:
        pass
    return parse_reports(lines)
