"""Standard and FIFO queues, measured: duplicates, order, message groups and deduplication.

Four experiments, one per section of notebook 03, each on fresh queues (a random suffix, since
a deleted queue's name can be reused only after 60 s) and each returning what it measured:

- :func:`count_uploads`: a standard queue in realism mode delivers some messages twice and some
  early; a naive consumer and an idempotent one count the same deliveries.
- :func:`fifo_groups`: several message groups, several consumer threads; order within a group,
  parallelism across groups.
- :func:`held_back_group`: one group's message is held by a slow worker, another's by a worker
  that crashed; the timeline of what the other consumers could receive meanwhile.
- :func:`deduplication`: content-based and explicit deduplication ids, sends against deliveries.

And :func:`fifo_mistakes` collects the errors of the four usual FIFO mistakes.

Times are seconds since the experiment started, from this process's monotonic clock, taken when
a call returned: what the queue actually did, as a consumer sees it.

>>> result = count_uploads(cloud, uploads=60, duplicate=0.1, reorder=0.1)   # doctest: +SKIP
>>> result.totals                                                           # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from botocore.exceptions import ClientError

from workshop.data import photo_uploads, upload_messages
from workshop.experiments.threads import Workers

if TYPE_CHECKING:
    from workshop.backends import Backend


def fresh(base: str) -> str:
    """A queue base name with a short random suffix: ``counting-3f9a1c``."""
    return f"{base}-{secrets.token_hex(3)}"


def delete_batch(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> int:
    """Delete received messages with one DeleteMessageBatch call; return how many went."""
    if not messages:
        return 0
    response = sqs.delete_message_batch(
        QueueUrl=queue_url,
        Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ],
    )
    return len(response.get("Successful", []))


# --- 1. duplicates and order on a standard queue ---------------------------------------------


class NaiveCounter:
    """Counts every message it is handed: right only if each upload arrives exactly once.

    ``process`` takes a message as ``receive_message`` returns it; the body is an upload.
    """

    def __init__(self) -> None:
        self.uploads: Counter[str] = Counter()
        """Uploads counted per user."""
        self.kilobytes = 0
        """Sum of the uploads' sizes, in kB."""

    def process(self, message: dict[str, Any]) -> None:
        upload = json.loads(message["Body"])
        self.uploads[upload["user"]] += 1
        self.kilobytes += int(upload["size_kb"])


class IdempotentCounter(NaiveCounter):
    """Counts each message once however often it arrives: it remembers the MessageIds it has
    processed and skips a message it has seen.

    The id is recorded *after* the work, so a crash in between means the work is done again
    rather than lost. Here the store is a set in memory; consumers on several machines need a
    shared, durable one (a database table with a conditional write, for example).
    """

    def __init__(self) -> None:
        super().__init__()
        self.processed_ids: set[str] = set()
        self.skipped = 0
        """Deliveries it recognised as repeats and did not count."""

    def process(self, message: dict[str, Any]) -> None:
        if message["MessageId"] in self.processed_ids:
            self.skipped += 1
            return
        super().process(message)
        self.processed_ids.add(message["MessageId"])


DELIVERY_COLUMNS = {
    "position": int,
    "t": float,
    "seq": int,
    "message_id": str,
    "user": str,
    "size_kb": int,
    "delivery": int,
    "out_of_order": bool,
}


@dataclass
class CountingResult:
    """What :func:`count_uploads` measured."""

    deliveries: pd.DataFrame
    """One row per message received, in the order received: position, t, seq (the order it was
    sent in), message_id, user, size_kb, delivery (1 for the first delivery of that MessageId,
    2 for the second...), out_of_order (a first delivery that came after a message sent later)."""
    per_user: pd.DataFrame
    """Uploads per user: truth (what was sent), naive and idempotent (what they counted)."""
    totals: pd.DataFrame
    """One row per counter (truth, naive, idempotent): uploads and kilobytes counted."""
    summary: dict[str, Any]
    """sent, deliveries, duplicates, out_of_order, receive_calls, missing, seconds, realism."""
    queue_url: str
    """The queue it ran on (realism mode is off again)."""


