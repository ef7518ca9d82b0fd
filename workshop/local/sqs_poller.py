"""The pollers of one SQS event source mapping: Lambda's side of the queue, run locally.

Each poller is a thread that does what one of Lambda's pollers does:

1. gather a batch: long-poll the queue for up to 10 messages at a time (all SQS allows) until
   the batch holds ``BatchSize`` messages, the batching window has passed since the first one
   arrived, or the payload would pass 6 MB. With a window of 0 the batch is what one receive
   gave;
2. invoke the function synchronously with the SQS event (:mod:`workshop.local.sqs_events`);
3. on success delete the batch (``DeleteMessageBatch``), except the messages a partial batch
   response keeps; on a function error (an exception, a timeout, a crash) delete nothing: the
   whole batch reappears when its visibility timeout ends, and SQS's redrive policy moves a
   message to the dead-letter queue after ``maxReceiveCount`` receives; when Lambda throttles
   (429), try again with backoff while the messages are still invisible.

Concurrency follows Lambda's rules for standard queues: up to 5 pollers to begin with, one more
(at most 300 a minute) each time a batch comes back full, never more than
``ScalingConfig.MaximumConcurrency`` nor the local ceiling on environments; extra pollers retire
after a receive that found nothing. FIFO queues get the same pollers: SQS itself hands out a
message group's next messages only once the earlier ones are deleted or visible again, so a
group stays in order whatever the number of pollers.

What stops at the first failure of a FIFO batch, as on AWS: Lambda itself stops nothing. On a
function error the whole batch goes back, and SQS hands out none of a group's later messages
until the failed ones are received again. With ``ReportBatchItemFailures`` Lambda deletes every
message not reported, so it is the *function* that must stop at its first failure and report
that message and all later ones of the batch (Powertools' ``SqsFifoPartialProcessor`` does);
a function that reports only the failed message lets later messages of its group overtake it.

Why 1-second long polls instead of Lambda's 20: a receive that is waiting cannot be
interrupted, and disabling or deleting a mapping must stop its pollers promptly. A long poll
returns the moment a message arrives, so the shorter wait costs no latency, only an idle
request per poller per second.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from workshop.local import internal
from workshop.local.aws_errors import SqsError
from workshop.local.lambda_service import LOCAL_CEILING, LambdaError
from workshop.local.sqs_events import (
    MAX_PAYLOAD_BYTES,
    messages_to_keep,
    record_size,
    sqs_event,
    sqs_record,
)

if TYPE_CHECKING:
    from workshop.local.gateway import Gateway

INITIAL_POLLERS = 5  # Lambda starts a standard queue's mapping with 5 concurrent batches
SCALE_UP_INTERVAL_S = 60 / 300  # up to 300 more a minute
POLL_WAIT_S = 1  # see the module docstring
MAX_RECEIVE = 10
_BACKOFF_START_S, _BACKOFF_MAX_S = 0.05, 1.0
_ERROR_PAUSE_S = 1.0  # after an error that is not the batch's (queue or function gone)


@dataclass(frozen=True)
class MappingSettings:
    """What a poller needs to know about its mapping; replaced as a whole on update."""

    uuid: str
    queue_arn: str
    queue_url: str
    function_arn: str
    """The function, with its qualifier if the mapping names a version or alias."""
    batch_size: int = 10
    window_s: float = 0.0
    max_concurrency: int | None = None
    report_batch_item_failures: bool = False

    @property
    def fifo(self) -> bool:
        return self.queue_arn.endswith(".fifo")

    @property
    def queue_region(self) -> str:
        return self.queue_arn.split(":")[3]

    @property
    def concurrency_cap(self) -> int:
        cap = self.max_concurrency if self.max_concurrency is not None else 1000
        return max(1, min(cap, LOCAL_CEILING))


@dataclass
class PollerStats:
    """What the pollers did, for tests and notebooks (Lambda's own metrics, roughly)."""

    receives: int = 0
    batches: int = 0
    messages: int = 0
    deleted: int = 0
    kept: int = 0
    """Messages left in the queue after an invocation (function error or reported failures)."""
    function_errors: int = 0
    throttles: int = 0
    problems: list[str] = field(default_factory=list)
    pollers_peak: int = 0


@dataclass
class _Batch:
    messages: list[dict[str, Any]]
    received_at: float  # monotonic time of the first receive


class MappingPollers:
    """The running pollers of one mapping."""

    def __init__(self, gateway: Gateway, settings: MappingSettings):
        self.gateway = gateway
        self.settings = settings
        self.stats = PollerStats()
        self._lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._active = 0  # pollers not retiring: what scaling decisions count
        self._stopping = threading.Event()  # finish the batch in hand, then stop
        self._abandon = threading.Event()  # the server is stopping: stop retrying too
        self._last_scale_up = 0.0
        self._names = itertools.count(1)
        self._visibility: tuple[float, int] | None = None  # (fetched at, seconds)

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            for _ in range(min(INITIAL_POLLERS, self.settings.concurrency_cap)):
                self._spawn()

    def update(self, settings: MappingSettings) -> None:
        """New settings apply from each poller's next batch."""
        self.settings = settings

    def stop(self, *, abandon: bool = False) -> None:
        """Ask every poller to stop after the batch it holds (``abandon``: without retrying
        throttled invocations; their messages reappear after the visibility timeout)."""
        self._stopping.set()
        if abandon:
            self._abandon.set()

    def join(self, timeout: float) -> bool:
        """Wait until every poller has ended; False if some still run after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                threads = list(self._threads)
            if not threads:
                return True
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                with self._lock:
                    return not self._threads

    @property
    def stopping(self) -> bool:
        """Asked to stop (some pollers may still be finishing their batch)."""
        return self._stopping.is_set()

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._threads)

    def _spawn(self) -> None:
        """Start one more poller (the caller holds the lock)."""
        thread = threading.Thread(
            target=self._run,
            name=f"esm-{self.settings.uuid[:8]}-{next(self._names)}",
            daemon=True,
        )
        self._threads.append(thread)
        self._active += 1
        self.stats.pollers_peak = max(self.stats.pollers_peak, self._active)
        thread.start()

    def _run(self) -> None:
        retired = False
        try:
            while not self._stopping.is_set():
                if self._retire(above=self.settings.concurrency_cap):
                    retired = True  # the maximum concurrency was lowered
                    break
                try:
                    batch = self._gather()
                    if batch is None:
                        retired = True
                        break
                    if batch.messages:
                        self._scale_up(len(batch.messages))
                        self._process(batch)
                except Exception as error:  # a poller must outlive any one bad round
                    # What it held becomes visible again when its visibility timeout ends.
                    self._problem(f"poller: {type(error).__name__}: {error}")
                    self._stopping.wait(_ERROR_PAUSE_S)
        finally:
            with self._lock:
                self._threads.remove(threading.current_thread())
                if not retired:
                    self._active -= 1

    # --- scaling ---------------------------------------------------------------------------

    def _scale_up(self, got: int) -> None:
        settings = self.settings
        if got < settings.batch_size or self._stopping.is_set():
            return
        now = time.monotonic()
        with self._lock:
            if self._active < settings.concurrency_cap and (
                now - self._last_scale_up >= SCALE_UP_INTERVAL_S
            ):
                self._last_scale_up = now
                self._spawn()

    def _retire(self, *, above: int) -> bool:
        """Decide, atomically, that the calling poller retires if more than ``above`` pollers
        are active (so that two pollers deciding at once cannot both go below it)."""
        with self._lock:
            if self._active > above:
                self._active -= 1
                return True
            return False

    # --- gathering a batch -----------------------------------------------------------------

    def _gather(self) -> _Batch | None:
        """The next batch; empty if nothing came (or stopping); None if this poller retires."""
        settings = self.settings
        messages: list[dict[str, Any]] = []
        positions: dict[str, int] = {}  # MessageId -> its place in the batch
        size = 0
        first_at = 0.0
        window_end = 0.0
        while len(messages) < settings.batch_size:
            if messages:
                remaining = window_end - time.monotonic()
                if remaining <= 0 or self._stopping.is_set():
                    break
                wait = POLL_WAIT_S if remaining >= POLL_WAIT_S else 0
            else:
                if self._stopping.is_set():
                    return _Batch([], 0.0)
                settings = self.settings  # an update applies from the next batch on
                wait = POLL_WAIT_S
            want = min(MAX_RECEIVE, settings.batch_size - len(messages))
            try:
                got = self._receive(settings, want, wait)
            except SqsError as error:
                self._problem(f"ReceiveMessage: {error.code}: {error.message}")
                if messages:
                    break
                self._stopping.wait(_ERROR_PAUSE_S)
                return _Batch([], 0.0)
            if not messages and not got:
                # idle: pollers beyond the initial ones retire
                floor = min(INITIAL_POLLERS, settings.concurrency_cap)
                return None if self._retire(above=floor) else _Batch([], 0.0)
            if not messages:
                first_at = time.monotonic()
                window_end = first_at + settings.window_s
            overflow = []
            for message in got:
                earlier = positions.get(message["MessageId"])
                if earlier is not None and _receive_count(message) > _receive_count(
                    messages[earlier]
                ):
                    # Back already: the window outlasted its visibility timeout. One record,
                    # with the latest receipt handle and receive count. (A copy with the same
                    # count is a standard queue's duplicate: a record of its own.)
                    messages[earlier] = message
                    continue
                grown = size + record_size(sqs_record(message, settings.queue_arn, "x"))
                if messages and grown > MAX_PAYLOAD_BYTES:
                    overflow.append(message)
                else:
                    positions[message["MessageId"]] = len(messages)
                    messages.append(message)
                    size = grown
            if overflow:
                self._release(settings, overflow)
                break
            if settings.window_s <= 0:
                break
            if not got and wait == 0:
                # the window ends within a second: check again shortly rather than overshoot
                self._stopping.wait(min(0.05, max(0.0, window_end - time.monotonic())))
        return _Batch(messages, first_at)

    def _receive(self, settings: MappingSettings, want: int, wait: int) -> list[dict[str, Any]]:
        result = internal.sqs(
            self.gateway,
            "ReceiveMessage",
            {
                "QueueUrl": settings.queue_url,
                "MaxNumberOfMessages": want,
                "WaitTimeSeconds": wait,
                "MessageSystemAttributeNames": ["All"],
                "MessageAttributeNames": ["All"],
            },
            settings.queue_region,
        )
        self._count(receives=1)
        return result.get("Messages", [])

    def _release(self, settings: MappingSettings, messages: list[dict[str, Any]]) -> None:
        """Make messages that did not fit the payload visible again at once."""
        for chunk in _chunks(messages, 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ]
            # on an error they reappear when their visibility timeout ends all the same
            with contextlib.suppress(SqsError):
                internal.sqs(
                    self.gateway,
                    "ChangeMessageVisibilityBatch",
                    {"QueueUrl": settings.queue_url, "Entries": entries},
                    settings.queue_region,
                )

    # --- invoking and settling ---------------------------------------------------------------

    def _process(self, batch: _Batch) -> None:
        settings = self.settings
        region = settings.queue_region
        event = sqs_event(sqs_record(m, settings.queue_arn, region) for m in batch.messages)
        payload = json.dumps(event).encode()
        ids = [m["MessageId"] for m in batch.messages]
        self._count(batches=1, messages=len(ids))
        invocation = self._invoke(settings, payload, batch)
        if invocation is None:
            self._count(kept=len(ids))
            return
        if invocation.error:
            self._count(function_errors=1)
            keep = set(ids)
        else:
            keep = messages_to_keep(invocation.payload, ids, settings.report_batch_item_failures)
        done = [m for m in batch.messages if m["MessageId"] not in keep]
        self._count(kept=len(ids) - len(done))
        self._delete(settings, done)

    def _invoke(self, settings: MappingSettings, payload: bytes, batch: _Batch):
        """Invoke until the function answers; None if it cannot before the messages reappear."""
        name, qualifier = _split_qualifier(settings.function_arn)
        function_region, account = name.split(":")[3], name.split(":")[4]
        delay = _BACKOFF_START_S
        while True:
            try:
                return self.gateway.lambdas.call(name, payload, function_region, account, qualifier)
            except LambdaError as error:
                if error.status != 429:
                    self._problem(f"Invoke: {error.code}: {error}")
                    self._stopping.wait(_ERROR_PAUSE_S)
                    return None
                self._count(throttles=1)
                invisible_until = batch.received_at + self._visibility_timeout(settings)
                if self._abandon.is_set() or time.monotonic() + delay >= invisible_until:
                    return None  # the messages reappear and are received again
                self._abandon.wait(delay)
                delay = min(delay * 2, _BACKOFF_MAX_S)

    def _visibility_timeout(self, settings: MappingSettings) -> int:
        now = time.monotonic()
        if self._visibility is None or now - self._visibility[0] > 5:
            try:
                result = internal.sqs(
                    self.gateway,
                    "GetQueueAttributes",
                    {"QueueUrl": settings.queue_url, "AttributeNames": ["VisibilityTimeout"]},
                    settings.queue_region,
                )
                seconds = int(result["Attributes"]["VisibilityTimeout"])
            except (SqsError, KeyError, ValueError):
                seconds = 30
            self._visibility = (now, seconds)
        return self._visibility[1]

    def _delete(self, settings: MappingSettings, messages: list[dict[str, Any]]) -> None:
        for chunk in _chunks(messages, 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
            ]
            try:
                result = internal.sqs(
                    self.gateway,
                    "DeleteMessageBatch",
                    {"QueueUrl": settings.queue_url, "Entries": entries},
                    settings.queue_region,
                )
            except SqsError as error:
                self._problem(f"DeleteMessageBatch: {error.code}: {error.message}")
                continue
            self._count(deleted=len(result.get("Successful", [])))
            for failed in result.get("Failed", []):
                self._problem(f"DeleteMessageBatch: {failed.get('Code')}: {failed.get('Message')}")

    def _count(self, **increments: int) -> None:
        """Add to the stats; pollers count at the same time, and the tests count exactly."""
        with self._stats_lock:
            for name, value in increments.items():
                setattr(self.stats, name, getattr(self.stats, name) + value)

    def _problem(self, text: str) -> None:
        problems = self.stats.problems
        problems.append(text)
        del problems[:-20]  # the latest few are enough


def _receive_count(message: dict[str, Any]) -> int:
    return int((message.get("Attributes") or {}).get("ApproximateReceiveCount") or 0)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _split_qualifier(function_arn: str) -> tuple[str, str | None]:
    """``arn:aws:lambda:r:a:function:name[:qualifier]`` as (unqualified ARN, qualifier)."""
    parts = function_arn.split(":")
    if len(parts) == 8:
        return ":".join(parts[:7]), parts[7]
    return function_arn, None


def with_changes(settings: MappingSettings, **changes: Any) -> MappingSettings:
    return replace(settings, **changes)
