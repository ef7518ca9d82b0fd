"""Dead-letter queues, measured: a poison message's last receives, mixed traffic, and redrive.

The photo service's resize worker has a bug: it knows the filters ``none``, ``warm`` and
``mono`` but not ``sharpen``, so every upload asking for ``sharpen`` fails, however often it is
retried. Those uploads are the *poison messages* of this notebook. A source queue with a redrive
policy hands each of them to the worker ``maxReceiveCount`` times and then moves it to its
dead-letter queue (DLQ); after the fix (:func:`resize_fixed`) a message move task
(``StartMessageMoveTask``) sends them back.

Each experiment runs its threads (consumers, a sampler) with :class:`Workers`, stops them by a
deadline even if a message never arrives, and returns pandas DataFrames of what the queues did.
Times are seconds since the experiment started, on this process's monotonic clock.

>>> poison = follow_poison(cloud)                  # doctest: +SKIP
>>> poison.deliveries, poison.moved_at             # doctest: +SKIP
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from workshop.data import upload_messages
from workshop.experiments.backlog import depth
from workshop.experiments.threads import Workers

if TYPE_CHECKING:
    from workshop.backends import Backend

KNOWN_FILTERS = ("none", "warm", "mono")
"""The filters version 1 of the resize worker can apply."""
POISON_FILTER = "sharpen"
"""The filter version 1 does not know: uploads asking for it are this notebook's poison."""
FINISHED = ("COMPLETED", "CANCELLED", "FAILED")
"""Statuses of a message move task that will not change again."""

Process = Callable[[dict[str, Any]], None]


class ResizeError(Exception):
    """The resize worker could not process an upload."""


def resize(upload: dict[str, Any]) -> None:
    """Version 1 of the resize worker: fails on every upload with a filter it does not know.

    The failure is in the code, not in the message, which is why redriving the messages after
    a fix (:func:`resize_fixed`) makes sense.
    """
    if upload.get("filter") not in KNOWN_FILTERS:
        raise ResizeError(f"unknown filter {upload.get('filter')!r}")


def resize_fixed(upload: dict[str, Any]) -> None:
    """Version 2, after the bug fix: ``sharpen`` is known too; anything else still fails."""
    if upload.get("filter") not in (*KNOWN_FILTERS, POISON_FILTER):
        raise ResizeError(f"unknown filter {upload.get('filter')!r}")


# --- queues with a redrive policy ----------------------------------------------------------


def queue_arn(sqs: Any, queue_url: str) -> str:
    """A queue's ARN: a redrive policy and a move task name queues by ARN, not by URL."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


def redrive_policy(dlq_arn: str, max_receive_count: int) -> str:
    """The ``RedrivePolicy`` attribute: a JSON string, not a dict."""
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})


def read_redrive_policy(sqs: Any, queue_url: str) -> dict[str, Any] | None:
    """A queue's redrive policy as a dict (``maxReceiveCount`` an int), or None if it has none."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
    raw = attributes.get("Attributes", {}).get("RedrivePolicy")
    if not raw:
        return None
    policy = json.loads(raw)
    if "maxReceiveCount" in policy:
        policy["maxReceiveCount"] = int(policy["maxReceiveCount"])
    return policy


def dead_letter_sources(
    sqs: Any, dlq_url: str, *, expect: str | None = None, seconds: float = 10.0
) -> list[str]:
    """The URLs of the queues whose redrive policy names this DLQ (ListDeadLetterSourceQueues).

    With ``expect``, ask again for up to ``seconds`` until that URL is listed: on AWS a new
    policy can take a while to show up everywhere (up to 60 s for most attribute changes, SQS
    API reference, SetQueueAttributes); locally it is listed at once.
    """
    end = time.perf_counter() + seconds
    while True:
        urls = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
        if expect is None or expect in urls or time.perf_counter() >= end:
            return urls
        time.sleep(0.5)


@dataclass(frozen=True)
class QueuePair:
    """A source queue and the dead-letter queue its redrive policy names."""

    source_url: str
    dlq_url: str
    source_arn: str
    dlq_arn: str
    max_receive_count: int
    visibility_timeout: int