def count_uploads(
    cloud: Backend,
    *,
    uploads: int = 60,
    duplicate: float = 0.1,
    reorder: float = 0.1,
    seed: int | None = 3,
    deadline_seconds: float = 10.0,
) -> CountingResult:
    """Send ``uploads`` photo uploads to a standard queue in realism mode and count them twice.

    One consumer receives everything (batches of ten), hands each message to a
    :class:`NaiveCounter` and an :class:`IdempotentCounter`, and deletes it. It stops when
    every upload has arrived and a receive comes back empty, or at the deadline. Realism mode
    is turned off again at the end. On the aws backend ``set_sqs_realism`` only says that AWS
    duplicates and reorders on its own, rarely, so such a run usually shows neither; it is
    called once there, to turn realism on, so the remark is printed once.
    """
    if uploads < 1:
        raise ValueError("Send at least one upload.")
    sqs = cloud.client("sqs")
    url = cloud.create_queue(fresh("counting"))
    cloud.set_sqs_realism(url, duplicate=duplicate, reorder=reorder, seed=seed)
    bodies = [
        json.dumps({**json.loads(body), "seq": seq})
        for seq, body in enumerate(upload_messages(min(uploads, 200)))
    ]
    truth = Counter(json.loads(body)["user"] for body in bodies)
    t0 = time.perf_counter()
    deadline = t0 + deadline_seconds
    try:
        for start in range(0, len(bodies), 10):
            sqs.send_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "MessageBody": body}
                    for i, body in enumerate(bodies[start : start + 10])
                ],
            )
        naive, idempotent = NaiveCounter(), IdempotentCounter()
        rows: list[dict[str, Any]] = []
        copies: Counter[str] = Counter()
        seen: set[int] = set()
        latest = -1
        calls = 0
        while time.perf_counter() < deadline:
            # Long-poll while uploads are missing; then short polls collect the last copies.
            wait = 1 if len(seen) < len(bodies) else 0
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
            ).get("Messages", [])
            calls += 1
            now = time.perf_counter() - t0
            if not messages and wait == 0:
                break
            for message in messages:
                body = json.loads(message["Body"])
                naive.process(message)
                idempotent.process(message)
                copies[message["MessageId"]] += 1
                first = copies[message["MessageId"]] == 1
                rows.append(
                    {
                        "position": len(rows),
                        "t": now,
                        "seq": body["seq"],
                        "message_id": message["MessageId"],
                        "user": body["user"],
                        "size_kb": int(body["size_kb"]),
                        "delivery": copies[message["MessageId"]],
                        "out_of_order": first and body["seq"] < latest,
                    }
                )
                if first:
                    latest = max(latest, body["seq"])
                    seen.add(body["seq"])
            delete_batch(sqs, url, messages)
    finally:
        if cloud.kind == "local":  # on AWS there is nothing to turn off
            cloud.set_sqs_realism(url, duplicate=0, reorder=0)
    seconds = time.perf_counter() - t0
    deliveries = pd.DataFrame(rows, columns=list(DELIVERY_COLUMNS)).astype(DELIVERY_COLUMNS)
    users = sorted(truth)
    per_user = pd.DataFrame(
        {
            "user": users,
            "truth": [truth[u] for u in users],
            "naive": [naive.uploads[u] for u in users],
            "idempotent": [idempotent.uploads[u] for u in users],
        }
    )
    true_kb = sum(int(json.loads(body)["size_kb"]) for body in bodies)
    totals = pd.DataFrame(
        {
            "counter": ["truth", "naive", "idempotent"],
            "uploads": [len(bodies), sum(naive.uploads.values()), sum(idempotent.uploads.values())],
            "kilobytes": [true_kb, naive.kilobytes, idempotent.kilobytes],
        }
    )
    summary = {
        "sent": len(bodies),
        "deliveries": len(deliveries),
        "duplicates": int((deliveries["delivery"] > 1).sum()),
        "out_of_order": int(deliveries["out_of_order"].sum()),
        "receive_calls": calls,
        "missing": len(bodies) - len(seen),
        "seconds": seconds,
        "realism": cloud.kind == "local",
    }
    return CountingResult(deliveries, per_user, totals, summary, url)


