"""A queue as a buffer: producers that outpace their consumers, and the backlog that follows.

Several producer threads send photo uploads faster than the consumers can "resize" them (each
message takes ``work_seconds``). A sampler reads the queue's depth every ``sample_interval``:
``ApproximateNumberOfMessages`` (waiting, visible) and ``ApproximateNumberOfMessagesNotVisible``
(received and being worked on). The same load runs on one queue per consumer count, at the same
time, so the runs can be compared on one time axis.

Standard queues deliver at least once, so the experiment counts how often each message was
processed and reports duplicates and missing messages instead of assuming exactly once.

>>> result = compare_consumers(cloud, consumer_counts=(1, 3))   # doctest: +SKIP
>>> result.summary                                               # doctest: +SKIP
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
from botocore.exceptions import ClientError

from workshop.data import upload_messages
from workshop.experiments.threads import Workers

if TYPE_CHECKING:
    from workshop.backends import Backend


def depth(sqs: Any, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue, as SQS reports them.

    On AWS both numbers are approximate and may trail the true state. Locally each number is
    exact when it is counted, but the two are not counted at the same instant, so while
    messages are being received or deleted their sum can briefly differ by a few from the
    number of messages in the queue.
    """
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


@dataclass
class BacklogResult:
    """What :func:`compare_consumers` measured. Times are seconds since the experiment started."""

    samples: pd.DataFrame
    """Queue depth over time: run, t, visible, in_flight."""
    processed: pd.DataFrame
    """One row per message processed: run, seq, consumer, t."""
    spans: pd.DataFrame
    """When the producers of each run were sending: run, start, end."""
    summary: pd.DataFrame
    """One row per run: consumers, sent, processed, duplicates, missing, peak_visible,
    drained_at (when the last message was processed)."""
    seconds: float
    """Wall time of the whole experiment."""


@dataclass
class _Run:
    """The shared state of one run: one queue, its producers and consumers."""

    label: str
    consumers: int
    url: str
    expected: int
    sent: int = 0
    producers_left: int = 0
    started: float | None = None
    stopped: float | None = None
    counts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record_sent(self, t: float) -> None:
        with self.lock:
            self.sent += 1
            self.started = t if self.started is None else self.started

    def producer_done(self, t: float) -> None:
        with self.lock:
            self.producers_left -= 1
            if self.producers_left == 0:
                self.stopped = t

    @property
    def finished(self) -> bool:
        """Producers have stopped and every message they sent has been processed."""
        with self.lock:
            return self.producers_left == 0 and len(self.counts) >= self.sent


def compare_consumers(
    cloud: Backend,
    *,
    consumer_counts: tuple[int, ...] = (1, 3),
    producers: int = 2,
    messages_per_producer: int = 30,
    send_interval: float = 0.01,
    work_seconds: float = 0.03,
    wait_seconds: int = 1,
    sample_interval: float = 0.1,
    deadline_seconds: float = 20.0,
    progress: bool = True,
    suffix: str | None = None,
) -> BacklogResult:
    """Run the same producers against each consumer count, all runs at once; measure depth.

    Consumers long-poll (``wait_seconds``), process each message for ``work_seconds`` and then
    delete it: deleting only after the work is done is what makes a crash safe, since an
    undeleted message comes back after its visibility timeout.

    Each run has its own queue, ``backlog-<n>-consumers-<suffix>``, deleted at the end. The
    suffix is random by default, so a rerun never waits out AWS's 60 s before a deleted
    queue's name can be used again.
    """
    sqs = cloud.client("sqs")
    suffix = suffix or secrets.token_hex(3)
    runs: list[_Run] = []
    try:
        for n in consumer_counts:
            runs.append(
                _Run(
                    label=f"{n} consumer" + ("s" if n != 1 else ""),
                    consumers=n,
                    url=cloud.create_queue(f"backlog-{n}-consumers-{suffix}"),
                    expected=producers * messages_per_producer,
                    producers_left=producers,
                )
            )
        return _run(
            sqs,
            runs,
            producers=producers,
            messages_per_producer=messages_per_producer,
            send_interval=send_interval,
            work_seconds=work_seconds,
            wait_seconds=wait_seconds,
            sample_interval=sample_interval,
            deadline_seconds=deadline_seconds,
            progress=progress,
        )
    finally:
        for run in runs:
            with suppress(ClientError):  # already gone: nothing to delete
                sqs.delete_queue(QueueUrl=run.url)


