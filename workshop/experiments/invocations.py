"""Experiments of notebook 05 (Lambda functions): timed invocations, cold against warm starts,
simultaneous calls and throttling.

Every invocation is synchronous with ``LogType="Tail"``, so each answer carries the last 4 KB of
its own log, REPORT line included: what the caller waited for (measured here) and what Lambda
measured and billed (read from the REPORT line) end up in the same row, with no need to match
log lines to calls afterwards. Both work the same on the local and the aws backend.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any

import pandas as pd
from botocore.exceptions import ClientError
from tqdm.auto import tqdm

from workshop import lambdas
from workshop.experiments.threads import Workers, print_final_state

if TYPE_CHECKING:
    from workshop.backends import Backend

COLUMNS = [
    "started_s",
    "ended_s",
    "latency_ms",
    "status",
    "error",
    "environment",
    "cold_start",
    "duration_ms",
    "billed_ms",
    "init_ms",
    "restore_ms",
    "memory_mb",
    "max_memory_mb",
]
BAR_DELAY_S = 2.0
"""A progress bar shows only for a run longer than this: a bar for a blink is noise."""
REPORT_FIELDS = ["duration_ms", "billed_ms", "init_ms", "restore_ms", "memory_mb", "max_memory_mb"]


def call(
    aws_lambda: Any,
    function_name: str,
    event: Any = None,
    *,
    qualifier: str | None = None,
    t0: float | None = None,
) -> dict[str, Any]:
    """Invoke once, synchronously, and return one row: the caller's timing and the REPORT line.

    ``started_s`` and ``ended_s`` count from ``t0`` (a :func:`time.perf_counter` value; the
    call's own start if None). ``status`` is the HTTP status (200, or 429 for a throttled call);
    ``error`` is the function's ``errorType`` or the API's error code; ``environment`` is the
    ``environment`` field of the function's answer, if it has one (counter and faulty do).
    An API error does not raise: a throttled call is a result of the experiment.
    """
    params: dict[str, Any] = {
        "FunctionName": function_name,
        "Payload": json.dumps(event if event is not None else {}).encode(),
        "LogType": "Tail",
    }
    if qualifier is not None:
        params["Qualifier"] = qualifier
    started = time.perf_counter()
    t0 = started if t0 is None else t0
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    try:
        response = aws_lambda.invoke(**params)
        payload = json.loads(response["Payload"].read() or b"null")
    except ClientError as failure:
        ended = time.perf_counter()
        row.update(
            status=failure.response["ResponseMetadata"]["HTTPStatusCode"],
            error=failure.response["Error"]["Code"],
        )
        payload, log = None, ""
    else:
        ended = time.perf_counter()
        row["status"] = response["StatusCode"]
        if response.get("FunctionError"):
            row["error"] = (payload or {}).get("errorType", response["FunctionError"])
        log = base64.b64decode(response.get("LogResult") or b"").decode(errors="replace")
    row.update(
        started_s=started - t0,
        ended_s=ended - t0,
        latency_ms=(ended - started) * 1000,
        payload=payload,
    )
    if isinstance(payload, dict) and "environment" in payload:
        row["environment"] = payload["environment"]
    report = lambdas.parse_reports(log.splitlines())
    if len(report):
        row.update({key: report.iloc[-1][key] for key in REPORT_FIELDS})
        row["cold_start"] = bool(report.iloc[-1]["cold_start"])
    return row


def table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows of :func:`call` as a DataFrame with numeric columns where numbers belong."""
    frame = pd.DataFrame(rows, columns=[*COLUMNS, "payload"])
    for column in ("duration_ms", "init_ms", "restore_ms"):
        frame[column] = pd.to_numeric(frame[column])
    for column in ("billed_ms", "memory_mb", "max_memory_mb"):
        frame[column] = pd.to_numeric(frame[column]).astype("Int64")
    return frame


def wait_until_updated(aws_lambda: Any, function_name: str) -> None:
    """Wait (at most 60 s) until a configuration change has been applied.

    On AWS ``update_function_configuration`` returns while the change is still in progress, and
    an invoke in that time runs the old configuration; locally the change is immediate.
    """
    aws_lambda.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )


