"""Experiments of notebook 06 (cold starts and microVMs): what a cold start is made of, how long
an environment stays warm, what a burst of calls costs, and the ways to start without Init.

Every call is synchronous with ``LogType="Tail"``, so each answer carries its own REPORT line:
``Init Duration`` marks a cold start, ``Restore Duration`` a start from a snapshot (SnapStart),
and neither a warm call or a provisioned environment. :func:`call` turns that into the column
``start`` (``cold``, ``restored`` or ``warm``) beside the latency the caller measured.

A fresh environment is forced the way AWS documents it: change an environment variable, then
publish a version (:func:`new_version`). A new version has no environment yet, so its first
call starts one. (Invoking ``$LATEST`` after the change would start cold too; on the local
backend that first call also waits while the replaced environment shuts down, which is not part
of a cold start, so the experiments invoke versions. ``benchmarks/lambda_starts.py`` measures
both.)

The functions here run against either backend. Two things exist only on a local cloud that
runs in this kernel, where an execution environment is a process the kernel can see: the
resident memory of an environment's process (:func:`environments`) and the keep-alive setting
(:func:`keep_alive_seconds`). On AWS both are Lambda's own business; a local cloud shared from
another process (``workshop serve``, reached through ``WORKSHOP_ENDPOINT``) keeps them in that
process. There these return None, and :func:`keep_alive_text` and :func:`environments_hidden`
say which of the two cases it is.
"""

from __future__ import annotations

import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from botocore.exceptions import ClientError
from tqdm.auto import tqdm

from workshop import lambdas
from workshop.experiments import invocations
from workshop.experiments.threads import Workers, print_final_state

if TYPE_CHECKING:
    from workshop.backends import Backend

COLUMNS = [
    "started_s",
    "ended_s",
    "latency_ms",
    "status",
    "error",
    "start",
    "init_ms",
    "restore_ms",
    "duration_ms",
    "billed_ms",
    "max_memory_mb",
    "environment",
]
WAIT_FOR_AWS_S = 600.0
"""How long to wait for AWS to make a SnapStart snapshot or provisioned environments ready."""
PROGRESS_DELAY_S = 3.0
"""A progress bar appears only for a wait longer than this (on AWS); a short local run shows
just the final count, not a bar frozen at 0% in the saved notebook."""

# Published figures, with their sources (shared/aws-facts.md), for the comparison table.
LAMBDA_PERF = "lambda-perf (github.com/maxday/lambda-perf), 30 days to 2026-08-22"
FIRECRACKER_SPEC = "Firecracker SPECIFICATION.md"
NSDI_DATA = "firecracker-microvm/nsdi2020-data (NSDI 2020)"


# --- one call ------------------------------------------------------------------------------


def call(
    aws_lambda: Any,
    function_name: str,
    event: Any = None,
    *,
    qualifier: str | None = None,
    t0: float | None = None,
) -> dict[str, Any]:
    """Invoke once (:func:`workshop.experiments.invocations.call`) and say how the call started.

    ``start`` is ``cold`` (REPORT has Init Duration), ``restored`` (Restore Duration) or
    ``warm`` (neither: a warm environment, or one initialised ahead of traffic by provisioned
    concurrency); None for a call that never ran (a throttle, say).
    """
    measured = invocations.call(aws_lambda, function_name, event, qualifier=qualifier, t0=t0)
    row: dict[str, Any] = {key: measured.get(key) for key in COLUMNS}
    row["payload"] = measured["payload"]
    for key in ("init_ms", "restore_ms"):
        value = measured.get(key)
        row[key] = None if value is None or pd.isna(value) else float(value)
    if measured.get("cold_start") is not None:
        row["start"] = (
            "cold"
            if row["init_ms"] is not None
            else "restored"
            if row["restore_ms"] is not None
            else "warm"
        )
    return row