def create_pair(
    cloud: Backend,
    base: str,
    *,
    max_receive_count: int = 3,
    visibility_timeout: int = 1,
    fifo: bool = False,
    source_retention: int | None = None,
    dlq_retention: int | None = None,
) -> QueuePair:
    """Create a DLQ, then a source queue whose redrive policy points at it.

    The DLQ must exist first (the policy names its ARN) and be of the same type as the source.
    Names get a random suffix: AWS refuses a deleted queue's name for 60 s, and a rerun must
    not wait for that.
    """
    suffix = secrets.token_hex(2)
    sqs = cloud.client("sqs")
    dlq_attributes: dict[str, Any] = {}
    if dlq_retention is not None:
        dlq_attributes["MessageRetentionPeriod"] = dlq_retention
    dlq_url = cloud.create_queue(f"{base}-{suffix}-dlq", fifo=fifo, **dlq_attributes)
    dlq_arn = queue_arn(sqs, dlq_url)
    source_attributes: dict[str, Any] = {
        "VisibilityTimeout": visibility_timeout,
        "RedrivePolicy": redrive_policy(dlq_arn, max_receive_count),
    }
    if source_retention is not None:
        source_attributes["MessageRetentionPeriod"] = source_retention
    source_url = cloud.create_queue(f"{base}-{suffix}", fifo=fifo, **source_attributes)
    return QueuePair(
        source_url,
        dlq_url,
        queue_arn(sqs, source_url),
        dlq_arn,
        max_receive_count,
        visibility_timeout,
    )


def visible(sqs: Any, queue_url: str) -> int:
    """``ApproximateNumberOfMessages``: what a receive could get now (CloudWatch calls the
    same number ``ApproximateNumberOfMessagesVisible``)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def peek(sqs: Any, queue_url: str, expected: int, seconds: float = 5.0) -> pd.DataFrame:
    """Read up to ``expected`` messages of a queue and leave them all in it, visible.

    Each message is received (which hides it), then made visible again with a visibility
    timeout of 0, so a later receive or message move task still finds it. Receiving counts as
    a receive: ``ApproximateReceiveCount`` goes up by one. Columns: message_id, body,
    sent_timestamp (ms since the epoch), receive_count.
    """
    rows: dict[str, dict[str, Any]] = {}
    handles: list[str] = []
    end = time.perf_counter() + seconds
    try:
        while len(rows) < expected and time.perf_counter() < end:
            response = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                VisibilityTimeout=30,  # not again while we collect the rest
                MessageSystemAttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
            )
            messages = response.get("Messages", [])
            if not messages:
                break
            for message in messages:
                handles.append(message["ReceiptHandle"])
                rows[message["MessageId"]] = {
                    "message_id": message["MessageId"],
                    "body": message["Body"],
                    "sent_timestamp": int(message["Attributes"]["SentTimestamp"]),
                    "receive_count": int(message["Attributes"]["ApproximateReceiveCount"]),
                }
    finally:
        for start in range(0, len(handles), 10):
            chunk = handles[start : start + 10]
            sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, handle in enumerate(chunk)
                ],
            )
    columns = {"message_id": str, "body": str, "sent_timestamp": "int64", "receive_count": int}
    return pd.DataFrame(list(rows.values()), columns=list(columns)).astype(columns)


def first_poison_upload() -> str:
    """The first upload of the data set that version 1 of the worker cannot process."""
    return next(body for body in upload_messages() if json.loads(body)["filter"] == POISON_FILTER)


# --- 1. one poison message ------------------------------------------------------------------

RECEIVE_COLUMNS = {"start": float, "end": float, "got": bool, "receive_count": "Int64"}
SAMPLE_COLUMNS = {
    "t": float,
    "t_done": float,
    "source_visible": int,
    "source_in_flight": int,
    "dlq_visible": int,
}


@dataclass
class PoisonResult:
    """What :func:`follow_poison` measured. Times are seconds since the experiment started."""

    pair: QueuePair
    receives: pd.DataFrame
    """One row per ReceiveMessage on the source: start, end, got (the message came back),
    receive_count (its ``ApproximateReceiveCount``, empty when nothing came back)."""
    samples: pd.DataFrame
    """Where the message was, every ``sample_interval``: source_visible, source_in_flight,
    dlq_visible, read between t and t_done. A reading runs alongside the consumer's receives,
    so only a reading that began after a receive returned is sure to see its effect."""
    moved_at: float
    """When the first sample that found the message in the DLQ had read it (NaN if it never
    got there)."""
    seconds: float
    """Wall time of the whole experiment."""

    @property
    def deliveries(self) -> int:
        """How often a receive returned the message before it was found in the DLQ."""
        got = self.receives["got"]
        if self.moved_at != self.moved_at:  # NaN: it never reached the DLQ
            return int(got.sum())
        return int((got & (self.receives["end"] <= self.moved_at)).sum())

    @property
    def moving_receive(self) -> pd.Series | None:
        """The receive that was running when the message moved: it returned nothing."""
        if self.moved_at != self.moved_at:
            return None
        last = self.receives[self.receives["got"]]["end"].max()
        after = self.receives[
            (self.receives["start"] > last) & (self.receives["start"] <= self.moved_at)
        ]
        return after.iloc[0] if len(after) else None

    @property
    def expired_at(self) -> float:
        """When the last delivery's visibility timeout ended: the first sample after the last
        delivery that saw the message visible in the source again (NaN if none did). Only
        readings begun after that delivery returned count: an earlier one may have read the
        queue just before the receive hid the message."""
        last = self.receives[self.receives["got"]]["end"].max()
        again = self.samples[(self.samples["t"] > last) & (self.samples["source_visible"] > 0)]
        return float(again["t"].iloc[0]) if len(again) else float("nan")

    @property
    def timeline(self) -> pd.DataFrame:
        """The story in a few rows: each delivery, the timeout's end, the move."""
        rows = [
            {
                "t": r.end,
                "event": f"receive {i} returned it",
                "ApproximateReceiveCount": r.receive_count,
            }
            for i, r in enumerate(self.receives[self.receives["got"]].itertuples(), start=1)
        ]
        rows.append({"t": self.expired_at, "event": "visible again (timeout over)"})
        mover = self.moving_receive
        if mover is not None:
            rows.append({"t": mover["start"], "event": "next receive starts"})
        rows.append({"t": self.moved_at, "event": "found in the DLQ"})
        frame = pd.DataFrame(rows, columns=["t", "event", "ApproximateReceiveCount"])
        return frame.sort_values("t", ignore_index=True)


