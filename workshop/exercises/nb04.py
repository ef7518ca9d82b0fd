"""Exercises of notebook 04, dead-letter queues: ``from workshop.exercises import nb04``.

- ``q1``: ``attach_dlq(sqs, queue_url, dlq_url, max_receive_count)``, giving a queue a redrive
  policy; the checker runs it on two scratch queues, reads the policy back and sends a message
  through it.
- ``q2``: a prediction: how many ReceiveMessage calls section 2's consumer would make with a
  maxReceiveCount of 5 and a pause shorter than the visibility timeout.
- ``q3``: a safe ``MessageRetentionPeriod`` for a DLQ, in seconds.
- ``q4``: ``redrive_all(sqs, dlq_arn)``, a message move task back to the source, waited for; the
  checker fills a scratch DLQ, runs it and counts where the messages are.

Checkers that create queues give them fresh names and delete them afterwards, and run the
learner's function in a thread with a time limit (:func:`workshop.exercises.nb01.run_bounded`).
On the aws backend they wait longer for SQS to settle: an attribute change can take up to 60 s
to apply everywhere (SQS API reference, SetQueueAttributes), and a move task may start more
slowly than on the local cloud.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from botocore.exceptions import ClientError

import workshop
from workshop.exercises.core import CheckedExercise, Incorrect, is_number
from workshop.exercises.nb01 import Recorder, run_bounded
from workshop.experiments import dead_letters
from workshop.experiments.dead_letters import QueuePair, queue_arn, read_redrive_policy

DAY = 24 * 3600
SOURCE_RETENTION = 4 * DAY  # the default MessageRetentionPeriod
MIN_DAYS_IN_DLQ = 7
MIN_RETENTION, MAX_RETENTION = 60, 14 * DAY


@contextmanager
def _scratch_queues(cloud: workshop.Backend, urls: list[str]) -> Iterator[None]:
    """Delete the queues a check created, whatever happens in it."""
    try:
        yield
    finally:
        sqs = cloud.client("sqs")
        for url in urls:
            with suppress(ClientError):  # already gone: nothing to delete
                sqs.delete_queue(QueueUrl=url)


def _require_function(answer: Any, name: str, exercise: str) -> None:
    if not callable(answer):
        raise Incorrect(
            f"Pass your function itself, without calling it: nb04.{exercise}.check({name}); "
            f"got {type(answer).__name__}."
        )


def _patience(cloud: workshop.Backend, local: float, aws: float) -> float:
    """How long a checker waits for SQS to settle: the local cloud is consistent at once."""
    return local if cloud.kind == "local" else aws


def _wait_for_depth(sqs: Any, queue_url: str, count: int, seconds: float) -> int:
    """Poll a queue's visible count until it reaches ``count`` or ``seconds`` pass."""
    end = time.perf_counter() + seconds
    found = dead_letters.visible(sqs, queue_url)
    while found < count and time.perf_counter() < end:
        time.sleep(0.1)
        found = dead_letters.visible(sqs, queue_url)
    return found


# --- q1 ---------------------------------------------------------------------------------------

Q1_MAX_RECEIVE_COUNT = 4


class _PolicyRecorder(Recorder):
    """A :class:`Recorder` that also keeps every RedrivePolicy passed to set_queue_attributes,
    including calls SQS refused (the Recorder keeps only calls that returned)."""

    def __init__(self, client: Any):
        super().__init__(client)
        self.policies: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        method = super().__getattr__(name)
        if name != "set_queue_attributes":
            return method

        def attempt(**params: Any) -> Any:
            attributes = params.get("Attributes")
            if isinstance(attributes, dict) and "RedrivePolicy" in attributes:
                self.policies.append(attributes["RedrivePolicy"])
            return method(**params)

        return attempt


def _not_an_arn(policies: list[Any]) -> str | None:
    """The first deadLetterTargetArn among ``policies`` that is a string but not an ARN."""
    for raw in policies:
        try:
            policy = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            continue
        target = policy.get("deadLetterTargetArn") if isinstance(policy, dict) else None
        if isinstance(target, str) and not target.startswith("arn:"):
            return target
    return None


def _settled_policy(sqs: Any, queue_url: str, seconds: float) -> dict[str, Any] | None:
    """The queue's redrive policy, asking again for up to ``seconds`` while there is none."""
    end = time.perf_counter() + seconds
    policy = read_redrive_policy(sqs, queue_url)
    while policy is None and time.perf_counter() < end:
        time.sleep(1)
        policy = read_redrive_policy(sqs, queue_url)
    return policy