def table(rows: list[dict[str, Any]], *extra: str) -> pd.DataFrame:
    """Rows of :func:`call` as a DataFrame, numbers as numbers, ``extra`` columns first."""
    frame = pd.DataFrame(rows, columns=[*extra, *COLUMNS, "payload"])
    for column in ("latency_ms", "init_ms", "restore_ms", "duration_ms", "started_s", "ended_s"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in ("billed_ms", "max_memory_mb", "status"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame


def new_version(aws_lambda: Any, function_name: str, tag: str | None = None) -> str:
    """Change the environment variable ``WORKSHOP_START`` and publish a version; return it.

    The version has no execution environment yet: its first call starts one. The function's
    other variables are kept. On AWS the waits are real (a configuration change applies in the
    background, and a SnapStart version takes minutes to be ready); locally they return at once.
    """
    configuration = aws_lambda.get_function_configuration(FunctionName=function_name)
    variables = dict((configuration.get("Environment") or {}).get("Variables", {}))
    variables["WORKSHOP_START"] = tag or secrets.token_hex(4)
    aws_lambda.update_function_configuration(
        FunctionName=function_name, Environment={"Variables": variables}
    )
    aws_lambda.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    version = aws_lambda.publish_version(FunctionName=function_name)["Version"]
    aws_lambda.get_waiter("published_version_active").wait(
        FunctionName=function_name,
        Qualifier=version,
        WaiterConfig={"Delay": 5, "MaxAttempts": int(WAIT_FOR_AWS_S / 5)},
    )
    return version


def burst(
    aws_lambda: Any,
    function_name: str,
    calls: int,
    *,
    qualifier: str | None = None,
    seconds: float = 0.3,
    waves: int = 1,
    pause: float = 0.1,
    t0: float | None = None,
) -> pd.DataFrame:
    """``calls`` invocations released at the same moment, ``waves`` times; one row per call.

    Each call asks the function to sleep ``seconds`` (``{"sleep": seconds}``: the startup and
    counter functions understand it), so the calls of a wave overlap and each needs an
    environment of its own. A wave starts ``pause`` seconds after the previous one ended.
    For more than 10 calls at once, pass a client whose ``max_pool_connections`` is larger.
    """
    rows: list[dict[str, Any]] = []
    lock = threading.Lock()
    t0 = time.perf_counter() if t0 is None else t0
    for wave in range(1, waves + 1):
        go, workers = threading.Event(), Workers()

        def one(caller: int, wave: int = wave, go: threading.Event = go) -> None:
            go.wait(10)
            row = call(aws_lambda, function_name, {"sleep": seconds}, qualifier=qualifier, t0=t0)
            row.update(wave=wave, caller=caller)
            with lock:
                rows.append(row)

        for caller in range(calls):
            workers.start(f"burst-{caller}", one, caller)
        go.set()
        workers.wait(deadline=time.perf_counter() + seconds + 30)
        if wave < waves:
            time.sleep(pause)
    frame = table(rows, "wave", "caller")
    return frame.sort_values(["wave", "started_s"], ignore_index=True)


# --- floors: what starting a process costs on this machine ------------------------------------

_FORK_PROBE = """
import os, sys, time
{prelude}
samples = []
for _ in range({runs}):
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    samples.append((time.perf_counter() - start) * 1000)
print(" ".join(f"{{s:.4f}}" for s in samples))
"""


def _fork_samples(runs: int, prelude: str) -> list[float]:
    probe = _FORK_PROBE.format(runs=runs, prelude=prelude)
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return [float(value) for value in out.stdout.split()]


def start_floors(runs: int = 10) -> pd.DataFrame:
    """The cheapest ways to get a running Python on this machine, timed ``runs`` times each.

    - ``python -c pass``: start an interpreter that does nothing, and wait for it to exit. An
      environment's cold start here cannot be faster than this.
    - ``os.fork()``: copy a running Python process, and wait for the copy to exit: the floor
      of a snapshot start (the local backend restores SnapStart environments by forking an
      initialised process). Measured in a fresh interpreter, and in one that has imported
      boto3 first, since a larger process takes longer to copy.
    """
    starts = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=30)
        starts.append((time.perf_counter() - started) * 1000)
    measured = {
        "python -c pass": starts,
        "os.fork() of a bare Python": _fork_samples(runs, ""),
        "os.fork() after import boto3": _fork_samples(runs, "import boto3"),
    }
    return pd.DataFrame(
        [
            {
                "floor": name,
                "median_ms": statistics.median(samples),
                "min_ms": min(samples),
                "max_ms": max(samples),
                "runs": len(samples),
            }
            for name, samples in measured.items()
        ]
    )


# --- the local cloud's own view: environments as processes --------------------------------


def _local_lambda_service(cloud: Backend) -> Any | None:
    """The LambdaService of this kernel's local cloud, if ``cloud`` talks to it; else None
    (the aws backend, or a local cloud in another process, such as ``workshop serve``)."""
    if cloud.kind != "local":
        return None
    from workshop.local import server

    shared = server._shared
    if shared is None or not shared.running or shared.endpoint_url != cloud.endpoint_url:
        return None
    return shared._gateway.lambdas


def keep_alive_seconds(cloud: Backend) -> float | None:
    """How long this kernel's local cloud keeps an idle environment. None where the kernel
    cannot know: on AWS it is Lambda's own, unpublished, choice; a local cloud in another
    process uses the setting of that process."""
    if _local_lambda_service(cloud) is None:
        return None
    from workshop.local import lambda_service

    return lambda_service.KEEP_ALIVE_S


def shared_from_elsewhere(cloud: Backend) -> bool:
    """True for a local cloud that runs in another process (``workshop serve``, reached
    through ``WORKSHOP_ENDPOINT``): settings made in this kernel do not reach it."""
    return cloud.kind == "local" and bool(cloud.settings.endpoint)


def keep_alive_text(cloud: Backend) -> str:
    """One line on whose keep-alive applies to ``cloud``, for notebook 06's setup cell."""
    if shared_from_elsewhere(cloud):
        return (
            "keep-alive: that of the shared local cloud in another process (`workshop serve`): "
            "WORKSHOP_LAMBDA_KEEP_ALIVE in its terminal, 60 s unless changed there. The 0.5 s "
            "set in this kernel does not apply to it: expect section 2's calls to stay warm."
        )
    seconds = keep_alive_seconds(cloud)
    if seconds is not None:
        return f"keep-alive: {seconds:g} s (the local cloud of this kernel)"
    if cloud.kind == "local":
        return "keep-alive: unknown (a local cloud that this kernel does not run)"
    return "keep-alive: Lambda's own choice, not published"


def environments_hidden(cloud: Backend) -> str:
    """Why :func:`environments` has nothing to show on ``cloud``."""
    if cloud.kind == "local":
        return (
            "This local cloud runs in another process (`workshop serve`): its environments are "
            "that process's children, which this kernel does not look into."
        )
    return "On AWS an environment is a microVM: no process here to look at."


def rss_mb(pid: int) -> float | None:
    """Resident memory (VmRSS) of a process, in MiB, from /proc (Linux); None if unreadable."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def environments(cloud: Backend, function_name: str | None = None) -> pd.DataFrame | None:
    """The execution environments alive now, with each process's resident memory.

    Only on the local backend, where an environment is a process of this machine: columns
    ``function, environment, pid, invocations, rss_mb``. On AWS an environment is a microVM
    you cannot look into from outside, and this returns None.
    """
    service = _local_lambda_service(cloud)
    if service is None:
        return None
    rows = [
        {**{k: e[k] for k in ("function", "environment", "pid", "invocations")}, "rss_mb": None}
        for e in service.environments()
        if e["alive"] and (function_name is None or e["function"] == function_name)
    ]
    for row in rows:
        row["rss_mb"] = rss_mb(row["pid"])
    frame = pd.DataFrame(rows, columns=["function", "environment", "pid", "invocations", "rss_mb"])
    frame["rss_mb"] = frame["rss_mb"].astype(float)
    return frame


# --- Init against imports ------------------------------------------------------------------


def init_by_imports(
    cloud: Backend, functions: dict[str, str], *, rounds: int = 3, progress: bool = True
) -> pd.DataFrame:
    """Cold starts of functions that differ only in what their module imports.

    ``functions`` maps a label (``"stdlib only"``) to a deployed function's name. Each round
    makes a new version of every function and calls it once: a cold start. One row per cold
    start: ``handler, round, version, init_ms, duration_ms, latency_ms, max_memory_mb`` and,
    on the local backend, ``rss_mb``, the resident memory of the new environment's process
    right after its first call, when it sits idle (None on AWS).
    """
    aws_lambda = cloud.client("lambda")
    rows = []
    with tqdm(
        total=rounds * len(functions),
        desc="cold starts",
        unit="start",
        delay=PROGRESS_DELAY_S,
        disable=not progress,
    ) as bar:
        for round_number in range(1, rounds + 1):
            for label, name in functions.items():
                version = new_version(aws_lambda, name)
                before = environments(cloud, name)
                row = call(aws_lambda, name, qualifier=version)
                row.update(handler=label, round=round_number, version=version, rss_mb=None)
                after = environments(cloud, name)
                if before is not None and after is not None:
                    fresh = after[~after["environment"].isin(before["environment"])]
                    if len(fresh) == 1:
                        row["rss_mb"] = float(fresh["rss_mb"].iloc[0])
                rows.append(row)
                bar.update()
    if progress:
        print_final_state(bar)
    frame = table(rows, "handler", "round", "version")
    frame["rss_mb"] = pd.to_numeric(pd.Series([r["rss_mb"] for r in rows]), errors="coerce")
    return frame[
        [
            "handler",
            "round",
            "version",
            "start",
            "init_ms",
            "duration_ms",
            "latency_ms",
            "max_memory_mb",
            "rss_mb",
        ]
    ]


# --- how long an environment stays warm --------------------------------------------------------


def idle_gaps(
    cloud: Backend,
    *,
    gaps: tuple[float, ...] = (0.5, 1.5, 2.5),
    functions: int = 2,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Call a function, wait an idle gap, call it again: was the second call cold?

    ``functions`` copies of the counter function run side by side (to save time), each in a
    thread of its own, each trying every gap once in its own shuffled (seeded) order, after one
    first call that starts its environment. The gap actually waited is measured from the end
    of one call to the start of the next (``idle_s``). One row per call after a gap:
    ``function, gap_s, idle_s, start, latency_ms, init_ms``. The functions are deployed by the
    experiment (named ``idle-<n>-<random>``) and left for clean-up.
    """
    aws_lambda = cloud.client("lambda")
    run = secrets.token_hex(2)
    names = [lambdas.deploy(cloud, "counter", name=f"idle-{n}-{run}") for n in range(functions)]
    rows: list[dict[str, Any]] = []
    lock = threading.Lock()
    workers = Workers()
    t0 = time.perf_counter()

    def probe(number: int, name: str) -> None:
        order = list(gaps)
        random.Random(seed + number).shuffle(order)
        previous = call(aws_lambda, name, t0=t0)  # starts the environment
        for gap in order:
            wake = t0 + previous["ended_s"] + gap
            if workers.stop.wait(max(0.0, wake - time.perf_counter())):
                return
            row = call(aws_lambda, name, t0=t0)
            row.update(function=name, gap_s=gap, idle_s=row["started_s"] - previous["ended_s"])
            with lock:
                rows.append(row)
            previous = row

    for number, name in enumerate(names):
        workers.start(f"idle-{number}", probe, number, name)
    workers.wait(
        deadline=t0 + sum(gaps) + 30,
        progress=(lambda: len(rows)) if progress else None,
        total=functions * len(gaps),
        description="calls after an idle gap",
    )
    frame = table(rows, "function", "gap_s", "idle_s")
    frame["idle_s"] = frame["idle_s"].astype(float)
    frame = frame.sort_values(["gap_s", "function"], ignore_index=True)
    return frame[["function", "gap_s", "idle_s", "start", "latency_ms", "init_ms"]]


# --- bursts ---------------------------------------------------------------------------------


def bursts(
    cloud: Backend, function_name: str, *, sizes: tuple[int, ...] = (1, 4, 8), seconds: float = 0.3
) -> pd.DataFrame:
    """A burst of each size on a new version of the function: every call a cold start.

    The largest burst is sent twice, so that its second wave shows the same environments
    reused warm. One row per call: ``size, wave, caller`` and the columns of :func:`call`.
    """
    aws_lambda = cloud.client("lambda")
    frames = []
    for size in sizes:
        version = new_version(aws_lambda, function_name)
        waves = 2 if size == max(sizes) else 1
        frame = burst(
            aws_lambda, function_name, size, qualifier=version, seconds=seconds, waves=waves
        )
        frames.append(frame.assign(size=size, version=version))
    frame = pd.concat(frames, ignore_index=True)
    return frame[["size", "version", "wave", "caller", *COLUMNS, "payload"]]


# --- provisioned concurrency and snapshot starts ----------------------------------------------


def wait_until_provisioned(aws_lambda: Any, function_name: str, version: str) -> float:
    """Wait until the version's provisioned environments are ready; return the seconds taken.

    On AWS this takes minutes, and the wait is bounded by :data:`WAIT_FOR_AWS_S`.
    """
    started = time.monotonic()
    while True:
        state = aws_lambda.get_provisioned_concurrency_config(
            FunctionName=function_name, Qualifier=version
        )
        if state["Status"] == "READY":
            return time.monotonic() - started
        if state["Status"] == "FAILED":
            raise RuntimeError(f"Provisioned concurrency failed: {state.get('StatusReason')}")
        if time.monotonic() - started > WAIT_FOR_AWS_S:
            raise TimeoutError("Provisioned concurrency was not ready in time.")
        time.sleep(0.05 if time.monotonic() - started < 10 else 5)


def start_kinds(
    cloud: Backend,
    function_name: str,
    snap_start_name: str,
    *,
    calls: int = 3,
    seconds: float = 0.3,
) -> pd.DataFrame:
    """``calls`` simultaneous first calls on three kinds of version of the same code.

    - ``on demand``: a new version; every call starts an environment with Init.
    - ``provisioned``: a new version with ``calls`` environments of provisioned concurrency,
      initialised before the calls (the configuration is removed afterwards: on AWS it is
      billed for as long as it exists). If the backend refuses the setting (on AWS, an account
      whose concurrency quota leaves no room for it), this kind is skipped and the reason
      printed.
    - ``SnapStart``: a new version of ``snap_start_name`` (deployed with
      ``SnapStart={"ApplyOn": "PublishedVersions"}``). One call goes first, alone (row
      ``wave`` 0): on the local backend it makes the snapshot, which AWS makes when the
      version is published; then ``calls + 1`` calls together, one of which finds that first
      environment warm while the others are restored from the snapshot.

    One row per call: ``kind, wave`` and the columns of :func:`call`, plus ``made_in_init`` and
    ``init_type`` from the startup function's answer.
    """
    aws_lambda = cloud.client("lambda")
    frames = []
    with tqdm(total=3, desc="kinds of start", unit="kind", delay=PROGRESS_DELAY_S) as bar:
        version = new_version(aws_lambda, function_name)
        frame = burst(aws_lambda, function_name, calls, qualifier=version, seconds=seconds)
        frames.append(frame.assign(kind="on demand"))
        bar.update()

        version = new_version(aws_lambda, function_name)
        try:
            aws_lambda.put_provisioned_concurrency_config(
                FunctionName=function_name,
                Qualifier=version,
                ProvisionedConcurrentExecutions=calls,
            )
        except ClientError as refused:
            error = refused.response["Error"]
            print(
                f"Provisioned concurrency was refused ({error.get('Code')}: "
                f"{error.get('Message')}); this run skips it."
            )
        else:
            try:
                wait_until_provisioned(aws_lambda, function_name, version)
                frame = burst(aws_lambda, function_name, calls, qualifier=version, seconds=seconds)
                frames.append(frame.assign(kind="provisioned"))
            finally:
                with suppress(ClientError):
                    aws_lambda.delete_provisioned_concurrency_config(
                        FunctionName=function_name, Qualifier=version
                    )
        bar.update()

        version = new_version(aws_lambda, snap_start_name)
        first = table([call(aws_lambda, snap_start_name, qualifier=version)], "wave", "caller")
        first = first.assign(wave=0, caller=0)
        frame = burst(aws_lambda, snap_start_name, calls + 1, qualifier=version, seconds=seconds)
        frames.append(pd.concat([first, frame], ignore_index=True).assign(kind="SnapStart"))
        bar.update()
    print_final_state(bar)
    frame = pd.concat(frames, ignore_index=True)
    answers = frame["payload"].map(lambda p: p if isinstance(p, dict) else {})
    frame["made_in_init"] = answers.map(lambda p: p.get("made_in_init"))
    frame["init_type"] = answers.map(lambda p: p.get("init_type"))
    return frame[["kind", "wave", "caller", *COLUMNS, "made_in_init", "init_type"]]


# --- this machine against the published figures ------------------------------------------------


def comparison(floors: pd.DataFrame, imports: pd.DataFrame) -> pd.DataFrame:
    """This machine's measurements beside AWS's and Firecracker's published figures.

    ``floors`` is :func:`start_floors`' table, ``imports`` :func:`init_by_imports`' (with the
    labels ``"stdlib only"``, ``"boto3"`` and ``"pandas"``). Published figures come from
    ``shared/aws-facts.md``, each with its source.
    """
    floor = floors.set_index("floor")["median_ms"]
    cold = imports[imports["start"] == "cold"]
    init = cold.groupby("handler")["init_ms"].median()
    rss = cold.groupby("handler")["rss_mb"].median().dropna()

    def ms(value: float | None) -> str:
        if value is None or value != value:
            return "–"
        return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"

    def extra(label: str) -> str:
        if label not in init or "stdlib only" not in init:
            return "–"
        return f"+{init[label] - init['stdlib only']:,.0f} ms"

    memory = (
        "–"
        if rss.empty
        else ", ".join(f"{value:,.0f} MiB ({label})" for label, value in rss.sort_values().items())
    )
    here = "this machine"
    rows = [
        ("Start a Python process (python -c pass)", ms(floor.get("python -c pass")), "–", here),
        (
            "Copy a running Python process (os.fork)",
            f"{ms(floor.get('os.fork() of a bare Python'))} bare; "
            f"{ms(floor.get('os.fork() after import boto3'))} after import boto3",
            "–",
            here,
        ),
        (
            "Start an isolated sandbox",
            "none: an environment is a process",
            "≤ 125 ms microVM start to guest init (spec); about 160 ms median boot, "
            "process start included (NSDI data); QEMU microvm about 580 ms",
            f"{FIRECRACKER_SPEC}; {NSDI_DATA}",
        ),
        (
            "Init Duration, handler importing nothing",
            ms(init.get("stdlib only")),
            "about 85 ms median, 120 to 140 ms p99 (python3.12/3.13 zip, 128 MB)",
            LAMBDA_PERF,
        ),
        (
            "Init Duration added by import boto3",
            extra("boto3"),
            "about +270 to 310 ms",
            LAMBDA_PERF,
        ),
        (
            "Init Duration added by import pandas",
            extra("pandas"),
            "not in our sources (on AWS pandas needs a layer)",
            "–",
        ),
        (
            "Resident memory of an idle environment",
            memory,
            "counted inside the microVM's memory size; not visible from outside",
            "–",
        ),
        (
            "Isolation overhead per sandbox",
            "none measured: processes share one kernel",
            "≤ 5 MiB per microVM (spec); about 2.5 MiB measured (NSDI data)",
            f"{FIRECRACKER_SPEC}; {NSDI_DATA}",
        ),
    ]
    return pd.DataFrame(rows, columns=["quantity", "this machine", "AWS / Firecracker", "source"])