def follow_poison(
    cloud: Backend,
    *,
    max_receive_count: int = 3,
    visibility_timeout: int = 1,
    retry_pause: float = 1.5,
    sample_interval: float = 0.05,
    deadline_seconds: float = 15.0,
    progress: bool = True,
) -> PoisonResult:
    """Send one poison upload and follow it from the source queue into the DLQ.

    One consumer long-polls (1 s) the source, fails the message and never deletes it, then
    pauses ``retry_pause`` seconds before asking again (a crude back-off). The pause is longer
    than the visibility timeout, so the message sits visible in the source for a while between
    receives, and the samples show whether it moves when its timeout ends or at the next
    receive. A sampler reads both queues' depth every ``sample_interval``.
    """
    sqs = cloud.client("sqs")
    pair = create_pair(
        cloud, "poison", max_receive_count=max_receive_count, visibility_timeout=visibility_timeout
    )
    body = first_poison_upload()
    receives: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    arrived = threading.Event()  # the message is in the DLQ and no longer in the source
    workers = Workers()
    t0 = time.perf_counter()
    deadline = t0 + deadline_seconds
    sqs.send_message(QueueUrl=pair.source_url, MessageBody=body)

    def now() -> float:
        return time.perf_counter() - t0

    def consume() -> None:
        while not arrived.is_set() and not workers.stop.is_set():
            if deadline - time.perf_counter() < 1:
                return  # a 1 s long poll would outlast the deadline
            start = now()
            response = sqs.receive_message(
                QueueUrl=pair.source_url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=1,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            )
            messages = response.get("Messages", [])
            count = int(messages[0]["Attributes"]["ApproximateReceiveCount"]) if messages else None
            receives.append(
                {"start": start, "end": now(), "got": bool(messages), "receive_count": count}
            )
            if not messages:
                continue
            try:
                resize(json.loads(messages[0]["Body"]))
            except ResizeError:
                workers.stop.wait(retry_pause)  # no delete: the message comes back
            else:
                sqs.delete_message(
                    QueueUrl=pair.source_url, ReceiptHandle=messages[0]["ReceiptHandle"]
                )

    def sample() -> None:
        tail_until = None
        while not workers.stop.is_set() and time.perf_counter() < deadline:
            tick = time.perf_counter()
            started = now()
            source_visible, in_flight = depth(sqs, pair.source_url)
            row = {
                "t": started,
                "source_visible": source_visible,
                "source_in_flight": in_flight,
                "dlq_visible": visible(sqs, pair.dlq_url),
                "t_done": now(),
            }
            samples.append(row)
            if row["dlq_visible"] and not source_visible + in_flight and not arrived.is_set():
                arrived.set()
                tail_until = time.perf_counter() + 0.3  # a few samples after, for the plot
            if tail_until is not None and time.perf_counter() >= tail_until:
                return
            workers.stop.wait(max(0.0, sample_interval - (time.perf_counter() - tick)))

    workers.start("poison-consumer", consume)
    workers.start("poison-sampler", sample)
    workers.wait(
        deadline,
        progress=(lambda: sum(r["got"] for r in receives)) if progress else None,
        total=max_receive_count,
        description="failed receives",
    )
    receive_frame = pd.DataFrame(receives, columns=list(RECEIVE_COLUMNS)).astype(RECEIVE_COLUMNS)
    sample_frame = pd.DataFrame(samples, columns=list(SAMPLE_COLUMNS)).astype(SAMPLE_COLUMNS)
    in_dlq = sample_frame[sample_frame["dlq_visible"] > 0]
    moved_at = float(in_dlq["t_done"].iloc[0]) if len(in_dlq) else float("nan")
    return PoisonResult(pair, receive_frame, sample_frame, moved_at, now())


