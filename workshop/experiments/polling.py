"""Short polling against long polling, measured: what each costs in calls and in latency.

One producer thread sends the same stream of photo uploads, at random (seeded) intervals, to
one queue per strategy. On each queue a consumer thread polls in its own way and records every
ReceiveMessage call (when it started and ended, how many messages came back) and every message
it got. The producer writes its send time into the body; the consumer subtracts it from its own
clock when the receive returns. Both run in this process, so they share one monotonic clock:
SQS's ``SentTimestamp`` is the server's clock, in whole milliseconds, and on AWS another
machine's, so it would measure clock skew as much as latency.

Every thread stops by a deadline, so a message that never arrives shows up as *missing* in the
summary instead of hanging the cell.

>>> result = compare_polling(cloud, messages=20)         # doctest: +SKIP
>>> result.summary[["strategy", "calls_per_message", "median_latency_ms"]]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import random
import re
import secrets
import threading
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from botocore.exceptions import ClientError

from workshop.data import upload_messages
from workshop.experiments.threads import Workers

if TYPE_CHECKING:
    from workshop.backends import Backend


@dataclass(frozen=True)
class Strategy:
    """How a consumer polls: the ``WaitTimeSeconds`` of each receive, and a pause after an
    empty one (the usual way to make a short-polling loop cheaper)."""

    name: str
    wait_seconds: int = 0
    pause_seconds: float = 0.0

    @property
    def slug(self) -> str:
        """A queue-name-safe version of the name: ``short-poll-tight-loop``."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


STRATEGIES: tuple[Strategy, ...] = (
    Strategy("short poll, tight loop"),
    Strategy("short poll, 0.5 s pause", pause_seconds=0.5),
    Strategy("long poll, 2 s wait", wait_seconds=2),
)
"""The three consumers the notebook compares."""


CALL_COLUMNS = {"strategy": str, "start": float, "end": float, "messages": int, "empty": bool}
MESSAGE_COLUMNS = {
    "strategy": str,
    "seq": int,
    "sent_at": float,
    "received_at": float,
    "latency_ms": float,
    "duplicate": bool,
}


@dataclass
class PollingResult:
    """What :func:`compare_polling` measured. Times are seconds since the experiment started."""

    calls: pd.DataFrame
    """One row per ReceiveMessage: strategy, start, end, messages (returned), empty."""
    messages: pd.DataFrame
    """One row per delivery: strategy, seq, sent_at, received_at, latency_ms, duplicate."""
    summary: pd.DataFrame
    """One row per strategy: receive_calls, empty_receives, delivered, missing, duplicates,
    calls_per_message, median_latency_ms, p95_latency_ms."""
    sent: int
    """Messages the producer sent to each queue."""
    seconds: float
    """Wall time of the whole experiment."""

    @property
    def missing(self) -> int:
        """Messages sent but never received, summed over the strategies."""
        return int(self.summary["missing"].sum())


def arrival_offsets(messages: int, mean_interval: float, seed: int) -> list[float]:
    """When the producer sends each message, in seconds from its start.

    Gaps are exponential (a Poisson stream, like independent users uploading), drawn from a
    seeded generator so a rerun sends on the same schedule.
    """
    rng = random.Random(seed)
    offsets, t = [], 0.0
    for _ in range(messages):
        t += rng.expovariate(1.0 / mean_interval)
        offsets.append(t)
    return offsets


def compare_polling(
    cloud: Backend,
    *,
    messages: int = 30,
    mean_interval: float = 0.1,
    strategies: tuple[Strategy, ...] = STRATEGIES,
    seed: int = 1,
    deadline_seconds: float = 10.0,
    progress: bool = True,
    suffix: str | None = None,
) -> PollingResult:
    """Run one producer and one consumer per strategy concurrently; return what they measured.

    Each strategy gets its own queue (``polling-<strategy>-<suffix>``), so the consumers do not
    take each other's messages, and the queues are deleted at the end. The suffix is random by
    default: AWS frees a deleted queue's name only after 60 s, so a rerun with the same names
    would have to wait. Should a suffix be reused, messages left over from an earlier run are
    deleted and ignored: each run tags its bodies with a run id.
    """
    if messages < 1:
        raise ValueError("Send at least one message.")
    sqs = cloud.client("sqs")
    suffix = suffix or secrets.token_hex(3)
    urls: dict[str, str] = {}
    try:
        for s in strategies:
            urls[s.name] = cloud.create_queue(f"polling-{s.slug}-{suffix}")
        return _run(
            sqs, urls, messages, mean_interval, strategies, seed, deadline_seconds, progress
        )
    finally:
        for url in urls.values():
            with suppress(ClientError):  # already gone: nothing to delete
                sqs.delete_queue(QueueUrl=url)