# --- 2. FIFO: order within a group, parallelism across groups ---------------------------------


GROUP_COLUMNS = {
    "group": str,
    "seq": int,
    "upload_id": str,
    "consumer": int,
    "received": float,
    "deleted": float,
}


@dataclass
class GroupsResult:
    """What :func:`fifo_groups` measured."""

    processed: pd.DataFrame
    """One row per message processed: group, seq (its place in the group), upload_id,
    consumer, received (when the receive returned) and deleted (when the consumer, its work
    done, asked to delete it), in seconds since the start. Between the two the consumer surely
    held the message."""
    summary: pd.DataFrame
    """One row per group: messages, in_order (processed in the order sent),
    max_in_flight (most of its messages being processed at once: 1, since every receive takes
    one message), consumers (how many
    different consumers worked on it)."""
    max_groups_at_once: int
    """The most groups being processed at the same moment: parallelism across groups."""
    seconds: float


def max_overlap(spans: list[tuple[float, float]]) -> int:
    """The most intervals ``(start, end)`` open at one moment; touching ends do not overlap."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    # At equal times the -1 sorts first: one message deleted, the next received, never both.
    most = current = 0
    for _, step in events:
        current += step
        most = max(most, current)
    return most


def group_uploads(groups: int, per_group: int) -> list[dict[str, Any]]:
    """Uploads of the ``groups`` busiest users, ``per_group`` each, in upload order."""
    frame = photo_uploads()
    users = list(frame["user"].value_counts().index[:groups])
    chosen = frame[frame["user"].isin(users)].groupby("user").head(per_group)
    return [
        {"upload_id": r.upload_id, "user": r.user, "size_kb": int(r.size_kb)}
        for r in chosen.itertuples()
    ]


def fifo_groups(
    cloud: Backend,
    *,
    groups: int = 3,
    per_group: int = 6,
    consumers: int = 3,
    work_seconds: float = 0.05,
    deadline_seconds: float = 10.0,
    serialize_receives: bool = True,
) -> GroupsResult:
    """Send the uploads of ``groups`` users to a FIFO queue, one message group per user, and
    let ``consumers`` threads process them (``work_seconds`` each) and delete them.

    Each consumer receives one message at a time (``MaxNumberOfMessages=1``), so the record
    shows which consumer held which message when, and a group never has more than one message
    in flight. A consumer asking for more could receive several messages of one group in one
    call, in order, and hold them all at once: SQS only refuses to hand out more of a group
    while any of its messages is in flight. The consumers short-poll with a 50 ms pause after
    an empty receive, so they stop as soon as the work is done instead of finishing a long
    poll. Their receives are serialized (``serialize_receives``) to keep clear of a race in
    moto (see the code).
    """
    sqs = cloud.client("sqs")
    url = cloud.create_queue(fresh("groups"), fifo=True, VisibilityTimeout=10)
    items = group_uploads(groups, per_group)
    position: Counter[str] = Counter()
    for item in items:
        item["seq"] = position[item["user"]]
        position[item["user"]] += 1
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(item),
            MessageGroupId=item["user"],
            MessageDeduplicationId=item["upload_id"],
        )
    lock = threading.Lock()
    # One receive at a time. moto, under the local backend, decides which groups are free at
    # the start of a receive without a lock, so two receives at the same instant can take two
    # messages of one group; AWS does not. Receives take milliseconds, the work 50 ms, so the
    # consumers still work in parallel.
    receiving = threading.Lock() if serialize_receives else contextlib.nullcontext()
    processed: list[dict[str, Any]] = []
    workers = Workers()
    t0 = time.perf_counter()
    deadline = t0 + deadline_seconds

    def done() -> int:
        with lock:
            return len(processed)

    def consume(consumer: int) -> None:
        while done() < len(items) and not workers.stop.is_set():
            if time.perf_counter() > deadline:
                return
            with receiving:
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get(
                    "Messages", []
                )
            if not messages:
                workers.stop.wait(0.05)
                continue
            received = time.perf_counter() - t0
            body = json.loads(messages[0]["Body"])
            time.sleep(work_seconds)  # the work: resizing one upload
            # Timed before the call: the next consumer of this group may receive the next
            # message before this delete's answer is back, and the spans must not overlap.
            deleted = time.perf_counter() - t0
            sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
            with lock:
                processed.append(
                    {
                        "group": body["user"],
                        "seq": body["seq"],
                        "upload_id": body["upload_id"],
                        "consumer": consumer,
                        "received": received,
                        "deleted": deleted,
                    }
                )

    for consumer in range(consumers):
        workers.start(f"fifo-consumer-{consumer}", consume, consumer)
    workers.wait(deadline)
    seconds = time.perf_counter() - t0
    frame = (
        pd.DataFrame(processed, columns=list(GROUP_COLUMNS))
        .astype(GROUP_COLUMNS)
        .sort_values("received", ignore_index=True)
    )
    return GroupsResult(
        frame,
        summarise_groups(frame),
        max_overlap(list(zip(frame["received"], frame["deleted"], strict=True))),
        seconds,
    )


def summarise_groups(processed: pd.DataFrame) -> pd.DataFrame:
    """Per group: was it processed in the order sent, one message at a time, and by whom."""
    rows = []
    for group, mine in processed.sort_values("received").groupby("group", sort=True):
        rows.append(
            {
                "group": group,
                "messages": len(mine),
                "in_order": list(mine["seq"]) == sorted(mine["seq"]),
                "max_in_flight": max_overlap(
                    list(zip(mine["received"], mine["deleted"], strict=True))
                ),
                "consumers": mine["consumer"].nunique(),
            }
        )
    return pd.DataFrame(
        rows, columns=["group", "messages", "in_order", "max_in_flight", "consumers"]
    )


# --- 3. a group held back while one of its messages is in flight ------------------------------

HELD_GROUPS = ("slow", "crashed", "free")
"""The three groups of :func:`held_back_group`: the slow worker's, the crashed worker's, and
one nobody holds."""

SPAN_COLUMNS = {
    "group": str,
    "seq": int,
    "consumer": str,
    "received": float,
    "ended": float,
    "how": str,
    "receive_count": int,
}


@dataclass
class HeldBackResult:
    """What :func:`held_back_group` measured."""

    spans: pd.DataFrame
    """One row per delivery: group, seq, consumer (slow worker, crashed worker, poller),
    received, ended (when its consumer asked to delete it, or, if it was never deleted, when
    the poller received it again after its visibility ran out), how ("deleted" or "visibility
    expired"), receive_count (SQS's ApproximateReceiveCount)."""
    waits: pd.DataFrame
    """One row per group: first_received (its message 0), next_received (its message 1), and
    waited, the seconds between the two."""
    visibility_timeout: int
    slow_seconds: float
    seconds: float
    queue_url: str
    """The queue it ran on, for a caller that deletes it at once (an exercise checker)."""


def held_back_group(
    cloud: Backend,
    *,
    visibility_timeout: int = 2,
    slow_seconds: float = 1.0,
    per_group: int = 3,
    work_seconds: float = 0.1,
    poll_pause: float = 0.05,
    deadline_seconds: float = 10.0,
) -> HeldBackResult:
    """Hold one message of two groups and watch what a third consumer can receive meanwhile.

    A *slow worker* receives the first message of group ``slow`` and deletes it after
    ``slow_seconds``. A *crashed worker* receives the first message of group ``crashed`` and
    never deletes it, so it comes back when its ``visibility_timeout`` ends. A *poller*
    receives one message at a time, processes it for ``work_seconds`` and deletes it, until
    every message is done. It short-polls, pausing ``poll_pause`` seconds after an empty
    receive, so the timeline has that resolution on any backend (a long poll that began before
    a delete need not return the moment the delete frees the group). The held messages are
    sent and received before the others are sent, so each worker surely gets its group's first
    message, on any backend.
    """
    if slow_seconds >= visibility_timeout:
        raise ValueError("The slow worker must finish within the visibility timeout.")
    sqs = cloud.client("sqs")
    url = cloud.create_queue(
        fresh("held"),
        fifo=True,
        VisibilityTimeout=visibility_timeout,
        ContentBasedDeduplication=True,
    )
    run = secrets.token_hex(4)
    t0 = time.perf_counter()
    deadline = t0 + deadline_seconds

    def now() -> float:
        return time.perf_counter() - t0

    def send(group: str, seq: int) -> None:
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps({"run": run, "group": group, "seq": seq}),
            MessageGroupId=group,
        )

    def receive_one(wait: int) -> dict[str, Any] | None:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        return messages[0] if messages else None

    spans: list[dict[str, Any]] = []
    lock = threading.Lock()

    def record(message: dict[str, Any], consumer: str, received: float) -> dict[str, Any]:
        body = json.loads(message["Body"])
        row = {
            "group": body["group"],
            "seq": body["seq"],
            "consumer": consumer,
            "received": received,
            "ended": float("nan"),
            "how": "",
            "receive_count": int(message["Attributes"]["ApproximateReceiveCount"]),
        }
        with lock:
            spans.append(row)
        return row

    held: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for group, consumer in (("slow", "slow worker"), ("crashed", "crashed worker")):
        send(group, 0)
        while group not in held:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"The {consumer} never received its message.")
            message = receive_one(1)
            if message is not None:
                held[group] = (message, record(message, consumer, now()))
    for seq in range(per_group):
        for group in HELD_GROUPS:
            if not (seq == 0 and group in held):
                send(group, seq)
    total = per_group * len(HELD_GROUPS)

    def deletions() -> int:
        with lock:
            return sum(row["how"] == "deleted" for row in spans)

    workers = Workers()

    def slow_worker() -> None:
        message, row = held["slow"]
        workers.stop.wait(max(0.0, row["received"] + slow_seconds - now()))
        ended = now()  # before the call, as in fifo_groups
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        with lock:
            row["ended"], row["how"] = ended, "deleted"

    def poller() -> None:
        while deletions() < total and not workers.stop.is_set():
            if time.perf_counter() > deadline:
                return
            message = receive_one(0)
            if message is None:
                workers.stop.wait(poll_pause)
                continue
            row = record(message, "poller", now())
            if row["group"] == "crashed" and row["seq"] == 0:
                with lock:  # the crashed worker's copy ran out of visibility just now
                    first = held["crashed"][1]
                    first["ended"], first["how"] = row["received"], "visibility expired"
            time.sleep(work_seconds)
            ended = now()
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            with lock:
                row["ended"], row["how"] = ended, "deleted"

    workers.start("slow-worker", slow_worker)
    workers.start("poller", poller)
    workers.wait(deadline)
    seconds = now()
    frame = (
        pd.DataFrame(spans, columns=list(SPAN_COLUMNS))
        .astype(SPAN_COLUMNS)
        .sort_values(["group", "received"], ignore_index=True)
    )
    return HeldBackResult(frame, group_waits(frame), visibility_timeout, slow_seconds, seconds, url)