# --- 2. mixed traffic -----------------------------------------------------------------------

OUTCOME_COLUMNS = {
    "upload_id": str,
    "filter": str,
    "poison": bool,
    "outcome": str,
    "times_processed": int,
    "copies_in_dlq": int,
    "failures": int,
    "sent_timestamp": "Int64",
}
MIXED_SAMPLE_COLUMNS = {
    "t": float,
    "source_visible": int,
    "source_in_flight": int,
    "dlq_visible": int,
    "processed": int,
}
PROCESSED_COLUMNS = {"upload_id": str, "t": float, "consumer": int}


@dataclass
class MixedResult:
    """What :func:`mixed_traffic` measured. Times are seconds since the experiment started."""

    pair: QueuePair
    outcomes: pd.DataFrame
    """One row per upload sent: upload_id, filter, poison, outcome ("processed", "in DLQ" or
    "lost"), times_processed, copies_in_dlq, failures (failed attempts), sent_timestamp (the
    source's ``SentTimestamp``, ms since the epoch, as the consumer saw it)."""
    samples: pd.DataFrame
    """Every ``sample_interval``: t, source_visible, source_in_flight, dlq_visible, processed
    (uploads processed so far)."""
    processed: pd.DataFrame
    """One row per successful processing: upload_id, t, consumer."""
    dlq: pd.DataFrame
    """The DLQ's messages at the end, read and left in place (:func:`peek`), with upload_id."""
    seconds: float

    @property
    def summary(self) -> pd.DataFrame:
        """Per kind of upload (good or poison): sent, processed, in DLQ, lost."""
        frame = self.outcomes.assign(
            kind=self.outcomes["poison"].map({True: "poison", False: "good"})
        )
        table = pd.crosstab(frame["kind"], frame["outcome"]).reindex(
            index=["good", "poison"], columns=["processed", "in DLQ", "lost"], fill_value=0
        )
        table.insert(0, "sent", table.sum(axis=1))
        table.columns.name = None
        return table

    @property
    def lost(self) -> int:
        return int((self.outcomes["outcome"] == "lost").sum())