def _run(
    sqs: Any,
    urls: dict[str, str],
    messages: int,
    mean_interval: float,
    strategies: tuple[Strategy, ...],
    seed: int,
    deadline_seconds: float,
    progress: bool,
) -> PollingResult:
    """The experiment itself, on queues that exist: see :func:`compare_polling`."""
    run = uuid.uuid4().hex
    offsets = arrival_offsets(messages, mean_interval, seed)
    uploads = upload_messages(min(messages, 200))
    lock = threading.Lock()
    calls: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    sent = [0]

    workers = Workers()
    t0 = time.perf_counter()
    deadline = t0 + deadline_seconds

    def produce() -> None:
        for seq, offset in enumerate(offsets):
            if workers.stop.wait(max(0.0, t0 + offset - time.perf_counter())):
                return
            if time.perf_counter() > deadline:
                return
            for url in urls.values():
                body = {
                    "run": run,
                    "seq": seq,
                    "sent_at": time.perf_counter(),
                    "upload": json.loads(uploads[seq % len(uploads)]),
                }
                sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
            sent[0] = seq + 1

    def consume(strategy: Strategy, url: str) -> None:
        seen: set[int] = set()
        while len(seen) < messages and not workers.stop.is_set():
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            # Never wait past the deadline: a long poll shrinks to the whole seconds left, and
            # ends rather than turn into a short poll in the last second.
            wait = min(strategy.wait_seconds, int(remaining))
            if strategy.wait_seconds and not wait:
                return
            start = time.perf_counter()
            response = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
            )
            end = time.perf_counter()
            received = response.get("Messages", [])
            ours = 0
            for message in received:
                body = json.loads(message["Body"])
                if body.get("run") != run:
                    continue  # left over from an earlier run: delete it, do not count it
                ours += 1
                record = {
                    "strategy": strategy.name,
                    "seq": body["seq"],
                    "sent_at": body["sent_at"] - t0,
                    "received_at": end - t0,
                    "latency_ms": (end - body["sent_at"]) * 1000,
                    "duplicate": body["seq"] in seen,
                }
                seen.add(body["seq"])
                with lock:
                    deliveries.append(record)
            with lock:
                calls.append(
                    {
                        "strategy": strategy.name,
                        "start": start - t0,
                        "end": end - t0,
                        "messages": ours,
                        "empty": not received,
                    }
                )
            if received:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(received)
                    ],
                )
            elif strategy.pause_seconds:
                workers.stop.wait(min(strategy.pause_seconds, max(0.0, remaining)))

    for strategy in strategies:
        workers.start(f"consumer-{strategy.slug}", consume, strategy, urls[strategy.name])
    workers.start("producer", produce)

    def delivered() -> int:
        with lock:
            return sum(not d["duplicate"] for d in deliveries)

    workers.wait(
        deadline,
        progress=delivered if progress else None,
        total=messages * len(strategies),
        description="messages delivered",
    )
    seconds = time.perf_counter() - t0

    # Explicit dtypes: a strategy that received nothing must still give well-typed columns.
    calls_frame = (
        pd.DataFrame(calls, columns=list(CALL_COLUMNS))
        .astype(CALL_COLUMNS)
        .sort_values(["strategy", "start"], ignore_index=True)
    )
    messages_frame = (
        pd.DataFrame(deliveries, columns=list(MESSAGE_COLUMNS))
        .astype(MESSAGE_COLUMNS)
        .sort_values(["strategy", "seq"], ignore_index=True)
    )
    summary = summarise(calls_frame, messages_frame, strategies, sent[0])
    return PollingResult(calls_frame, messages_frame, summary, sent[0], seconds)


def summarise(
    calls: pd.DataFrame, messages: pd.DataFrame, strategies: tuple[Strategy, ...], sent: int
) -> pd.DataFrame:
    """One row per strategy: what it cost (receive calls per message delivered) and what it
    bought (latency), with every sent message accounted for as delivered or missing."""
    rows = []
    for strategy in strategies:
        mine = calls[calls["strategy"] == strategy.name]
        got = messages[messages["strategy"] == strategy.name]
        first = got[~got["duplicate"]]
        delivered = len(first)
        rows.append(
            {
                "strategy": strategy.name,
                "receive_calls": len(mine),
                "empty_receives": int(mine["empty"].sum()),
                "delivered": delivered,
                "missing": sent - delivered,
                "duplicates": int(got["duplicate"].sum()),
                "calls_per_message": len(mine) / delivered if delivered else float("nan"),
                "median_latency_ms": first["latency_ms"].median(),
                "p95_latency_ms": first["latency_ms"].quantile(0.95),
            }
        )
    return pd.DataFrame(rows)