def _judge_attach_dlq(attach_dlq: Any) -> str:
    _require_function(attach_dlq, "attach_dlq", "q1")
    cloud = workshop.current()
    sqs = cloud.client("sqs")
    suffix = secrets.token_hex(3)
    urls: list[str] = []
    with _scratch_queues(cloud, urls):
        urls.append(cloud.create_queue(f"check-q1-{suffix}-dlq"))
        urls.append(cloud.create_queue(f"check-q1-{suffix}"))
        dlq_url, queue_url = urls
        dlq_arn = queue_arn(sqs, dlq_url)
        recorder = _PolicyRecorder(sqs)
        try:
            run_bounded(
                attach_dlq, (recorder, queue_url, dlq_url, Q1_MAX_RECEIVE_COUNT), "attach_dlq", 20
            )
        except Incorrect:
            target = _not_an_arn(recorder.policies)
            if target is None:
                raise
            what = "its URL" if target.startswith("http") else repr(target)
            raise Incorrect(
                "SQS refused your policy: deadLetterTargetArn needs the DLQ's ARN "
                f"(arn:aws:sqs:…), not {what}. Ask the queue at `dlq_url` for its QueueArn "
                "attribute."
            ) from None
        settle = _patience(cloud, 0, 60)
        if read_redrive_policy(sqs, dlq_url) is not None:
            raise Incorrect(
                "Your function gave the dead-letter queue itself a redrive policy. The policy "
                "belongs on the queue whose failures should go to the DLQ: `queue_url`."
            )
        policy = _settled_policy(sqs, queue_url, settle)
        if policy is None:
            raise Incorrect(
                "After your function ran, the queue at `queue_url` has no RedrivePolicy. Set it "
                "with set_queue_attributes."
            )
        target = policy.get("deadLetterTargetArn")
        if target != dlq_arn:
            raise Incorrect(
                f"The policy's deadLetterTargetArn is {target!r}, which is not the ARN of the "
                "queue at `dlq_url`. Ask that queue for its QueueArn attribute."
            )
        if policy.get("maxReceiveCount") != Q1_MAX_RECEIVE_COUNT:
            raise Incorrect(
                f"The policy's maxReceiveCount is {policy.get('maxReceiveCount')!r}, not the "
                "number the checker passed as `max_receive_count`."
            )
        # The policy reads right; now see it work. A receive with VisibilityTimeout=0 fails the
        # message and makes it visible again at once, so no waiting for a timeout. On AWS the
        # policy may need a while to apply everywhere, so keep failing it until then.
        sqs.send_message(QueueUrl=queue_url, MessageBody="poison from the checker")
        end = time.perf_counter() + _patience(cloud, 6, 60)
        while time.perf_counter() < end:
            got = sqs.receive_message(
                QueueUrl=queue_url, WaitTimeSeconds=1, VisibilityTimeout=0
            ).get("Messages", [])
            if not got and dead_letters.visible(sqs, dlq_url) >= 1:
                break
        if _wait_for_depth(sqs, dlq_url, 1, _patience(cloud, 3, 30)) < 1:
            raise Incorrect(
                "The policy looks right, but a message that kept failing never reached the "
                "dead-letter queue."
            )
    return (
        f"A message received {Q1_MAX_RECEIVE_COUNT} times without a delete moved to the DLQ on "
        "the next receive."
    )


q1 = CheckedExercise(
    "attach_dlq(sqs, queue_url, dlq_url, max_receive_count)",
    _judge_attach_dlq,
    hint=(
        "Two calls: get_queue_attributes(QueueUrl=dlq_url, AttributeNames=['QueueArn']) for the"
        " DLQ's ARN, then set_queue_attributes on `queue_url` with a RedrivePolicy attribute,"
        " which must be a JSON string (json.dumps) with deadLetterTargetArn and maxReceiveCount."
    ),
    solution="""```python
import json

def attach_dlq(sqs, queue_url, dlq_url, max_receive_count):
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=dlq_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
    sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"RedrivePolicy": json.dumps(policy)}
    )
```""",
)


# --- q2 ---------------------------------------------------------------------------------------

Q2_MAX_RECEIVE_COUNT = 5
Q2_RETRY_PAUSE = 0.5
Q2_CALLS = Q2_MAX_RECEIVE_COUNT + 1
"""Receives that return the message, then the one during which it moves (and which returns
nothing); with the pause shorter than the visibility timeout there are no empty ones between."""