def _run(
    sqs: Any,
    runs: list[_Run],
    *,
    producers: int,
    messages_per_producer: int,
    send_interval: float,
    work_seconds: float,
    wait_seconds: int,
    sample_interval: float,
    deadline_seconds: float,
    progress: bool,
) -> BacklogResult:
    """The experiment itself, on queues that exist: see :func:`compare_consumers`."""
    uploads = upload_messages(min(messages_per_producer * producers, 200))
    tag = uuid.uuid4().hex
    processed: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    lock = threading.Lock()
    workers = Workers()
    t0 = time.perf_counter()
    deadline = t0 + deadline_seconds

    def now() -> float:
        return time.perf_counter() - t0

    def produce(run: _Run, producer: int) -> None:
        try:
            for i in range(messages_per_producer):
                if workers.stop.is_set() or time.perf_counter() > deadline:
                    return
                seq = producer * messages_per_producer + i
                body = {"run": tag, "seq": seq, "upload": json.loads(uploads[seq % len(uploads)])}
                sqs.send_message(QueueUrl=run.url, MessageBody=json.dumps(body))
                run.record_sent(now())
                workers.stop.wait(send_interval)
        finally:
            run.producer_done(now())

    def consume(run: _Run, consumer: int) -> None:
        while not run.finished and not workers.stop.is_set():
            # Long polls never outlast the deadline (WaitTimeSeconds is whole seconds).
            wait = min(wait_seconds, int(deadline - time.perf_counter()))
            if wait < min(wait_seconds, 1) or deadline <= time.perf_counter():
                return
            response = sqs.receive_message(
                QueueUrl=run.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
            )
            for message in response.get("Messages", []):
                if workers.stop.is_set() or time.perf_counter() > deadline:
                    return  # unprocessed messages stay undeleted and count as missing
                body = json.loads(message["Body"])
                if body.get("run") == tag:
                    time.sleep(work_seconds)  # the "resize": a stand-in for real work
                # Delete after the work, never before: a crash in between means redelivery.
                sqs.delete_message(QueueUrl=run.url, ReceiptHandle=message["ReceiptHandle"])
                if body.get("run") != tag:
                    continue  # left over from an earlier run
                with run.lock:
                    run.counts[body["seq"]] += 1
                with lock:
                    processed.append(
                        {"run": run.label, "seq": body["seq"], "consumer": consumer, "t": now()}
                    )

    def sample() -> None:
        active = list(runs)
        while active and not workers.stop.is_set() and time.perf_counter() < deadline:
            tick = time.perf_counter()
            for run in list(active):
                done = run.finished  # read first: a sample after "done" must show the empty queue
                visible, in_flight = depth(sqs, run.url)
                with lock:
                    samples.append(
                        {"run": run.label, "t": now(), "visible": visible, "in_flight": in_flight}
                    )
                if done:
                    active.remove(run)
            workers.stop.wait(max(0.0, sample_interval - (time.perf_counter() - tick)))

    workers.start("sampler", sample)
    for run in runs:
        for c in range(run.consumers):
            workers.start(f"consumer-{run.consumers}-{c}", consume, run, c)
        for p in range(producers):
            workers.start(f"producer-{run.consumers}-{p}", produce, run, p)

    def done() -> int:
        return sum(len(run.counts) for run in runs)

    workers.wait(
        deadline,
        progress=done if progress else None,
        total=sum(run.expected for run in runs),
        description="messages processed",
    )
    seconds = now()

    processed_frame = pd.DataFrame(processed, columns=["run", "seq", "consumer", "t"]).astype(
        {"run": str, "seq": int, "consumer": int, "t": float}
    )
    samples_frame = pd.DataFrame(samples, columns=["run", "t", "visible", "in_flight"]).astype(
        {"run": str, "t": float, "visible": int, "in_flight": int}
    )
    spans = pd.DataFrame(
        [{"run": r.label, "start": r.started, "end": r.stopped} for r in runs],
        columns=["run", "start", "end"],
    )
    summary = pd.DataFrame([_summary_row(run, processed_frame, samples_frame) for run in runs])
    return BacklogResult(samples_frame, processed_frame, spans, summary, seconds)


def _summary_row(run: _Run, processed: pd.DataFrame, samples: pd.DataFrame) -> dict[str, Any]:
    mine = processed[processed["run"] == run.label]
    depth_samples = samples[samples["run"] == run.label]
    return {
        "run": run.label,
        "consumers": run.consumers,
        "sent": run.sent,
        "processed": len(run.counts),
        "duplicates": sum(count - 1 for count in run.counts.values()),
        "missing": run.sent - len(run.counts),
        "peak_visible": int(depth_samples["visible"].max()) if len(depth_samples) else 0,
        "drained_at": float(mine["t"].max()) if len(mine) else float("nan"),
    }
