"""Redelivery measured: crashed workers, killed processes, slow jobs and heartbeats.

A received message is hidden, not removed: unless a consumer deletes it, it becomes visible
again when its visibility timeout runs out and the next receive gets it. Three experiments
watch that happen on queues with short (1 to 2 s) visibility timeouts:

- :func:`crash_and_redeliver`: worker threads that crash before deleting share a queue with
  workers that succeed; every receive of every message is recorded, with SQS's
  ``ApproximateReceiveCount``, so the redeliveries can be drawn on one timeline.
- :func:`kill_workers`: worker *processes* (``worker_process.py``) are killed with SIGKILL in
  the middle of a job; their jobs come back and another process finishes them.
- :func:`compare_heartbeat`: jobs longer than the visibility timeout, without and with a
  heartbeat (``ChangeMessageVisibility`` every so often), side by side.

Times are seconds since the experiment started, taken from this process's clock when a receive
returned (or, for worker processes, when their report of it arrived): that is when the queue
handed the message over, as a consumer sees it. Each run creates fresh queues (a random suffix),
so a rerun never collides with a queue name deleted less than 60 s ago.

>>> result = crash_and_redeliver(cloud, messages=6)        # doctest: +SKIP
>>> result.summary                                          # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from botocore.exceptions import ClientError
from tqdm.auto import tqdm

from workshop.experiments.backlog import depth
from workshop.experiments.threads import Workers, print_final_state

if TYPE_CHECKING:
    from workshop.backends import Backend

RECEIVE_COUNT = ["ApproximateReceiveCount"]
"""What to pass as ``MessageSystemAttributeNames`` to learn how often a message was received."""

WORKER_SCRIPT = Path(__file__).with_name("worker_process.py")


def fresh_queue(cloud: Backend, base: str, **attributes: Any) -> str:
    """A new queue for one run, ``<base>-<random>``: a rerun never reuses a deleted name."""
    return cloud.create_queue(f"{base}-{secrets.token_hex(3)}", **attributes)


def send_jobs(sqs: Any, queue_url: str, jobs: int, run: str) -> None:
    """Send ``jobs`` messages ``{"run": run, "seq": k}``, ten per call."""
    for start in range(0, jobs, 10):
        entries = [
            {"Id": str(seq), "MessageBody": json.dumps({"run": run, "seq": seq})}
            for seq in range(start, min(start + 10, jobs))
        ]
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"Could not send the jobs: {response['Failed']}")


def settled_depth(sqs: Any, queue_url: str, *, expect_empty: bool, seconds: float = 10.0) -> int:
    """Messages left in the queue, visible or in flight.

    Locally the counts are exact at once. On AWS they are approximate and may trail a delete
    by a little, so when the run says the queue should be empty, give them ``seconds`` to agree.
    """
    end = time.perf_counter() + seconds
    while True:
        left = sum(depth(sqs, queue_url))
        if left == 0 or not expect_empty or time.perf_counter() >= end:
            return left
        time.sleep(0.5)


def _seq(message: dict[str, Any]) -> int | None:
    try:
        return int(json.loads(message["Body"])["seq"])
    except (ValueError, KeyError, TypeError):
        return None


def _receive_count(message: dict[str, Any]) -> int:
    return int(message.get("Attributes", {}).get("ApproximateReceiveCount", 0))


def _long_poll(wait_seconds: int, deadline: float) -> int:
    """The whole seconds a long poll may wait without outlasting ``deadline`` (0: stop)."""
    return max(0, min(wait_seconds, int(deadline - time.perf_counter())))


# --- 1. crashing and succeeding workers on one queue ------------------------------------------

RECEIVE_COLUMNS = {
    "seq": int,
    "worker": str,
    "kind": str,
    "receive_count": int,
    "received_at": float,
    "ended_at": float,
    "outcome": str,
}


@dataclass
class TimelineResult:
    """What :func:`crash_and_redeliver` measured."""

    receives: pd.DataFrame
    """One row per receive: seq, worker, kind ("crashes" or "succeeds"), receive_count (SQS's
    ApproximateReceiveCount), received_at, ended_at (the crash, or the delete) and outcome
    ("crashed", "processed", "processed again")."""
    redeliveries: pd.DataFrame
    """One row per message that came back after a crash: seq, crashed_worker, next_worker,
    receive_count, after_s (from the receive to the next one) and late_s (after_s minus the
    visibility timeout: how long the message waited, visible, for a receive to take it)."""
    summary: pd.DataFrame
    """One row: sent, receives, crashes, processed, processed_again, missing, left_in_queue,
    max_receive_count, median_late_s, worst_late_s (seconds, like ``late_s``)."""
    visibility_timeout: int
    seconds: float


def crash_and_redeliver(
    cloud: Backend,
    *,
    messages: int = 8,
    visibility_timeout: int = 1,
    crashing_workers: int = 1,
    good_workers: int = 2,
    crash_after: float = 0.1,
    restart_seconds: float = 0.2,
    work_seconds: float = 0.3,
    wait_seconds: int = 1,
    deadline_seconds: float = 15.0,
    progress: bool = True,
) -> TimelineResult:
    """Let workers that crash before deleting share one queue with workers that succeed.

    A crashing worker receives a message, works ``crash_after`` seconds and dies without
    deleting it; it is back ``restart_seconds`` later (as a supervisor would restart it) and
    crashes on its next message too. Like a supervisor's crash-loop back-off, the pause doubles
    after every crash (up to 2 s), so the crashing worker takes fewer messages as time goes on.
    A good worker works ``work_seconds`` and deletes. Every worker long-polls for one message at
    a time. The run ends when every message has been
    processed by a good worker, or at the deadline (the summary then counts what is missing).
    """
    if messages < 1:
        raise ValueError("Send at least one message.")
    sqs = cloud.client("sqs")
    url = fresh_queue(cloud, "redelivery", VisibilityTimeout=visibility_timeout)
    run = uuid.uuid4().hex
    rows: list[dict[str, Any]] = []
    processed: Counter[int] = Counter()
    lock = threading.Lock()
    workers = Workers()
    t0 = time.perf_counter()
    deadline = t0 + deadline_seconds
    send_jobs(sqs, url, messages, run)

    def now() -> float:
        return time.perf_counter() - t0

    all_done = threading.Event()

    def finished() -> bool:
        with lock:
            return len(processed) >= messages

    def nap(seconds: float) -> None:
        """Sleep, but wake as soon as the run is over or stopped."""
        end = time.perf_counter() + seconds
        while not all_done.is_set() and not workers.stop.is_set():
            left = end - time.perf_counter()
            if left <= 0:
                return
            all_done.wait(min(left, 0.05))

    def worker(name: str, crashes: bool) -> None:
        crashed = 0
        while not finished() and not workers.stop.is_set():
            wait = _long_poll(wait_seconds, deadline)
            if not wait:
                return
            response = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=RECEIVE_COUNT,
            )
            for message in response.get("Messages", []):
                row = {
                    "seq": _seq(message),
                    "worker": name,
                    "kind": "crashes" if crashes else "succeeds",
                    "receive_count": _receive_count(message),
                    "received_at": now(),
                }
                if crashes:
                    # Works a little, then dies: no delete, so the message will come back.
                    workers.stop.wait(crash_after)
                    row.update(ended_at=now(), outcome="crashed")
                    with lock:
                        rows.append(row)
                    nap(min(2.0, restart_seconds * 2**crashed))
                    crashed += 1
                    continue
                workers.stop.wait(work_seconds)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                with lock:
                    again = processed[row["seq"]] > 0
                    processed[row["seq"]] += 1
                    row.update(ended_at=now(), outcome="processed again" if again else "processed")
                    rows.append(row)
                    if len(processed) >= messages:
                        all_done.set()

    for i in range(crashing_workers):
        workers.start(f"crashes-{i + 1}", worker, f"crashes {i + 1}", True)
    for i in range(good_workers):
        workers.start(f"succeeds-{i + 1}", worker, f"succeeds {i + 1}", False)

    def done() -> int:
        with lock:
            return len(processed)

    workers.wait(
        deadline,
        progress=done if progress else None,
        total=messages,
        description="messages processed",
    )
    seconds = now()
    receives = (
        pd.DataFrame(rows, columns=list(RECEIVE_COLUMNS))
        .astype(RECEIVE_COLUMNS)
        .sort_values(["seq", "received_at"], ignore_index=True)
    )
    redeliveries = redeliveries_after(receives, visibility_timeout, gone=("crashed",))
    left = settled_depth(sqs, url, expect_empty=len(processed) == messages)
    late = redeliveries["late_s"].dropna()
    summary = pd.DataFrame(
        [
            {
                "sent": messages,
                "receives": len(receives),
                "crashes": int((receives["outcome"] == "crashed").sum()),
                "processed": len(processed),
                "processed_again": sum(count - 1 for count in processed.values()),
                "missing": messages - len(processed),
                "left_in_queue": left,
                "max_receive_count": int(receives["receive_count"].max()) if len(receives) else 0,
                "median_late_s": late.median() if len(late) else float("nan"),
                "worst_late_s": late.max() if len(late) else float("nan"),
            }
        ]
    )
    return TimelineResult(receives, redeliveries, summary, visibility_timeout, seconds)


def redeliveries_after(
    attempts: pd.DataFrame,
    visibility_timeout: float,
    *,
    gone: tuple[str, ...],
    worker: str = "worker",
    ended: str = "ended_at",
) -> pd.DataFrame:
    """For every attempt whose outcome is in ``gone`` (its worker died holding the message),
    the next receive of the same message: when, by whom, and how long after the timeout.

    ``after_s`` runs from the receive that hid the message to the receive that got it back; the
    message was hidden for ``visibility_timeout`` of it and visible, waiting, for ``late_s``.
    """
    columns = [
        "seq",
        "crashed_worker",
        "received_at",
        "crashed_at",
        "next_worker",
        "redelivered_at",
        "receive_count",
        "after_s",
        "late_s",
    ]
    rows = []
    for _, mine in attempts.sort_values("received_at").groupby("seq", sort=True):
        mine = mine.reset_index(drop=True)
        for i, attempt in mine.iterrows():
            if attempt["outcome"] not in gone:
                continue
            later = mine.iloc[int(i) + 1 :]
            row = {
                "seq": int(attempt["seq"]),
                "crashed_worker": attempt[worker],
                "received_at": attempt["received_at"],
                "crashed_at": attempt[ended],
                "next_worker": None,
                "redelivered_at": float("nan"),
                "receive_count": 0,
                "after_s": float("nan"),
                "late_s": float("nan"),
            }
            if len(later):
                nxt = later.iloc[0]
                after = nxt["received_at"] - attempt["received_at"]
                row.update(
                    next_worker=nxt[worker],
                    redelivered_at=nxt["received_at"],
                    receive_count=int(nxt["receive_count"]),
                    after_s=after,
                    late_s=after - visibility_timeout,
                )
            rows.append(row)
    return pd.DataFrame(rows, columns=columns)


# --- 2. worker processes killed with SIGKILL -------------------------------------------------

EVENT_COLUMNS = ["t", "worker", "pid", "event", "seq", "receive_count"]


@dataclass
class ProcessResult:
    """What :func:`kill_workers` measured."""

    events: pd.DataFrame
    """Every event, in order: t, worker, pid, event (started, ready, received, finished, deleted,
    killed, stopped), seq, receive_count. A worker's own events carry the moment it stamped them;
    started, killed and stopped are this process's."""
    attempts: pd.DataFrame
    """One row per job a worker received: worker, seq, receive_count, received_at, ended_at,
    outcome ("finished", "killed" or "unfinished")."""
    redeliveries: pd.DataFrame
    """One row per killed job: see :func:`redeliveries_after`."""
    summary: pd.DataFrame
    """One row: sent, processed, lost, processed_more_than_once, kills, workers_started,
    left_in_queue, median_redelivery_s."""
    visibility_timeout: int
    seconds: float