def mixed_traffic(
    cloud: Backend,
    *,
    messages: int = 60,
    consumers: int = 2,
    max_receive_count: int = 3,
    visibility_timeout: int = 1,
    process: Process = resize,
    sample_interval: float = 0.1,
    deadline_seconds: float = 15.0,
    progress: bool = True,
) -> MixedResult:
    """Send ``messages`` uploads at once; consumers process the good ones and fail the poison.

    Consumers long-poll (1 s), call ``process`` on each upload and delete it only if that
    returned; a failed upload is left alone and comes back after the visibility timeout. The
    run ends when the source queue is empty and every upload is either processed or in the DLQ,
    or at the deadline; then the DLQ is read (and its messages left in it) to see which uploads
    it holds.
    """
    sqs = cloud.client("sqs")
    pair = create_pair(
        cloud, "mixed", max_receive_count=max_receive_count, visibility_timeout=visibility_timeout
    )
    bodies = upload_messages(messages)
    uploads = [json.loads(body) for body in bodies]
    lock = threading.Lock()
    processed: list[dict[str, Any]] = []
    failures: Counter[str] = Counter()
    sent_timestamps: dict[str, int] = {}
    samples: list[dict[str, Any]] = []
    done = threading.Event()
    workers = Workers()
    t0 = time.perf_counter()
    deadline = t0 + deadline_seconds
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=pair.source_url,
            Entries=[
                {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])
            ],
        )

    def now() -> float:
        return time.perf_counter() - t0

    def processed_count() -> int:
        with lock:
            return len({row["upload_id"] for row in processed})

    def consume(consumer: int) -> None:
        while not done.is_set() and not workers.stop.is_set():
            if deadline - time.perf_counter() < 1:
                return
            response = sqs.receive_message(
                QueueUrl=pair.source_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageSystemAttributeNames=["SentTimestamp"],
            )
            for message in response.get("Messages", []):
                upload = json.loads(message["Body"])
                upload_id = upload["upload_id"]
                with lock:
                    sent_timestamps.setdefault(
                        upload_id, int(message["Attributes"]["SentTimestamp"])
                    )
                try:
                    process(upload)
                except ResizeError:
                    with lock:
                        failures[upload_id] += 1
                    continue  # no delete: it comes back, until the redrive policy moves it
                sqs.delete_message(QueueUrl=pair.source_url, ReceiptHandle=message["ReceiptHandle"])
                with lock:
                    processed.append({"upload_id": upload_id, "t": now(), "consumer": consumer})

    def sample() -> None:
        while not workers.stop.is_set() and time.perf_counter() < deadline:
            tick = time.perf_counter()
            count = processed_count()  # first: a sample must not claim more than it saw
            source_visible, in_flight = depth(sqs, pair.source_url)
            in_dlq = visible(sqs, pair.dlq_url)
            samples.append(
                {
                    "t": now(),
                    "source_visible": source_visible,
                    "source_in_flight": in_flight,
                    "dlq_visible": in_dlq,
                    "processed": count,
                }
            )
            if source_visible + in_flight == 0 and count + in_dlq >= len(bodies):
                done.set()
                return
            workers.stop.wait(max(0.0, sample_interval - (time.perf_counter() - tick)))

    for c in range(consumers):
        workers.start(f"mixed-consumer-{c}", consume, c)
    workers.start("mixed-sampler", sample)
    workers.wait(
        deadline,
        progress=(lambda: processed_count() + (samples[-1]["dlq_visible"] if samples else 0))
        if progress
        else None,
        total=len(bodies),
        description="processed or dead-lettered",
    )
    seconds = now()
    dlq = peek(sqs, pair.dlq_url, expected=samples[-1]["dlq_visible"] if samples else 0)
    dlq.insert(0, "upload_id", [json.loads(b).get("upload_id", "") for b in dlq["body"]])
    processed_frame = pd.DataFrame(processed, columns=list(PROCESSED_COLUMNS)).astype(
        PROCESSED_COLUMNS
    )
    outcomes = account(uploads, processed_frame, dlq, failures, sent_timestamps)
    sample_frame = pd.DataFrame(samples, columns=list(MIXED_SAMPLE_COLUMNS)).astype(
        MIXED_SAMPLE_COLUMNS
    )
    return MixedResult(pair, outcomes, sample_frame, processed_frame, dlq, seconds)


def account(
    uploads: Iterable[dict[str, Any]],
    processed: pd.DataFrame,
    dlq: pd.DataFrame,
    failures: Counter[str] | None = None,
    sent_timestamps: dict[str, int] | None = None,
) -> pd.DataFrame:
    """Say for every upload sent where it ended: processed, in the DLQ, or lost.

    An upload counts as processed if it was processed at least once (a standard queue may
    deliver it twice), else as in the DLQ if a copy is there, else as lost.
    """
    failures = failures or Counter()
    sent_timestamps = sent_timestamps or {}
    times = Counter(processed["upload_id"])
    copies = Counter(dlq["upload_id"]) if "upload_id" in dlq else Counter()
    rows = []
    for upload in uploads:
        upload_id = upload["upload_id"]
        outcome = "processed" if times[upload_id] else "in DLQ" if copies[upload_id] else "lost"
        rows.append(
            {
                "upload_id": upload_id,
                "filter": upload.get("filter", ""),
                "poison": upload.get("filter") not in KNOWN_FILTERS,
                "outcome": outcome,
                "times_processed": times[upload_id],
                "copies_in_dlq": copies[upload_id],
                "failures": failures[upload_id],
                "sent_timestamp": sent_timestamps.get(upload_id),
            }
        )
    return pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS)).astype(OUTCOME_COLUMNS)