def _judge_receive_calls(answer: Any) -> str:
    if not is_number(answer):
        raise Incorrect(
            f"Answer with a whole number of ReceiveMessage calls; got {type(answer).__name__}."
        )
    if answer != int(answer):
        raise Incorrect("Calls come whole: answer with a whole number.")
    answer = int(answer)
    if answer == Q2_CALLS:
        return (
            f"Receives 1 to {Q2_MAX_RECEIVE_COUNT} return the message and raise its count to "
            f"the limit; receive {Q2_CALLS} finds the count there, moves the message and returns "
            "nothing. The short pause adds no empty receives: each long poll starts while the "
            "message is still hidden and simply waits for it."
        )
    if answer == Q2_MAX_RECEIVE_COUNT:
        raise Incorrect(
            f"{answer} counts the receives that return the message. Does the message move by "
            "itself, or during a call?"
        )
    if answer in (3, 4):
        raise Incorrect(
            f"{answer} fits section 2's run, whose policy had a maxReceiveCount of 3. This one "
            f"allows {Q2_MAX_RECEIVE_COUNT}: count again, call by call."
        )
    if answer < 3:
        raise Incorrect(
            f"With a maxReceiveCount of {Q2_MAX_RECEIVE_COUNT}, SQS hands the message out more "
            f"often than {answer} times before it can move."
        )
    if 2 * Q2_MAX_RECEIVE_COUNT <= answer <= 2 * Q2_MAX_RECEIVE_COUNT + 2:
        raise Incorrect(
            f"{answer} counts an empty receive after every failure. The pause "
            f"({Q2_RETRY_PAUSE} s) is shorter than the visibility timeout (1 s): does the next "
            "long poll find the message hidden and come back empty, or wait for it?"
        )
    raise Incorrect(
        f"Not {answer}. Count only up to the call during which the message moves: the consumer "
        "stops once the message is in the DLQ. And check whether a call can come back empty "
        "before that, with a pause shorter than the visibility timeout."
    )


q2 = CheckedExercise(
    "ReceiveMessage calls with maxReceiveCount 5 and a 0.5 s pause",
    _judge_receive_calls,
    hint=(
        "Go call by call. Each receive that returns the message raises its "
        "ApproximateReceiveCount by one; SQS hands it out until the count has reached "
        "maxReceiveCount. What does the call after that return, and why? Then ask whether the "
        "short pause leaves room for an empty receive between two deliveries."
    ),
    solution=(
        f"`answer = {Q2_CALLS}`: {Q2_MAX_RECEIVE_COUNT} receives return the message, and the "
        "next one moves it to the DLQ and returns nothing. After each failure the consumer "
        "pauses 0.5 s and long-polls again; the message is still hidden then (1 s visibility "
        "timeout), so that long poll waits and gets it, with no empty receive in between. To "
        "see it, run `run = dead_letters.follow_poison(cloud, max_receive_count=5, "
        "retry_pause=0.5)` (about 6 s) and look at `run.receives`."
    ),
)


# --- q3 ---------------------------------------------------------------------------------------


def _judge_retention(answer: Any) -> str:
    if not is_number(answer):
        raise Incorrect(f"Answer with a number of seconds; got {type(answer).__name__}.")
    if answer != int(answer):
        raise Incorrect("MessageRetentionPeriod is a whole number of seconds.")
    answer = int(answer)
    if not MIN_RETENTION <= answer <= MAX_RETENTION:
        raise Incorrect(
            f"SQS refuses a MessageRetentionPeriod of {answer:,} s: look up the allowed range."
        )
    left = answer - SOURCE_RETENTION
    if left < MIN_DAYS_IN_DLQ * DAY:
        days = max(left, 0) / DAY
        raise Incorrect(
            f"With {answer:,} s, a message that failed after nearly 4 days in the source would "
            f"have about {days:.1f} days left in the DLQ: its clock started at the first send."
        )
    return (
        f"A message that failed late would still have {left / DAY:.1f} days in the DLQ, which "
        "is at least a week."
    )


q3 = CheckedExercise(
    "A safe MessageRetentionPeriod for the DLQ (seconds)",
    _judge_retention,
    hint=(
        "In a standard queue's DLQ the retention counts from the original send, so add the time "
        "a message may already have spent in the source (4 days) to the week it must stay."
    ),
    solution=(
        "Any value from `11 * 24 * 3600` (950,400 s) up to the maximum, `14 * 24 * 3600` "
        "(1,209,600 s). The maximum is the usual choice for a DLQ."
    ),
)


# --- q4 ---------------------------------------------------------------------------------------

Q4_MESSAGES = 5