def group_waits(spans: pd.DataFrame) -> pd.DataFrame:
    """For each group, how long its second message waited after its first was received."""
    rows = []
    for group in HELD_GROUPS:
        mine = spans[spans["group"] == group]
        first = mine.loc[mine["seq"] == 0, "received"]
        second = mine.loc[mine["seq"] == 1, "received"]
        start = float(first.min()) if len(first) else float("nan")
        nxt = float(second.min()) if len(second) else float("nan")
        rows.append(
            {"group": group, "first_received": start, "next_received": nxt, "waited": nxt - start}
        )
    return pd.DataFrame(rows)


# --- 4. deduplication -------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """One send of the deduplication experiment."""

    queue: str
    """``content`` (ContentBasedDeduplication on) or ``explicit`` (ids given by the sender)."""
    body: str
    label: str
    """What the body is, in words."""
    deduplication_id: str | None = None
    """An explicit MessageDeduplicationId, or None to let the queue hash the body."""


def dedup_sends(bodies: list[str]) -> list[Send]:
    """The sends of :func:`deduplication`, from two upload bodies."""
    a, b = bodies[0], bodies[1]
    a_retried = json.dumps({**json.loads(a), "attempt": 2})
    return [
        Send("content", a, "upload A"),
        Send("content", a, "upload A again"),
        Send("content", b, "upload B"),
        Send("content", a, "upload A again, explicit id", "upload-a-explicit"),
        Send("explicit", a, "upload A", "up-A"),
        Send("explicit", a_retried, "upload A, different body", "up-A"),
        Send("explicit", b, "upload B", "up-B"),
        Send("explicit", a, "upload A, new id", "up-A-2"),
    ]