def kept_timestamps(result: MixedResult) -> pd.DataFrame:
    """Per upload in the DLQ: the ``SentTimestamp`` the source gave it, the one the DLQ shows
    (ms since the epoch, and as a UTC time, ``sent_at``), and its age now. Equal timestamps
    mean the message kept its original send time."""
    source = result.outcomes.set_index("upload_id")["sent_timestamp"]
    frame = result.dlq[["upload_id", "message_id", "sent_timestamp"]].rename(
        columns={"sent_timestamp": "sent_timestamp_in_dlq"}
    )
    frame.insert(2, "sent_timestamp_in_source", frame["upload_id"].map(source).astype("Int64"))
    frame["kept"] = frame["sent_timestamp_in_source"] == frame["sent_timestamp_in_dlq"]
    frame["sent_at"] = pd.to_datetime(frame["sent_timestamp_in_dlq"], unit="ms", utc=True)
    frame["age_s"] = (time.time() * 1000 - frame["sent_timestamp_in_dlq"]) / 1000
    return frame.sort_values("upload_id", ignore_index=True)


def time_left_in_dlq(age_when_moved: float, dlq_retention: float) -> float:
    """How long a standard queue's message can still wait in the DLQ, in the same unit.

    Its retention counts from the original enqueue time, so the time it already spent in the
    source is gone (SQS developer guide, "Setting up dead-letter queue retention").
    """
    return max(0.0, dlq_retention - age_when_moved)


def retention_table(
    moved_after_days: Iterable[float] = (0.5, 1, 3, 3.9),
    dlq_retention_days: Iterable[int] = (4, 7, 14),
) -> pd.DataFrame:
    """Days a standard queue's message has left in its DLQ (:func:`time_left_in_dlq`): one row
    per time it spent failing in the source before the move, one column per DLQ retention."""
    moved_after_days = list(moved_after_days)
    table = pd.DataFrame(
        {
            dlq_days: [time_left_in_dlq(days, dlq_days) for days in moved_after_days]
            for dlq_days in dlq_retention_days
        },
        index=pd.Index(moved_after_days, name="days in the source before the move"),
    )
    table.columns.name = "DLQ retention (days)"
    return table


def first_alarm(samples: pd.DataFrame, threshold: int = 0) -> float:
    """When a poll of the DLQ's depth first saw more than ``threshold`` messages (NaN if never).

    What a CloudWatch alarm on ``ApproximateNumberOfMessagesVisible > threshold`` watches, done
    by hand from the samples an experiment took.
    """
    above = samples[samples["dlq_visible"] > threshold]
    return float(above["t"].iloc[0]) if len(above) else float("nan")


# --- 3. moving messages back ----------------------------------------------------------------

PROGRESS_COLUMNS = {"t": float, "status": str, "moved": int, "to_move": int}


def move_tasks(sqs: Any, dlq_arn: str) -> pd.DataFrame:
    """The DLQ's most recent message move tasks (up to 10), newest first, as a table.

    ``task_handle`` (shown only while a task runs) and ``failure_reason`` are left out when no
    task has one.
    """
    results = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10).get("Results", [])
    rows = [
        {
            "status": r.get("Status"),
            "moved": r.get("ApproximateNumberOfMessagesMoved"),
            "to_move": r.get("ApproximateNumberOfMessagesToMove"),
            "max_per_second": r.get("MaxNumberOfMessagesPerSecond"),
            "destination": (r.get("DestinationArn") or "(the source queue)").rsplit(":", 1)[-1],
            "started": pd.to_datetime(r.get("StartedTimestamp"), unit="ms", utc=True),
            "task_handle": (r.get("TaskHandle") or "")[:12] + ("…" if r.get("TaskHandle") else ""),
            "failure_reason": r.get("FailureReason", ""),
        }
        for r in results
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "status",
            "moved",
            "to_move",
            "max_per_second",
            "destination",
            "started",
            "task_handle",
            "failure_reason",
        ],
    )
    empty = [c for c in ("task_handle", "failure_reason") if not frame[c].astype(bool).any()]
    return frame.drop(columns=empty)


def latest_task(sqs: Any, dlq_arn: str) -> dict[str, Any] | None:
    """The DLQ's most recent message move task, as ListMessageMoveTasks returns it."""
    results = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1).get("Results", [])
    return results[0] if results else None