@dataclass
class _Child:
    """One worker process and what its reports say it is doing."""

    name: str
    proc: subprocess.Popen
    reader: threading.Thread | None = None
    log: list[str] = field(default_factory=list)
    job: tuple[int | None, float] | None = None  # (seq, received_at) while it works on a job
    killed: bool = False
    stopping: bool = False


def child_environment(cloud: Backend) -> tuple[dict[str, str], list[str]]:
    """Environment and extra arguments for a worker process on ``cloud``.

    Local backend: the endpoint and the session's throw-away credentials (in the environment,
    so they do not show in a process list). aws backend: nothing is added, and the worker finds
    credentials the standard way, as the kernel did.
    """
    env = dict(os.environ)
    if cloud.kind != "local":
        return env, []
    credentials = cloud.session.get_credentials().get_frozen_credentials()
    env["AWS_ACCESS_KEY_ID"] = credentials.access_key
    env["AWS_SECRET_ACCESS_KEY"] = credentials.secret_key
    if credentials.token:
        env["AWS_SESSION_TOKEN"] = credentials.token
    else:
        env.pop("AWS_SESSION_TOKEN", None)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):  # a named profile would win over them
        env.pop(name, None)
    return env, ["--endpoint-url", str(cloud.endpoint_url)]


class _Supervisor:
    """Starts, watches, kills and finally stops worker processes; never lets one outlive it."""

    def __init__(
        self,
        cloud: Backend,
        url: str,
        *,
        work_seconds: float,
        wait_seconds: int,
        lifetime: float,
        t0: float,
    ):
        self.env, extra = child_environment(cloud)
        self.command = [
            sys.executable,
            "-P",  # do not put the script's folder first on sys.path
            "-u",
            str(WORKER_SCRIPT),
            "--queue-url",
            url,
            "--region",
            str(cloud.region),
            "--work-seconds",
            str(work_seconds),
            "--wait-seconds",
            str(wait_seconds),
            "--lifetime",
            str(lifetime),
            "--parent",
            str(os.getpid()),
            *extra,
        ]
        self.t0 = t0
        self.children: list[_Child] = []
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def record(self, child: _Child, event: str, at: float | None = None, **fields: Any) -> None:
        """Note an event at ``at`` (``time.monotonic()``, the worker's stamp) or now."""
        t = self.now() if at is None else at - self.t0
        row = {"t": t, "worker": child.name, "pid": child.proc.pid, "event": event}
        row.update(fields)
        with self.lock:
            self.events.append(row)
            if event == "received":
                child.job = (fields.get("seq"), row["t"])
            elif event in {"finished", "killed", "stopped"}:
                child.job = None

    def start(self) -> _Child:
        proc = subprocess.Popen(
            self.command,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        child = _Child(f"process {len(self.children) + 1}", proc)
        self.children.append(child)
        self.record(child, "started")
        child.reader = threading.Thread(
            target=self._read, args=(child,), name=f"workshop-reader-{proc.pid}", daemon=True
        )
        child.reader.start()
        return child

    def _read(self, child: _Child) -> None:
        assert child.proc.stdout is not None
        for line in child.proc.stdout:
            try:
                report = json.loads(line)
                event = report.pop("event")
            except (ValueError, KeyError, AttributeError):
                child.log.append(line.rstrip())
                continue
            at = report.pop("at", None)
            if event in {"ready", "stopping"}:
                report = {}
            self.record(child, event, at, **report)

    def live(self) -> list[_Child]:
        return [c for c in self.children if c.proc.poll() is None]

    def busy(self) -> list[tuple[_Child, tuple[int | None, float]]]:
        """Workers that are working on a job, with that job, oldest receive first."""
        with self.lock:
            working = [(c, c.job) for c in self.children if c.job is not None and not c.killed]
        return sorted(working, key=lambda pair: pair[1][1])

    def check(self) -> None:
        """A worker that exits by itself, unasked, has failed: say why instead of waiting."""
        for child in self.children:
            if child.killed or child.stopping or child.proc.poll() is None:
                continue
            if child.reader is not None:
                child.reader.join(timeout=2)  # its last words
            tail = "\n".join(child.log[-15:])
            raise RuntimeError(
                f"Worker {child.name} (pid {child.proc.pid}) exited with code "
                f"{child.proc.returncode}:\n{tail}"
            )

    def kill(self, child: _Child) -> None:
        """SIGKILL: no clean-up, no last words, exactly like a machine losing power."""
        seq = child.job[0] if child.job else None
        child.killed = True
        os.kill(child.proc.pid, signal.SIGKILL)
        self.record(child, "killed", seq=seq)
        child.proc.wait(timeout=5)

    def stop_all(self) -> None:
        """Stop every worker still running: politely, then not; wait for each, in any case."""
        for child in self.children:
            if child.proc.poll() is None:
                child.stopping = True
                child.proc.terminate()
        for child in self.children:
            try:
                child.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait(timeout=3)
            if child.stopping:
                self.record(child, "stopped")
        for child in self.children:
            if child.reader is not None:
                child.reader.join(timeout=3)
            if child.proc.stdout is not None:
                child.proc.stdout.close()

    def frame(self) -> pd.DataFrame:
        with self.lock:
            rows = list(self.events)
        frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
        frame["seq"] = frame["seq"].astype("Int64")
        frame["receive_count"] = frame["receive_count"].astype("Int64")
        return frame.sort_values("t", kind="stable", ignore_index=True)


def kill_workers(
    cloud: Backend,
    *,
    jobs: int = 3,
    workers: int = 2,
    kills: int = 1,
    visibility_timeout: int = 2,
    work_seconds: float = 0.6,
    kill_after: float | None = None,
    restart: bool = False,
    seed: int | None = None,
    wait_seconds: int = 1,
    deadline_seconds: float = 30.0,
    progress: bool = True,
) -> ProcessResult:
    """Start worker processes on one queue of ``jobs`` and kill some of them mid-job.

    ``kills`` times, a worker that is working on a job is sent SIGKILL, ``kill_after`` seconds
    into the job (or at a random moment within its first 70 %, if ``kill_after`` is None); the
    first worker to receive a job is the first victim. With ``restart`` a new worker process
    replaces each killed one, as an orchestrator would. The run ends when every job has been
    processed, no worker is busy and the queue is empty, or at the deadline; every worker process
    is stopped before this function returns, whatever happened.
    """
    if jobs < 1 or workers < 1:
        raise ValueError("Need at least one job and one worker.")
    if kill_after is not None and not 0 <= kill_after < work_seconds:
        raise ValueError("kill_after must fall inside the job: 0 <= kill_after < work_seconds.")
    sqs = cloud.client("sqs")
    url = fresh_queue(cloud, "worker-kill", VisibilityTimeout=visibility_timeout)
    rng = random.Random(seed)
    send_jobs(sqs, url, jobs, uuid.uuid4().hex)
    t0 = time.monotonic()  # the clock the workers stamp their reports with
    deadline = time.perf_counter() + deadline_seconds
    supervisor = _Supervisor(
        cloud,
        url,
        work_seconds=work_seconds,
        wait_seconds=wait_seconds,
        lifetime=deadline_seconds + 5,
        t0=t0,
    )
    kills_done = 0
    recheck = 0.0
    target: tuple[_Child, int | None, float] | None = None
    bar = tqdm(total=jobs, desc="jobs processed", unit="job") if progress else None

    def processed() -> set[int | None]:
        with supervisor.lock:
            return {e["seq"] for e in supervisor.events if e["event"] == "finished"}

    try:
        for _ in range(workers):
            supervisor.start()
        while time.perf_counter() < deadline:
            supervisor.check()
            busy = supervisor.busy()
            if kills_done < kills and target is None and busy:
                # With a fixed kill_after the first to get a job dies; else one at random.
                victim, job = busy[0] if kill_after is not None else rng.choice(busy)
                delay = (
                    kill_after if kill_after is not None else rng.uniform(0.05, 0.7) * work_seconds
                )
                target = (victim, job[0], job[1] + delay)
            if target is not None:
                victim, seq, at = target
                job = victim.job
                if job is None or job[0] != seq:
                    target = None  # it finished first: choose again
                elif supervisor.now() >= at:
                    supervisor.kill(victim)
                    kills_done += 1
                    target = None
                    if restart:
                        supervisor.start()
            done = processed()
            if bar is not None:
                bar.update(len(done) - bar.n)
            if len(done) >= jobs and not supervisor.busy() and time.perf_counter() >= recheck:
                # A kill that landed between a job's end and its delete leaves the message in
                # flight: it will come back and run again. Stop only once the queue is empty.
                if sum(depth(sqs, url)) == 0:
                    break
                recheck = time.perf_counter() + 0.2
            if not supervisor.live():
                break  # every worker is dead and none will come back
            time.sleep(0.01)
    finally:
        supervisor.stop_all()
        if bar is not None:
            bar.update(len(processed()) - bar.n)
            bar.close()
            print_final_state(bar)
    seconds = time.monotonic() - t0
    events = supervisor.frame()
    attempts = attempts_from_events(events)
    redeliveries = redeliveries_after(attempts, visibility_timeout, gone=("killed",))
    finished = Counter(events.loc[events["event"] == "finished", "seq"].dropna().astype(int))
    left = settled_depth(sqs, url, expect_empty=len(finished) == jobs)
    summary = pd.DataFrame(
        [
            {
                "sent": jobs,
                "processed": len(finished),
                "lost": jobs - len(finished),
                "processed_more_than_once": sum(count > 1 for count in finished.values()),
                "kills": kills_done,
                "workers_started": len(supervisor.children),
                "left_in_queue": left,
                "median_redelivery_s": redeliveries["after_s"].median(),
            }
        ]
    )
    return ProcessResult(events, attempts, redeliveries, summary, visibility_timeout, seconds)


def attempts_from_events(events: pd.DataFrame) -> pd.DataFrame:
    """Pair each worker's "received" with what ended that job: finished, killed or nothing."""
    rows = []
    for name, mine in events.groupby("worker", sort=False):
        current: dict[str, Any] | None = None
        for _, event in mine.iterrows():
            kind = event["event"]
            if kind == "received":
                current = {
                    "worker": name,
                    "seq": int(event["seq"]),
                    "receive_count": int(event["receive_count"]),
                    "received_at": float(event["t"]),
                }
            elif current is not None and kind in {"finished", "killed", "stopped"}:
                outcome = {"finished": "finished", "killed": "killed"}.get(kind, "unfinished")
                rows.append({**current, "ended_at": float(event["t"]), "outcome": outcome})
                current = None
        if current is not None:
            rows.append({**current, "ended_at": float(mine["t"].max()), "outcome": "unfinished"})
    columns = ["worker", "seq", "receive_count", "received_at", "ended_at", "outcome"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("received_at", ignore_index=True)


# --- 3. jobs longer than the visibility timeout, without and with a heartbeat ---------------


@dataclass
class HeartbeatResult:
    """What :func:`compare_heartbeat` measured."""

    attempts: pd.DataFrame
    """One row per time a worker processed a job: run, worker, seq, receive_count, received_at,
    finished_at, hidden_until (when the message became visible again, from the receive, the
    heartbeats and the visibility timeout; finished_at if it stayed hidden to the end),
    deleted (the delete call succeeded)."""
    heartbeats: pd.DataFrame
    """One row per ChangeMessageVisibility: run, worker, seq, t, ok."""
    polls: pd.DataFrame
    """One row per receive call: run, worker, started_at, ended_at, messages (how many it got).
    The empty ones are a worker that asked and found nothing: the evidence that the message
    stayed hidden."""
    summary: pd.DataFrame
    """One row per run: run, jobs, processings, duplicates, missing, heartbeats, expired_mid_job."""
    visibility_timeout: int
    work_seconds: float
    seconds: float


@dataclass
class _Run:
    label: str
    url: str
    heartbeat_every: float | None
    jobs: int
    counts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def all_processed(self) -> bool:
        with self.lock:
            return len(self.counts) >= self.jobs


def compare_heartbeat(
    cloud: Backend,
    *,
    jobs: int = 1,
    workers: int = 2,
    work_seconds: float = 2.5,
    visibility_timeout: int = 1,
    heartbeat_every: float | None = None,
    wait_seconds: int = 1,
    deadline_seconds: float = 15.0,
    progress: bool = True,
) -> HeartbeatResult:
    """Process jobs that take longer than the visibility timeout, twice at the same time.

    Run "no heartbeat": each worker receives a job, works ``work_seconds`` and deletes it.
    Run "heartbeat": the same, but while it works the worker calls ``ChangeMessageVisibility``
    every ``heartbeat_every`` seconds (a third of the timeout by default), setting the timeout
    back to ``visibility_timeout`` counted from that call. Each run has its own queue and its
    own ``workers`` workers; a worker stops once every job of its run has been processed, after
    finishing what it is working on.
    """
    if work_seconds <= 0 or visibility_timeout < 1:
        raise ValueError("Needs work_seconds > 0 and a visibility timeout of at least 1 s.")
    heartbeat = heartbeat_every if heartbeat_every is not None else visibility_timeout / 3
    if not 0 < heartbeat < visibility_timeout:
        raise ValueError("A heartbeat must come more often than the visibility timeout.")
    sqs = cloud.client("sqs")
    job_id = uuid.uuid4().hex
    runs = [
        _Run(label, fresh_queue(cloud, slug, VisibilityTimeout=visibility_timeout), every, jobs)
        for label, slug, every in (
            ("no heartbeat", "long-job", None),
            ("heartbeat", "heartbeat", heartbeat),
        )
    ]
    for run in runs:
        send_jobs(sqs, run.url, jobs, job_id)
    attempts: list[dict[str, Any]] = []
    beats: list[dict[str, Any]] = []
    polls: list[dict[str, Any]] = []
    lock = threading.Lock()
    group = Workers()
    t0 = time.perf_counter()
    deadline = t0 + deadline_seconds

    def now() -> float:
        return time.perf_counter() - t0

    def work(run: _Run, name: str, seq: int | None, handle: str) -> None:
        end = time.perf_counter() + work_seconds
        while (left := end - time.perf_counter()) > 0:
            step = min(left, run.heartbeat_every) if run.heartbeat_every else left
            if group.stop.wait(step):
                return
            if run.heartbeat_every and end - time.perf_counter() > 0:
                try:
                    # Counts from now, not from the receive: "give me another timeout's worth".
                    sqs.change_message_visibility(
                        QueueUrl=run.url, ReceiptHandle=handle, VisibilityTimeout=visibility_timeout
                    )
                    ok = True
                except ClientError:
                    ok = False
                with lock:
                    beats.append(
                        {"run": run.label, "worker": name, "seq": seq, "t": now(), "ok": ok}
                    )

    def worker(run: _Run, name: str) -> None:
        while not run.all_processed() and not group.stop.is_set():
            wait = _long_poll(wait_seconds, deadline)
            if not wait:
                return
            asked = now()
            response = sqs.receive_message(
                QueueUrl=run.url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=RECEIVE_COUNT,
            )
            answered = now()
            with lock:
                polls.append(
                    {
                        "run": run.label,
                        "worker": name,
                        "started_at": asked,
                        "ended_at": answered,
                        "messages": len(response.get("Messages", [])),
                    }
                )
            for message in response.get("Messages", []):
                seq, received = _seq(message), answered
                work(run, name, seq, message["ReceiptHandle"])
                if group.stop.is_set():
                    return
                finished = now()
                try:
                    sqs.delete_message(QueueUrl=run.url, ReceiptHandle=message["ReceiptHandle"])
                    deleted = True
                except ClientError:
                    deleted = False
                with run.lock:
                    run.counts[seq] += 1
                with lock:
                    attempts.append(
                        {
                            "run": run.label,
                            "worker": name,
                            "seq": seq,
                            "receive_count": _receive_count(message),
                            "received_at": received,
                            "finished_at": finished,
                            "deleted": deleted,
                        }
                    )

    for run in runs:
        for i in range(workers):
            group.start(f"{run.label}-{i + 1}".replace(" ", "-"), worker, run, f"worker {i + 1}")

    def done() -> int:
        return sum(len(run.counts) for run in runs)

    group.wait(
        deadline,
        progress=done if progress else None,
        total=jobs * len(runs),
        description="jobs processed",
    )
    seconds = now()
    beats_frame = pd.DataFrame(beats, columns=["run", "worker", "seq", "t", "ok"]).astype(
        {"run": str, "worker": str, "t": float, "ok": bool}
    )
    frame = pd.DataFrame(
        attempts,
        columns=["run", "worker", "seq", "receive_count", "received_at", "finished_at", "deleted"],
    ).sort_values(["run", "received_at"], ignore_index=True)
    frame["hidden_until"] = [
        hidden_until(row, beats_frame, visibility_timeout) for _, row in frame.iterrows()
    ]
    polls_frame = pd.DataFrame(
        polls, columns=["run", "worker", "started_at", "ended_at", "messages"]
    ).sort_values(["run", "started_at"], ignore_index=True)
    rows = []
    for run in runs:
        mine = frame[frame["run"] == run.label]
        rows.append(
            {
                "run": run.label,
                "jobs": jobs,
                "processings": len(mine),
                "duplicates": len(mine) - mine["seq"].nunique(),
                "missing": jobs - mine["seq"].nunique(),
                "heartbeats": int((beats_frame["run"] == run.label).sum()),
                "expired_mid_job": int((mine["hidden_until"] < mine["finished_at"]).sum()),
            }
        )
    return HeartbeatResult(
        frame,
        beats_frame,
        polls_frame,
        pd.DataFrame(rows),
        visibility_timeout,
        work_seconds,
        seconds,
    )


def hidden_until(attempt: pd.Series, heartbeats: pd.DataFrame, visibility_timeout: float) -> float:
    """When the message of ``attempt`` became visible again, or its finish if it never did.

    The receive hides it for one timeout; each successful heartbeat that arrives while it is
    still hidden sets the end to that moment plus one timeout. A heartbeat after the end is too
    late: by then another worker may already have it.
    """
    end = attempt["received_at"] + visibility_timeout
    mine = heartbeats[
        (heartbeats["run"] == attempt["run"])
        & (heartbeats["worker"] == attempt["worker"])
        & (heartbeats["t"] > attempt["received_at"])
        & (heartbeats["t"] <= attempt["finished_at"])
        & heartbeats["ok"]
    ]
    for t in sorted(mine["t"]):
        if t > end:
            break
        end = t + visibility_timeout
    return min(end, attempt["finished_at"])
