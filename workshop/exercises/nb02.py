"""Exercises of notebook 02, visibility timeout and redelivery.

``from workshop.exercises import nb02``, then ``nb02.q1.check(answer)``.

- ``q1``: when a message whose worker extended its timeout and then crashed becomes visible
  again: ``ChangeMessageVisibility`` counts from the call.
- ``q2``: ``process_with_heartbeat(sqs, queue_url, work_seconds)``, a job longer than the queue's
  visibility timeout that keeps its message hidden with ``ChangeMessageVisibility`` and then
  deletes it; checked on a real queue while another consumer watches for the message.
- ``q3``: the queue visibility timeout AWS recommends for a Lambda function's SQS event source
  mapping, from the function's timeout.
- ``q4``: from the learner's own redelivery timeline, how long after its crash a message came
  back.

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

Q1_QUEUE_TIMEOUT = 30
"""The queue's visibility timeout in the story (the default), in seconds."""
Q1_CHANGE_AT = 20
"""When the worker calls ChangeMessageVisibility, in seconds after the receive."""
Q1_NEW_TIMEOUT = 30
"""The VisibilityTimeout it asks for."""
Q1_CRASH_AT = 25
"""When the worker crashes, in seconds after the receive."""


def _judge_change_visibility(answer: Any) -> str:
    value = _require_number(answer, "seconds")
    expected = Q1_CHANGE_AT + Q1_NEW_TIMEOUT
    if value == expected:
        return (
            "The call at 20 s hid the message for 30 s counted from the call, not from the "
            "receive; the crash changed nothing, since nobody deletes it."
        )
    if value == Q1_QUEUE_TIMEOUT + Q1_NEW_TIMEOUT:
        raise Incorrect(
            "You added the new timeout to the end of the first one. ChangeMessageVisibility does "
            "not add time: it sets a new timeout, counted from the moment of the call."
        )
    if value == Q1_QUEUE_TIMEOUT:
        raise Incorrect(
            "That is when the receive's own timeout would have ended, but the worker changed "
            "the timeout before then."
        )
    if value == Q1_CRASH_AT + Q1_NEW_TIMEOUT:
        raise Incorrect(
            "SQS does not know when a worker crashes: the clock does not restart at the crash. "
            "What restarted it last?"
        )
    if value in {Q1_CHANGE_AT, Q1_CRASH_AT}:
        raise Incorrect(
            "At that moment the message is still hidden: a crash or a heartbeat does not make "
            "it visible."
        )
    raise Incorrect(
        f"{answer!r} s is not it. Find the last moment the timeout was set, and count the new "
        "timeout from there."
    )


