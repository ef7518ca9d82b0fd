"""Exercises of notebook 02, visibility timeout and redelivery.

``from workshop.exercises import nb02``, then ``nb02.q1.check(answer)``.

- ``q1``: the largest visibility timeout SQS allows, in seconds.
- ``q2``: ``process_with_heartbeat(sqs, queue_url, work_seconds)``, a job longer than the queue's
  visibility timeout that keeps its message hidden with ``ChangeMessageVisibility`` and then
  deletes it; checked on a real queue while another consumer watches for the message.
- ``q3``: the queue visibility timeout AWS recommends for a Lambda function's SQS event source
  mapping, from the function's timeout.
- ``q4``: the highest ``ApproximateReceiveCount`` in the learner's own redelivery timeline.

The checker of q2 works like those of notebook 01 (:mod:`workshop.exercises.nb01`): the learner's
function runs in a thread with a time limit, on a scratch queue that is deleted afterwards, and
every call it makes goes through a recording wrapper, here with the time of each call.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError

import workshop
from workshop.data import upload_messages
from workshop.exercises.core import CheckedExercise, Incorrect, is_number
from workshop.exercises.nb01 import run_bounded

MAX_VISIBILITY_TIMEOUT = 43_200
"""12 hours, in seconds (SQS API reference)."""


def _require_number(answer: Any, unit: str) -> float:
    if not is_number(answer):
        raise Incorrect(f"Answer with a number of {unit}; got {type(answer).__name__} {answer!r}.")
    return float(answer)


# --- q1 ---------------------------------------------------------------------------------------


def _judge_max_visibility(answer: Any) -> str:
    value = _require_number(answer, "seconds")
    if value == MAX_VISIBILITY_TIMEOUT:
        return "12 hours. A job that may take longer must be split, or tracked outside SQS."
    if value == 12:
        raise Incorrect("12 is the limit in hours; the question asks for seconds.")
    if value == 12 * 60:
        raise Incorrect("That is the limit in minutes; the question asks for seconds.")
    if value == 30:
        raise Incorrect("30 s is the default visibility timeout, not the largest one allowed.")
    raise Incorrect(
        f"{answer!r} is {'too large' if value > MAX_VISIBILITY_TIMEOUT else 'too small'}."
    )


q1 = CheckedExercise(
    "The largest visibility timeout, in seconds",
    _judge_max_visibility,
    hint=(
        "Section 1 gives the limit in hours. Or ask SQS: create a queue with a huge "
        "VisibilityTimeout and read the error."
    ),
    solution="`answer = 12 * 60 * 60`, that is 43,200 s: 12 hours.",
)


# --- q2 ---------------------------------------------------------------------------------------

Q2_VISIBILITY_TIMEOUT = 1
"""The scratch queue's visibility timeout (s): much shorter than the job."""
Q2_WORK_SECONDS = 2.5
"""How long the learner's function must work on the job."""
Q2_TIME_LIMIT_SECONDS = 15.0
"""How long the learner's function may run before the check gives up on it."""
Q2_LONGEST_EXTENSION = 10
"""The longest single extension accepted: a heartbeat renews a short timeout, again and again."""


@dataclass(frozen=True)
class TimedCall:
    """One client method call, with its parameters, its response and when it ran."""

    operation: str
    params: dict[str, Any]
    response: dict[str, Any]
    start: float
    end: float


class TimedRecorder:
    """An SQS client that records every call made through it, with its start and end time.

    Like :class:`workshop.exercises.nb01.Recorder`, but each record is appended in one step,
    so a learner's heartbeat running in a thread of its own is recorded correctly too.
    ``received`` is set once a receive has returned a message.
    """

    _PASSTHROUGH = frozenset({"can_paginate", "get_paginator", "get_waiter", "close"})

    def __init__(self, client: Any):
        self._client = client
        self.calls: list[TimedCall] = []
        self.received = threading.Event()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name.startswith("_") or not callable(attribute) or name in self._PASSTHROUGH:
            return attribute

        def recorded(**params: Any) -> Any:
            start = time.monotonic()
            response = attribute(**params)
            self.calls.append(TimedCall(name, params, response, start, time.monotonic()))
            if name == "receive_message" and response.get("Messages"):
                self.received.set()
            return response

        return recorded

    def calls_to(self, operation: str) -> list[TimedCall]:
        return [call for call in self.calls if call.operation == operation]