def watch_task(
    sqs: Any,
    dlq_arn: str,
    *,
    seconds: float,
    sample_interval: float = 0.1,
    until_finished: bool = True,
) -> pd.DataFrame:
    """Sample the DLQ's latest move task for up to ``seconds``: t, status, moved, to_move.

    Stops early once the task is finished (COMPLETED, CANCELLED or FAILED) if
    ``until_finished``. Times are seconds since the call.
    """
    rows = []
    t0 = time.perf_counter()
    while True:
        task = latest_task(sqs, dlq_arn)
        if task is not None:
            rows.append(_progress_row(task, time.perf_counter() - t0))
            if until_finished and task.get("Status") in FINISHED:
                break
        if time.perf_counter() - t0 + sample_interval > seconds:
            break
        time.sleep(sample_interval)
    return pd.DataFrame(rows, columns=list(PROGRESS_COLUMNS)).astype(PROGRESS_COLUMNS)


def wait_for_task(sqs: Any, dlq_arn: str, *, seconds: float = 10.0) -> dict[str, Any] | None:
    """Wait (at most ``seconds``) until the DLQ's latest move task is finished; return it."""
    end = time.perf_counter() + seconds
    task = latest_task(sqs, dlq_arn)
    while task is not None and task.get("Status") not in FINISHED and time.perf_counter() < end:
        time.sleep(0.1)
        task = latest_task(sqs, dlq_arn)
    return task


def compare_redriven(sqs: Any, result: MixedResult, expected: int) -> pd.DataFrame:
    """The messages a move task sent back to the source, next to their copies in the DLQ.

    Reads up to ``expected`` messages of the source queue with :func:`peek` (which leaves them
    there, visible, and counts as one receive each) and matches them by upload_id with the DLQ
    messages :func:`mixed_traffic` read. Columns: upload_id, message_id_in_dlq,
    message_id_back, sent_timestamp_in_dlq, sent_timestamp_back (ms since the epoch),
    receive_count_back, new_message_id, new_sent_timestamp.
    """
    back = peek(sqs, result.pair.source_url, expected=expected)
    back.insert(0, "upload_id", [json.loads(b).get("upload_id", "") for b in back["body"]])
    before = result.dlq[["upload_id", "message_id", "sent_timestamp"]]
    frame = before.merge(back, on="upload_id", suffixes=("_in_dlq", "_back"))
    frame = frame.rename(columns={"receive_count": "receive_count_back"})[
        [
            "upload_id",
            "message_id_in_dlq",
            "message_id_back",
            "sent_timestamp_in_dlq",
            "sent_timestamp_back",
            "receive_count_back",
        ]
    ]
    frame["new_message_id"] = frame["message_id_in_dlq"] != frame["message_id_back"]
    frame["new_sent_timestamp"] = frame["sent_timestamp_back"] > frame["sent_timestamp_in_dlq"]
    return frame.sort_values("upload_id", ignore_index=True)


def _progress_row(task: dict[str, Any], t: float) -> dict[str, Any]:
    return {
        "t": t,
        "status": task.get("Status", ""),
        "moved": int(task.get("ApproximateNumberOfMessagesMoved", 0) or 0),
        "to_move": int(task.get("ApproximateNumberOfMessagesToMove", 0) or 0),
    }


def fitted_rate(progress: pd.DataFrame) -> float:
    """Messages moved per second while the task was moving: the slope of a straight line
    through the samples from the first to the last change of the moved count.

    A slope, not moved / duration: a task that moves its first message at once and then one
    every 1/rate seconds would otherwise seem faster than its limit. NaN with fewer than two
    changes.
    """
    if len(progress) < 2:
        return float("nan")
    changes = progress["moved"].diff().fillna(progress["moved"]) > 0
    if changes.sum() < 2:
        return float("nan")
    first, last = progress.index[changes][0], progress.index[changes][-1]
    window = progress.loc[first:last]
    t, moved = window["t"], window["moved"]
    slope = ((t - t.mean()) * (moved - moved.mean())).sum() / ((t - t.mean()) ** 2).sum()
    return float(slope)


@dataclass
class RedriveResult:
    """What :func:`redrive` measured. Times are seconds since the task was started."""

    progress: pd.DataFrame
    """ListMessageMoveTasks every ``sample_interval``: t, status, moved, to_move."""
    processed: pd.DataFrame
    """One row per upload the fixed consumer processed from the source: upload_id, t, consumer."""
    rate_limit: int | None
    """The MaxNumberOfMessagesPerSecond asked for."""
    task: dict[str, Any]
    """The task as ListMessageMoveTasks last returned it."""
    waiting_at_start: int
    """Messages already in the source queue when the task started (moved earlier, say)."""
    seconds: float

    @property
    def moved(self) -> int:
        return int(self.task.get("ApproximateNumberOfMessagesMoved", 0) or 0)

    @property
    def status(self) -> str:
        return str(self.task.get("Status", ""))

    @property
    def measured_rate(self) -> float:
        """Messages per second while moving (:func:`fitted_rate`)."""
        return fitted_rate(self.progress)

    @property
    def summary(self) -> pd.DataFrame:
        finished = self.progress[self.progress["status"].isin(FINISHED)]
        return pd.DataFrame(
            [
                {
                    "status": self.status,
                    "to_move": int(self.task.get("ApproximateNumberOfMessagesToMove", 0) or 0),
                    "moved": self.moved,
                    "max_per_second": self.rate_limit,
                    "measured_per_s": round(self.measured_rate, 2),
                    "finished_after_s": round(float(finished["t"].iloc[0]), 2)
                    if len(finished)
                    else float("nan"),
                    "processed_after_fix": self.processed["upload_id"].nunique(),
                }
            ]
        )