def cold_and_warm(
    cloud: Backend, function_name: str, *, cold_starts: int = 4, warm_calls: int = 15
) -> pd.DataFrame:
    """Force ``cold_starts`` cold starts and follow each with ``warm_calls`` warm calls.

    Each round changes an environment variable (a configuration change), publishes a version
    and invokes that version: a new version has no execution environment yet, so its first call
    is a cold start, and the calls after it find the environment warm. A new version is the
    clean way to get a fresh environment, on AWS as locally: every round's calls go to their own
    numbered version, with no environment of an earlier round in the way. Whether a call was
    cold is read from its REPORT line (``Init Duration``, or ``Restore Duration`` for a
    snapshot start), not assumed. The progress bar appears only when the run takes more than
    2 s (on AWS; locally it is over sooner).
    """
    aws_lambda = cloud.client("lambda")
    variables = dict(
        (
            aws_lambda.get_function_configuration(FunctionName=function_name).get("Environment")
            or {}
        ).get("Variables", {})
    )
    rows: list[dict[str, Any]] = []
    run = secrets.token_hex(3)
    started = time.monotonic()
    with tqdm(
        total=cold_starts * (1 + warm_calls), desc="invocations", unit="call", delay=BAR_DELAY_S
    ) as bar:
        for round_number in range(cold_starts):
            variables["COLD_START_ROUND"] = f"{run}-{round_number}"
            aws_lambda.update_function_configuration(
                FunctionName=function_name, Environment={"Variables": variables}
            )
            wait_until_updated(aws_lambda, function_name)
            version = aws_lambda.publish_version(FunctionName=function_name)["Version"]
            aws_lambda.get_waiter("published_version_active").wait(
                FunctionName=function_name,
                Qualifier=version,
                WaiterConfig={"Delay": 1, "MaxAttempts": 60},
            )
            for number in range(1 + warm_calls):
                row = call(aws_lambda, function_name, {"name": "cold-and-warm"}, qualifier=version)
                row.update(version=version, call=number)
                rows.append(row)
                bar.update()
    if time.monotonic() - started >= BAR_DELAY_S:
        print_final_state(bar)  # the bar's final count, for a saved notebook
    frame = table(rows).assign(version=[r["version"] for r in rows], call=[r["call"] for r in rows])
    frame["start"] = frame["cold_start"].map({True: "cold", False: "warm"})
    return frame[["version", "call", "start", *COLUMNS]]


def burst(
    aws_lambda: Any,
    function_name: str,
    *,
    calls: int,
    seconds: float,
    waves: int = 1,
    pause: float = 0.2,
) -> pd.DataFrame:
    """Start ``calls`` invocations at the same moment, ``waves`` times, and time each one.

    Each call asks the function to sleep ``seconds`` (the counter function's ``sleep``), so the
    calls of a wave overlap and Lambda must run them in different environments, or throttle
    them. Threads wait on one start signal so that they call together; a wave begins
    ``pause`` seconds after the previous one ended. Pass a client without retries to see
    throttled calls as they are (botocore retries a 429 on its own).
    """
    rows: list[dict[str, Any]] = []
    lock = threading.Lock()
    t0 = time.perf_counter()
    for wave in range(waves):
        go = threading.Event()
        workers = Workers()

        def one(caller: int, wave: int = wave, go: threading.Event = go) -> None:
            go.wait(10)
            row = call(aws_lambda, function_name, {"sleep": seconds}, t0=t0)
            row.update(wave=wave + 1, caller=caller)
            with lock:
                rows.append(row)

        for caller in range(calls):
            workers.start(f"invoke-{caller}", one, caller)
        go.set()
        workers.wait(deadline=time.perf_counter() + seconds + 60)
        time.sleep(pause)
    frame = table(rows).assign(wave=[r["wave"] for r in rows], caller=[r["caller"] for r in rows])
    frame["outcome"] = frame["status"].map(lambda s: "ran" if s == 200 else "throttled")
    frame = frame.sort_values(["wave", "started_s"], ignore_index=True)
    return frame[["wave", "caller", "outcome", *COLUMNS]]


def wait_for_reports(
    cloud: Backend, function_name: str, at_least: int, *, timeout: float = 30.0
) -> pd.DataFrame:
    """The function's REPORT lines once at least ``at_least`` are in CloudWatch Logs.

    On AWS log lines arrive a few seconds after the invocation; locally at once. Returns what
    is there when ``timeout`` runs out, even if it is fewer.
    """
    deadline = time.monotonic() + timeout
    while True:
        reports = lambdas.reports(cloud, function_name)
        if len(reports) >= at_least or time.monotonic() > deadline:
            return reports
        time.sleep(1.0)