q1 = CheckedExercise(
    "When the message becomes visible again",
    _judge_change_visibility,
    hint=(
        "Section 1: ChangeMessageVisibility counts from the moment of the call, not from the "
        "receive. A crash does not tell SQS anything."
    ),
    solution=(
        "`answer = 20 + 30`, that is 50 s after the receive: the call at 20 s set a new 30 s "
        "timeout counted from the call, and nothing changed it after that."
    ),
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
        if failure is not None:
            # The learner's own error (or overrun) first: it explains whatever followed.
            came_back = (
                " (its message then came back to the queue, as after a crash)"
                if watcher.seen is not None
                else ""
            )
            raise Incorrect(f"{failure}{came_back}")
        if watcher.seen is not None and got:
            when, count = watcher.seen
            raise Incorrect(
                f"While your function was still working, the message became visible again and "
                f"another consumer received it, {when - got[0].end:.1f} s after your receive "
                f"(ApproximateReceiveCount {count}): the job would have run twice. Extend the "
                "visibility timeout before it runs out, and keep extending it until the work "
                "is done."
            )
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

Q3_FUNCTION_TIMEOUT_SECONDS = 5 * 60
"""The function timeout of the exercise: 5 minutes."""
Q3_FACTOR = 6


def _judge_recommended(answer: Any) -> str:
    value = _require_number(answer, "seconds")
    function = Q3_FUNCTION_TIMEOUT_SECONDS
    expected = Q3_FACTOR * function
    if value == expected:
        return (
            f"{expected // 60} minutes: room for the batch to be retried before its messages "
            "come back to the queue."
        )
    if value == function:
        raise Incorrect(
            "That is the least Lambda accepts for the mapping, not what AWS recommends."
        )
    if value in {expected / 60, expected / 3600}:
        raise Incorrect("Check your unit: the question asks for seconds.")
    if value <= 0:
        raise Incorrect("A visibility timeout for a Lambda source queue must be positive.")
    ratio = value / function
    raise Incorrect(
        f"Your answer is {ratio:.3g} times the function's timeout of 5 minutes. Section 6 gives "
        "the factor AWS recommends."
    )


q3 = CheckedExercise(
    "The recommended queue visibility timeout for a 5-minute function",
    _judge_recommended,
    hint="Section 6: the rule is a multiple of the function's timeout. Work in seconds.",
    solution="`answer = 6 * 5 * 60`, that is 1,800 s (30 minutes).",
)


# --- q4 ---------------------------------------------------------------------------------------

Q4_TOLERANCE_SECONDS = 0.0025
"""Room for an answer computed from values shown rounded to the millisecond."""


def _first_redelivery(redeliveries: Any) -> pd.Series:
    needed = {"seq", "received_at", "crashed_at", "redelivered_at", "after_s", "late_s"}
    if not isinstance(redeliveries, pd.DataFrame) or not needed <= set(redeliveries.columns):
        raise Incorrect(
            "Pass your timeline's redeliveries as the second argument: "
            "nb02.q4.check(answer, timeline.redeliveries)."
        )
    came_back = redeliveries.dropna(subset=["redelivered_at"])
    if came_back.empty:
        raise Incorrect(
            "No crashed message came back in your run, so there is nothing to measure: run "
            "section 2 again."
        )
    return came_back.iloc[0]


def _judge_back_after_crash(answer: Any, redeliveries: Any = None) -> str:
    row = _first_redelivery(redeliveries)
    value = _require_number(answer, "seconds")
    expected = float(row["redelivered_at"] - row["crashed_at"])
    worked = float(row["crashed_at"] - row["received_at"])
    timeout = float(row["after_s"] - row["late_s"])

    def near(target: float) -> bool:
        return abs(value - target) <= Q4_TOLERANCE_SECONDS

    if near(expected):
        return (
            f"Message {row['seq']} came back {expected:.3f} s after its crash. Its worker died "
            f"{worked:.1f} s into the job, but the message stayed hidden for the whole "
            f"{timeout:g} s timeout counted from the receive: SQS never hears of the crash."
        )
    if near(expected * 1000):
        raise Incorrect("Check your unit: the question asks for seconds, not milliseconds.")
    if near(float(row["after_s"])):
        raise Incorrect(
            "That is after_s, counted from the receive. The question starts the clock at the crash."
        )
    if near(timeout):
        raise Incorrect(
            "That is the visibility timeout itself. The question asks what your run measured, "
            "from the crash to the next receive."
        )
    if near(float(row["late_s"])):
        raise Incorrect(
            "That is late_s: how long the message waited, visible, after its timeout ended. "
            "The question starts the clock at the crash."
        )
    if near(worked):
        raise Incorrect(
            "That is how long the worker worked before it crashed. The question asks how long "
            "the message took to come back after that."
        )
    raise Incorrect(
        f"{answer!r} s is not the time from the crash of message {row['seq']} (the first row) to "
        "its next receive in your run. Which two columns hold those two moments?"
    )


q4 = CheckedExercise(
    "How long after its crash a message came back",
    _judge_back_after_crash,
    hint=(
        "`timeline.redeliveries` has, for each crash, `crashed_at` (when the worker died) and "
        "`redelivered_at` (when the next receive got the message), in seconds since the start."
    ),
    solution=(
        "`first = timeline.redeliveries.iloc[0]`, then "
        "`answer = first['redelivered_at'] - first['crashed_at']`: the timeout minus the "
        "time the worker lived, plus the lateness, because the timeout counts from the receive."
    ),
)