class _Watcher:
    """Another consumer on the same queue: once the learner's function holds the message, it
    long-polls and notes whether the message ever becomes visible to it."""

    def __init__(self, sqs: Any, queue_url: str, recorder: TimedRecorder):
        self.sqs, self.queue_url, self.recorder = sqs, queue_url, recorder
        self.stop = threading.Event()
        self.seen: tuple[float, int] | None = None  # (when, its ApproximateReceiveCount)
        self.thread = threading.Thread(target=self._run, name="workshop-check-watcher", daemon=True)

    def __enter__(self) -> _Watcher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        while not self.stop.is_set() and not self.recorder.received.wait(0.05):
            pass  # the learner's function has not got the message yet: do not take it first
        while not self.stop.is_set() and self.seen is None:
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=1,
                    WaitTimeSeconds=1,
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                ).get("Messages", [])
            except ClientError:
                return  # the queue is gone: the check is over
            for message in messages:
                count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 0))
                self.seen = (time.monotonic(), count)


@contextmanager
def scratch_queue(purpose: str, **attributes: Any) -> Iterator[tuple[workshop.Backend, str]]:
    """A fresh queue with ``attributes`` on the learner's backend for one check, then deleted."""
    cloud = workshop.current()
    url = cloud.create_queue(f"check-{purpose}-{secrets.token_hex(3)}", **attributes)
    try:
        yield cloud, url
    finally:
        with suppress(ClientError):
            cloud.client("sqs").delete_queue(QueueUrl=url)


def _judge_heartbeat(process_with_heartbeat: Any) -> str:
    if not callable(process_with_heartbeat):
        raise Incorrect(
            "Pass your function itself, without calling it: "
            f"nb02.q2.check(process_with_heartbeat); got {type(process_with_heartbeat).__name__}."
        )
    body = upload_messages(1)[0]
    timeout = Q2_VISIBILITY_TIMEOUT
    with scratch_queue("q2", VisibilityTimeout=timeout) as (cloud, url):
        client = cloud.client("sqs")
        client.send_message(QueueUrl=url, MessageBody=body)
        sqs = TimedRecorder(client)
        failure: Incorrect | None = None
        result = None
        with _Watcher(client, url, sqs) as watcher:
            try:
                result = run_bounded(
                    process_with_heartbeat,
                    (sqs, url, Q2_WORK_SECONDS),
                    "process_with_heartbeat",
                    Q2_TIME_LIMIT_SECONDS,
                )
            except Incorrect as error:
                failure = error
        got = [c for c in sqs.calls_to("receive_message") if c.response.get("Messages")]
        if watcher.seen is not None and got:
            when, count = watcher.seen
            raise Incorrect(
                f"While your function was still working, the message became visible again and "
                f"another consumer received it, {when - got[0].end:.1f} s after your receive "
                f"(ApproximateReceiveCount {count}): the job would have run twice. Extend the "
                "visibility timeout before it runs out, and keep extending it until the work "
                "is done."
            )
        if failure is not None:
            raise failure
    if not got:
        raise Incorrect("Your function never received the message: call receive_message first.")
    return _judge_timeline(sqs, got[0], result, body, timeout)


def _judge_timeline(
    sqs: TimedRecorder, got: TimedCall, result: Any, body: str, timeout: int
) -> str:
    """Replay the calls on the clock: was the message hidden from the receive to the delete?"""
    message = got.response["Messages"][0]
    handles = {message["ReceiptHandle"]}
    hidden_until = got.end + int(got.params.get("VisibilityTimeout", timeout))
    beats = 0
    for call in sqs.calls:
        if call.start < got.end:
            continue
        if (
            call.operation == "change_message_visibility"
            and call.params.get("ReceiptHandle") in handles
        ):
            extension = int(call.params.get("VisibilityTimeout", 0))
            if extension > Q2_LONGEST_EXTENSION:
                raise Incorrect(
                    f"One of your extensions asked for {extension} s at once. It keeps the job "
                    f"hidden, but if this worker crashed, the job would stay hidden that long too. "
                    f"Extend by a few seconds (at most {Q2_LONGEST_EXTENSION}) at a time, again "
                    "and again."
                )
            if call.start > hidden_until:
                raise Incorrect(
                    f"Heartbeat {beats + 1} came {call.start - hidden_until:.2f} s after the "
                    "visibility timeout had run out: for that long another consumer could "
                    "have received the message. Extend it more often."
                )
            hidden_until = call.start + extension
            beats += 1
        elif call.operation in {"delete_message", "delete_message_batch"}:
            deleted = call.params.get("ReceiptHandle") in handles or any(
                entry.get("ReceiptHandle") in handles for entry in call.params.get("Entries", [])
            )
            if not deleted:
                continue
            if call.start - got.end < Q2_WORK_SECONDS - 0.05:
                raise Incorrect(
                    f"Your function deleted the message {call.start - got.end:.1f} s after "
                    f"receiving it, before its {Q2_WORK_SECONDS} s of work were done. Delete "
                    "only when the work is finished: a crash before that must not lose the job."
                )
            if call.start > hidden_until:
                raise Incorrect(
                    f"The delete came {call.start - hidden_until:.2f} s after the visibility "
                    "timeout had run out, so another consumer could have received the message "
                    "meanwhile. Keep extending until the work is done."
                )
            if result != body:
                raise Incorrect(
                    "Return the body of the message you processed; your function returned "
                    f"{str(result)[:60]!r}."
                )
            return (
                f"The job ran once: {call.start - got.end:.1f} s of work kept hidden by {beats} "
                "heartbeats, then deleted. No other consumer ever saw the message."
            )
    raise Incorrect(
        "Your function never deleted the message it processed, so it would come back once the "
        "last extension ran out. Delete it when the work is done."
    )