@dataclass
class DedupResult:
    """What :func:`deduplication` measured."""

    sends: pd.DataFrame
    """One row per send: step, queue, label, deduplication_id (explicit, or the body's
    SHA-256, shortened), succeeded (a MessageId came back), delivered (times the queue handed
    a message with that deduplication id out, counted from what was received)."""
    summary: pd.DataFrame
    """One row per queue: sends, succeeded, deliveries, dropped as duplicates."""
    after_delete: pd.DataFrame
    """The same body sent again to the content-based queue after its first copy was received
    and deleted ("upload A, resent after delete"): succeeded, delivered."""


def deduplication(cloud: Backend, *, bodies: list[str] | None = None) -> DedupResult:
    """Send the same uploads several times to two FIFO queues and count what is delivered.

    One queue deduplicates by content (SHA-256 of the body), the other by the
    MessageDeduplicationId each send carries. Deliveries are matched to sends by the
    ``MessageDeduplicationId`` system attribute of each message received. Then the first body
    is sent again, after everything was deleted: within the 5-minute window it is still a
    duplicate.
    """
    sqs = cloud.client("sqs")
    bodies = bodies or upload_messages(2)
    urls = {
        "content": cloud.create_queue(
            fresh("dedup-content"), fifo=True, ContentBasedDeduplication=True
        ),
        "explicit": cloud.create_queue(fresh("dedup-explicit"), fifo=True),
    }
    rows = []
    for step, send in enumerate(dedup_sends(bodies), start=1):
        params: dict[str, Any] = {
            "QueueUrl": urls[send.queue],
            "MessageBody": send.body,
            "MessageGroupId": "uploads",
        }
        if send.deduplication_id:
            params["MessageDeduplicationId"] = send.deduplication_id
        response = sqs.send_message(**params)
        rows.append(
            {
                "step": step,
                "queue": send.queue,
                "label": send.label,
                "deduplication_id": send.deduplication_id
                or hashlib.sha256(send.body.encode()).hexdigest(),
                "succeeded": bool(response.get("MessageId")),
            }
        )
    sends = pd.DataFrame(rows)
    delivered: Counter[tuple[str, str]] = Counter()
    for queue, url in urls.items():
        expected = sends[sends["queue"] == queue]["deduplication_id"].nunique()
        for message in receive_all(sqs, url, expected):
            delivered[(queue, message["Attributes"]["MessageDeduplicationId"])] += 1
    counts = [
        delivered[(q, d)] for q, d in zip(sends["queue"], sends["deduplication_id"], strict=True)
    ]
    # A deduplication id delivered once is credited to its first send only.
    first_send = ~sends.duplicated(["queue", "deduplication_id"])
    sends["delivered"] = [n if first else 0 for n, first in zip(counts, first_send, strict=True)]
    summary = (
        sends.groupby("queue", sort=False)
        .agg(
            sends=("step", "size"), succeeded=("succeeded", "sum"), deliveries=("delivered", "sum")
        )
        .reset_index()
    )
    summary["dropped_as_duplicates"] = summary["succeeded"] - summary["deliveries"]
    again = sqs.send_message(
        QueueUrl=urls["content"], MessageBody=bodies[0], MessageGroupId="uploads"
    )
    late = receive_all(sqs, urls["content"], expected=1)  # one long poll: does it come?
    after_delete = pd.DataFrame(
        [
            {
                "label": "upload A, resent after delete",
                "succeeded": bool(again.get("MessageId")),
                "delivered": len(late),
            }
        ]
    )
    sends["deduplication_id"] = sends["deduplication_id"].map(_shorten)
    return DedupResult(sends, summary, after_delete)