def redrive(
    cloud: Backend,
    pair: QueuePair,
    *,
    rate: int | None = None,
    process: Process = resize_fixed,
    consumers: int = 2,
    sample_interval: float = 0.1,
    deadline_seconds: float = 30.0,
    progress: bool = True,
) -> RedriveResult:
    """Start a message move task from the pair's DLQ back to its source and watch it work.

    The task has no ``DestinationArn``, so each message goes back to the queue it came from.
    While it runs, consumers with the fixed worker (``process``) long-poll the source and
    process what arrives, and a sampler reads ListMessageMoveTasks every ``sample_interval``.
    The run ends when the task is finished and the source queue is empty, or at the deadline.
    """
    sqs = cloud.client("sqs")
    params: dict[str, Any] = {"SourceArn": pair.dlq_arn}
    if rate is not None:
        params["MaxNumberOfMessagesPerSecond"] = rate
    lock = threading.Lock()
    processed: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    last: dict[str, Any] = {}
    done = threading.Event()
    workers = Workers()
    to_move = visible(sqs, pair.dlq_url)
    waiting = sum(depth(sqs, pair.source_url))
    earlier = (latest_task(sqs, pair.dlq_arn) or {}).get("StartedTimestamp")
    t0 = time.perf_counter()
    deadline = t0 + deadline_seconds
    handle = sqs.start_message_move_task(**params)["TaskHandle"]

    def ours(task: dict[str, Any]) -> bool:
        """The listing may still show an earlier task for a moment (on AWS it is eventually
        consistent): ours has our handle while it runs, and a new start time."""
        return task.get("TaskHandle") == handle or task.get("StartedTimestamp") != earlier

    def now() -> float:
        return time.perf_counter() - t0

    def consume(consumer: int) -> None:
        while not done.is_set() and not workers.stop.is_set():
            if deadline - time.perf_counter() < 1:
                return
            response = sqs.receive_message(
                QueueUrl=pair.source_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            for message in response.get("Messages", []):
                upload = json.loads(message["Body"])
                try:
                    process(upload)
                except ResizeError:
                    continue
                sqs.delete_message(QueueUrl=pair.source_url, ReceiptHandle=message["ReceiptHandle"])
                with lock:
                    processed.append(
                        {"upload_id": upload["upload_id"], "t": now(), "consumer": consumer}
                    )

    def sample() -> None:
        while not workers.stop.is_set() and time.perf_counter() < deadline:
            tick = time.perf_counter()
            task = latest_task(sqs, pair.dlq_arn)
            if task is not None and ours(task):
                last.clear()
                last.update(task)
                rows.append(_progress_row(task, now()))
                if task.get("Status") in FINISHED and sum(depth(sqs, pair.source_url)) == 0:
                    with lock:
                        handled = len(processed)
                    if handled >= int(task.get("ApproximateNumberOfMessagesMoved", 0) or 0):
                        done.set()
                        return
            workers.stop.wait(max(0.0, sample_interval - (time.perf_counter() - tick)))

    workers.start("redrive-sampler", sample)
    for c in range(consumers):
        workers.start(f"redrive-consumer-{c}", consume, c)
    workers.wait(
        deadline,
        progress=(lambda: rows[-1]["moved"] if rows else 0) if progress else None,
        total=to_move,
        description="messages moved back",
    )
    progress_frame = pd.DataFrame(rows, columns=list(PROGRESS_COLUMNS)).astype(PROGRESS_COLUMNS)
    processed_frame = pd.DataFrame(processed, columns=list(PROCESSED_COLUMNS)).astype(
        PROCESSED_COLUMNS
    )
    return RedriveResult(progress_frame, processed_frame, rate, dict(last), waiting, now())