q2 = CheckedExercise(
    "process_with_heartbeat(sqs, queue_url, work_seconds)",
    _judge_heartbeat,
    hint=(
        "Receive one message. Then work in short slices (time.sleep of a fraction of the "
        "queue's timeout) until work_seconds have passed, and after each slice call "
        "change_message_visibility with the message's ReceiptHandle and a VisibilityTimeout of "
        "a few seconds. Finally delete it and return its Body."
    ),
    solution="""```python
import time

def process_with_heartbeat(sqs, queue_url, work_seconds):
    message = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=2
    )["Messages"][0]
    handle = message["ReceiptHandle"]
    done = time.monotonic() + work_seconds
    while (left := done - time.monotonic()) > 0:
        time.sleep(min(0.3, left))           # a slice of the work
        sqs.change_message_visibility(       # counts from now: another 2 s
            QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=2
        )
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handle)
    return message["Body"]
```""",
)


# --- q3 ---------------------------------------------------------------------------------------

Q3_FUNCTION_TIMEOUT_SECONDS = 120
"""The function timeout of the exercise: 2 minutes."""
Q3_FACTOR = 6


def _judge_recommended(answer: Any) -> str:
    value = _require_number(answer, "seconds")
    expected = Q3_FACTOR * Q3_FUNCTION_TIMEOUT_SECONDS
    if value == expected:
        return (
            f"{expected} s, or {expected // 60} minutes: room for the batch to be retried before "
            "its messages come back to the queue."
        )
    if value == Q3_FUNCTION_TIMEOUT_SECONDS:
        raise Incorrect(
            "That is the least Lambda accepts for the mapping, not what AWS recommends."
        )
    if value == Q3_FACTOR * Q3_FUNCTION_TIMEOUT_SECONDS / 60:
        raise Incorrect("Check your unit: the question asks for seconds.")
    raise Incorrect(f"{answer!r} is {'too large' if value > expected else 'too small'}.")


q3 = CheckedExercise(
    "The recommended queue visibility timeout for a 2-minute function",
    _judge_recommended,
    hint="Section 6: the rule is a multiple of the function's timeout. Work in seconds.",
    solution="`answer = 6 * 120`, that is 720 s (12 minutes).",
)


# --- q4 ---------------------------------------------------------------------------------------


def _judge_max_receive_count(answer: Any, receives: Any = None) -> str:
    if not isinstance(receives, pd.DataFrame) or "receive_count" not in receives.columns:
        raise Incorrect(
            "Pass your timeline's receives as the second argument: "
            "nb02.q4.check(answer, timeline.receives)."
        )
    value = _require_number(answer, "receives")
    expected = int(receives["receive_count"].max())
    if value != expected:
        raise Incorrect(
            f"{answer!r} is {'too large' if value > expected else 'too small'} for your run. "
            "Look at the receive_count column."
        )
    worst = receives.loc[receives["receive_count"] == expected, "seq"].iloc[0]
    return f"Message {worst} was received {expected} times before a worker deleted it."


q4 = CheckedExercise(
    "The highest ApproximateReceiveCount in your timeline",
    _judge_max_receive_count,
    hint="`timeline.receives['receive_count']` holds the count SQS reported on each receive.",
    solution=(
        "`answer = timeline.receives['receive_count'].max()`: the message that the crashing"
        " worker got most often, counted by SQS itself."
    ),
)