def _shorten(dedup_id: str) -> str:
    """A 64-character SHA-256 as ``sha256:2cf24dba…``; an explicit id as it is."""
    if len(dedup_id) == 64 and all(c in "0123456789abcdef" for c in dedup_id):
        return f"sha256:{dedup_id[:8]}…"
    return dedup_id


# --- 5. the errors of the usual FIFO mistakes ------------------------------------------------


MISTAKE_COLUMNS = ["mistake", "call", "code", "message"]


def fifo_mistakes(cloud: Backend, fifo_url: str, body: str) -> pd.DataFrame:
    """Make the four usual FIFO mistakes and collect what the backend answers to each.

    ``fifo_url`` is a FIFO queue with content-based deduplication; a FIFO queue without it is
    created here, for the send that lacks a deduplication id. One row per mistake: mistake,
    call (the call, in short), and the error's code and full message, or ``(no error)`` if
    the call went through. Whatever a call wrongly creates carries the participant's tags, so
    ``cloud.cleanup()`` finds it.
    """
    sqs = cloud.client("sqs")
    strict_url = cloud.create_queue(fresh("strict"), fifo=True)
    attempts = [
        (
            "no MessageGroupId",
            "send_message(QueueUrl=..., MessageBody=body)",
            lambda: sqs.send_message(QueueUrl=fifo_url, MessageBody=body),
        ),
        (
            "per-message DelaySeconds",
            "send_message(..., MessageGroupId='femi', DelaySeconds=5)",
            lambda: sqs.send_message(
                QueueUrl=fifo_url, MessageBody=body, MessageGroupId="femi", DelaySeconds=5
            ),
        ),
        (
            "no deduplication id",
            "send_message(..., MessageGroupId='femi')",
            lambda: sqs.send_message(QueueUrl=strict_url, MessageBody=body, MessageGroupId="femi"),
        ),
        (
            "name without .fifo",
            "create_queue(QueueName='ws-...-no-suffix', Attributes={'FifoQueue': 'true'})",
            lambda: sqs.create_queue(
                QueueName=cloud.name(fresh("no-suffix")),
                Attributes={"FifoQueue": "true"},
                tags=cloud.tags,
            ),
        ),
    ]
    rows = []
    for mistake, call, attempt in attempts:
        try:
            attempt()
            code, message = "(no error)", ""
        except ClientError as error:
            code = error.response["Error"]["Code"]
            message = error.response["Error"]["Message"]
        rows.append({"mistake": mistake, "call": call, "code": code, "message": message})
    return pd.DataFrame(rows, columns=MISTAKE_COLUMNS)


def receive_all(
    sqs: Any, queue_url: str, expected: int, *, wait_seconds: int = 1, seconds: float = 10.0
) -> list[dict[str, Any]]:
    """Receive and delete until ``expected`` messages have come and a receive finds no more.

    Long polls (``wait_seconds``) until ``expected`` are in, then a short poll looks for
    extras, so a queue holding exactly what was expected costs no waiting.
    """
    got: list[dict[str, Any]] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0 if len(got) >= expected else wait_seconds,
            MessageSystemAttributeNames=["MessageDeduplicationId", "MessageGroupId"],
        ).get("Messages", [])
        if not messages:
            break
        got.extend(messages)
        delete_batch(sqs, queue_url, messages)
    return got