def _fill_dlq(sqs: Any, pair: QueuePair, count: int) -> None:
    """Send ``count`` messages and fail each once (maxReceiveCount 1), so they move to the DLQ.

    Receives with VisibilityTimeout=0 make a failed message visible again at once; the next
    receive then moves it.
    """
    for i in range(count):
        sqs.send_message(QueueUrl=pair.source_url, MessageBody=json.dumps({"check": i}))
    end = time.perf_counter() + 10
    while time.perf_counter() < end:
        sqs.receive_message(
            QueueUrl=pair.source_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=0
        )
        if dead_letters.visible(sqs, pair.dlq_url) >= count:
            return
    raise RuntimeError("The checker could not fill its dead-letter queue; run the check again.")


def _judge_redrive_all(redrive_all: Any) -> str:
    _require_function(redrive_all, "redrive_all", "q4")
    cloud = workshop.current()
    sqs = cloud.client("sqs")
    pair = dead_letters.create_pair(
        cloud, f"check-q4-{secrets.token_hex(2)}", max_receive_count=1, visibility_timeout=30
    )
    with _scratch_queues(cloud, [pair.source_url, pair.dlq_url]):
        _fill_dlq(sqs, pair, Q4_MESSAGES)
        recorder = Recorder(sqs)
        try:
            result = run_bounded(
                redrive_all, (recorder, pair.dlq_arn), "redrive_all", _patience(cloud, 20, 120)
            )
        except Incorrect as error:
            if "did not return within" not in str(error):
                raise
            raise Incorrect(
                "`redrive_all` did not return within the checker's time limit. Does your "
                "polling loop end when the task's Status is no longer RUNNING, and does it give "
                "up after a time limit of its own? (If it keeps running after this check, "
                "Kernel > Restart stops it.)"
            ) from None
        starts = recorder.calls_to("start_message_move_task")
        if not starts:
            raise Incorrect("Your function never called start_message_move_task.")
        if any(call.params.get("SourceArn") != pair.dlq_arn for call in starts):
            raise Incorrect(
                "A start_message_move_task call had a SourceArn other than `dlq_arn`: the "
                "source of a redrive is the dead-letter queue."
            )
        if any(call.params.get("DestinationArn") not in (None, pair.source_arn) for call in starts):
            raise Incorrect(
                "Your task moved the messages somewhere other than their source queue. Leave "
                "out DestinationArn and SQS sends each message back where it came from."
            )
        task = dead_letters.latest_task(sqs, pair.dlq_arn) or {}
        lists = recorder.calls_to("list_message_move_tasks")
        last_seen = (lists[-1].response.get("Results") or [{}])[0] if lists else {}
        if task.get("Status") not in dead_letters.FINISHED or (
            last_seen.get("Status") not in dead_letters.FINISHED
        ):
            raise Incorrect(
                "Your function returned before the task had finished. Poll "
                "list_message_move_tasks until the task's Status is no longer RUNNING, with a "
                "pause between calls and a time limit."
            )
        if task.get("Status") != "COMPLETED":
            raise Incorrect(
                f"The task ended as {task.get('Status')}"
                + (f" ({task['FailureReason']})" if task.get("FailureReason") else "")
                + ", not COMPLETED."
            )
        back = _wait_for_depth(sqs, pair.source_url, Q4_MESSAGES, _patience(cloud, 3, 30))
        if back < Q4_MESSAGES:
            raise Incorrect(
                f"Only {back} of the {Q4_MESSAGES} messages are back in the source queue."
            )
        moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        if isinstance(result, bool) or not isinstance(result, int) or result != moved:
            raise Incorrect(
                f"Your function returned {result!r}: return the task's "
                "ApproximateNumberOfMessagesMoved as an int, read once the task has finished."
            )
    return f"All {moved} messages went back to the source queue, and your function waited."


q4 = CheckedExercise(
    "redrive_all(sqs, dlq_arn)",
    _judge_redrive_all,
    hint=(
        "start_message_move_task(SourceArn=dlq_arn) starts it; then call "
        "list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1) every 0.2 s or so, with a "
        "time limit (a few seconds locally, a minute on AWS), until Results[0]['Status'] is "
        "COMPLETED, CANCELLED or FAILED."
    ),
    solution="""```python
import time

def redrive_all(sqs, dlq_arn):
    sqs.start_message_move_task(SourceArn=dlq_arn)
    end = time.monotonic() + 60  # locally it takes well under a second
    while time.monotonic() < end:
        task = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1)["Results"][0]
        if task["Status"] in ("COMPLETED", "CANCELLED", "FAILED"):
            return task["ApproximateNumberOfMessagesMoved"]
        time.sleep(0.2)
    raise TimeoutError("the move task did not finish in 60 s")
```

On AWS a move task may start more slowly than on the local cloud; there the checker waits up to
120 s for your function.""",
)
