"""Exercises of notebook 01, SQS fundamentals: ``from workshop.exercises import nb01``.

- ``q1``: how many requests a consumer long-polling an empty queue makes in 30 days (a number).
- ``q2``: ``send_in_batches(sqs, queue_url, bodies) -> int``, the number of batch calls made.
- ``q3``: ``drain(sqs, queue_url) -> int``, long-polling and batch-deleting until empty.
- ``q4``: which polling strategy made the most receive calls per message, from the learner's own
  measured summary.

The checkers of q2 and q3 run the learner's function for real, on a scratch queue of their own
(created with ``workshop.current().create_queue``, deleted afterwards), and watch every call it
makes through a recording wrapper around the SQS client. The function runs in a thread with a
time limit, so a loop that never ends makes the check fail instead of hanging the notebook;
deleting the scratch queue then makes that loop's next SQS call fail, which usually ends it.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import pandas as pd
from botocore.exceptions import ClientError

import workshop
from workshop.data import upload_messages
from workshop.exercises.core import CheckedExercise, Incorrect, is_number

TIME_LIMIT_SECONDS = 30.0
"""How long a learner's function may run: room for one 20 s long poll, the longest SQS allows."""


# --- helpers the checkers share ------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One client method call the learner's code made, with its parameters and response."""

    operation: str
    params: dict[str, Any]
    response: dict[str, Any]


class Recorder:
    """An SQS client that records every call made through it, and otherwise is the client.

    The learner's function receives this instead of the client, so the checker can count
    calls and read their parameters without patching anything global.
    """

    def __init__(self, client: Any):
        self._client = client
        self.calls: list[Call] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if (
            name.startswith("_")
            or not callable(attribute)
            or name in {"can_paginate", "get_paginator", "get_waiter", "close"}
        ):
            return attribute

        def recorded(**params: Any) -> Any:
            response = attribute(**params)
            self.calls.append(Call(name, params, response))
            return response

        return recorded

    def calls_to(self, operation: str) -> list[Call]:
        """The calls of one operation, by its Python name (``send_message_batch``)."""
        return [call for call in self.calls if call.operation == operation]


def run_bounded(
    function: Callable[..., Any], args: tuple[Any, ...], name: str, seconds: float | None = None
) -> Any:
    """Call ``function(*args)`` in a thread; raise :class:`Incorrect` if it fails or overruns.

    ``seconds`` defaults to :data:`TIME_LIMIT_SECONDS`, read at call time.
    """
    seconds = TIME_LIMIT_SECONDS if seconds is None else seconds
    outcome: dict[str, Any] = {}
    print(f"Checking `{name}` (at most {seconds:.0f} s) ...", flush=True)

    def target() -> None:
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # reported to the learner below
            outcome["error"] = error

    thread = threading.Thread(target=target, name=f"workshop-check-{name}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise Incorrect(
            f"`{name}` did not return within {seconds:.0f} s. Does every loop in it end, for "
            "example when a receive comes back with no messages? (If it keeps running after "
            "this check, Kernel > Restart stops it.)"
        )
    if "error" in outcome:
        error = outcome["error"]
        raise Incorrect(f"`{name}` raised {type(error).__name__}: {error}")
    return outcome["value"]


@contextmanager
def checker_step(what: str) -> Iterator[None]:
    """The checker's own SQS calls: an AWS error there is not the learner's fault, say so."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "an error")
        if "NonExistentQueue" in code or code.endswith("QueueDoesNotExist"):
            raise Incorrect(
                "The checker's queue no longer exists. Does your function delete the queue? "
                "It should delete messages only."
            ) from None
        raise Incorrect(
            f"The checker could not {what} ({code}). That is not your code: run the cell again."
        ) from None


@contextmanager
def scratch_queue(purpose: str) -> Iterator[tuple[workshop.Backend, str]]:
    """A fresh queue on the learner's backend for one check, deleted afterwards.

    The random suffix keeps reruns apart: AWS refuses to recreate a queue name for 60 s after
    it was deleted, and leftovers of an earlier check must not count in this one.
    """
    cloud = workshop.current()
    with checker_step("create its queue"):
        url = cloud.create_queue(f"check-{purpose}-{secrets.token_hex(3)}")
    try:
        yield cloud, url
    finally:
        with suppress(ClientError):  # already gone: nothing left to delete
            cloud.client("sqs").delete_queue(QueueUrl=url)


def receive_bodies(sqs: Any, queue_url: str, expected: int, seconds: float = 20.0) -> list[str]:
    """Every body in the queue (received, not deleted), stopping at the first empty receive.

    Long polls (1 s) until ``expected`` bodies are in, then one short poll looks for extras.
    """
    bodies: list[str] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0 if len(bodies) >= expected else 1,
            VisibilityTimeout=120,  # not again while we count
        )
        messages = response.get("Messages", [])
        if not messages:
            break
        bodies.extend(message["Body"] for message in messages)
    return bodies


def send_bodies(sqs: Any, queue_url: str, bodies: list[str]) -> list[str]:
    """Send ``bodies`` in batches of ten; return their message ids."""
    ids: list[str] = []
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)],
        )
        if response.get("Failed"):
            raise RuntimeError(f"The checker could not fill its queue: {response['Failed']}")
        ids.extend(entry["MessageId"] for entry in response["Successful"])
    return ids


def _require_function(answer: Any, name: str) -> None:
    if not callable(answer):
        raise Incorrect(
            f"Pass your function itself, without calling it: nb01.qN.check({name}); "
            f"got {type(answer).__name__}."
        )


def _require_count(result: Any, what: str) -> int:
    if isinstance(result, bool) or not isinstance(result, int):
        raise Incorrect(f"Return {what} as an int; your function returned {result!r}.")
    return result


# --- q1 ---------------------------------------------------------------------------------------

Q1_DAYS = 30
Q1_WAIT_SECONDS = 20
Q1_EXPECTED = Q1_DAYS * 24 * 3600 // Q1_WAIT_SECONDS


def _judge_idle_requests(answer: Any) -> str:
    if not is_number(answer):
        raise Incorrect(f"Answer with a number of requests; got {type(answer).__name__}.")

    def near(value: float) -> bool:
        return math.isclose(answer, value, rel_tol=0.01)

    if near(Q1_EXPECTED):
        return (
            f"Each empty long poll lasts {Q1_WAIT_SECONDS} s, so {Q1_DAYS} days make "
            f"{Q1_EXPECTED:,} requests: about {Q1_EXPECTED / 1e6:.0%} of the free million a "
            "month, for a consumer that never receives anything."
        )
    if near(Q1_DAYS * 24 * 3600):
        raise Incorrect(
            "That is one request per second. On an empty queue a long poll does not answer at "
            "once: how long does each one last?"
        )
    if near(Q1_EXPECTED / Q1_DAYS):
        raise Incorrect(f"That is one day's worth; the consumer runs for {Q1_DAYS} days.")
    if near(Q1_EXPECTED / 60) or near(Q1_EXPECTED / 3600):
        raise Incorrect("Check your units: WaitTimeSeconds counts seconds.")
    raise Incorrect(
        "Not quite. How long does one receive last while the queue stays empty, and how many "
        f"of those fit into {Q1_DAYS} days?"
    )


q1 = CheckedExercise(
    "Requests an idle long-polling consumer makes in 30 days",
    _judge_idle_requests,
    hint=(
        "Section 6 timed one receive with WaitTimeSeconds=1 on an empty queue. With 20, each"
        " empty receive takes 20 s; count the seconds in 30 days of 24 hours."
    ),
    solution=(
        "`answer = 30 * 24 * 3600 / 20`, that is 129,600: on an empty queue each long poll waits"
        " its full 20 s and comes back empty, so the consumer makes one request every 20 s. A"
        " short-poll loop makes one request per round trip instead: at 10 ms a round trip,"
        " about 259 million requests a month, roughly $100 at $0.40 per million."
    ),
)


# --- q2 ---------------------------------------------------------------------------------------

Q2_BODIES = 25


def _judge_send_in_batches(send_in_batches: Any) -> str:
    _require_function(send_in_batches, "send_in_batches")
    bodies = upload_messages(Q2_BODIES)
    with scratch_queue("q2") as (cloud, url):
        sqs = Recorder(cloud.client("sqs"))
        result = run_bounded(send_in_batches, (sqs, url, list(bodies)), "send_in_batches")
        singles = sqs.calls_to("send_message")
        batches = sqs.calls_to("send_message_batch")
        if singles:
            raise Incorrect(
                f"Your function called send_message {len(singles)} times: send every body "
                "through send_message_batch instead."
            )
        if not batches:
            raise Incorrect("Your function never called send_message_batch.")
        failed = [entry for call in batches for entry in call.response.get("Failed", [])]
        if failed:
            first = failed[0]
            raise Incorrect(
                f"{len(failed)} batch entries failed, for example {first.get('Code')}: "
                f"{first.get('Message')}. Check the Failed list of each response."
            )
        with checker_step("read back its queue"):
            arrived = Counter(receive_bodies(cloud.client("sqs"), url, len(bodies)))
        wanted = Counter(bodies)
        missing = sum((wanted - arrived).values())
        extra = sum((arrived - wanted).values())
        if missing:
            raise Incorrect(
                f"{missing} of the {len(bodies)} bodies never reached the queue at `queue_url`."
                " Does every body go into some batch, and to the queue you were given?"
            )
        if extra:
            raise Incorrect(
                f"The queue received {extra} messages too many: some bodies were sent twice."
            )
        count = _require_count(result, "the number of send_message_batch calls")
        if count != len(batches):
            raise Incorrect(
                f"Your function returned {count}, but that is not how many times it called "
                "send_message_batch."
            )
        if len(batches) > math.ceil(len(bodies) / 10):
            raise Incorrect(
                f"Every body arrived, but in {len(batches)} calls: fill each batch as far as "
                "SQS allows, and fewer calls will do."
            )
    return f"All {len(bodies)} messages arrived, in {len(batches)} send_message_batch calls."


q2 = CheckedExercise(
    "send_in_batches(sqs, queue_url, bodies)",
    _judge_send_in_batches,
    hint=(
        "Walk through `bodies` in slices of at most 10 (`range(0, len(bodies), step)`); each"
        " entry needs an `Id` unique within its batch and a `MessageBody`. Count the calls."
    ),
    solution="""```python
def send_in_batches(sqs, queue_url, bodies):
    calls = 0
    for start in range(0, len(bodies), 10):
        chunk = bodies[start:start + 10]
        response = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)],
        )
        assert not response.get("Failed"), response["Failed"]
        calls += 1
    return calls
```""",
)


# --- q3 ---------------------------------------------------------------------------------------

Q3_MESSAGES = 23


def _judge_drain(drain: Any) -> str:
    _require_function(drain, "drain")
    with scratch_queue("q3") as (cloud, url):
        with checker_step("fill its queue"):
            sent = set(send_bodies(cloud.client("sqs"), url, upload_messages(Q3_MESSAGES)))
        sqs = Recorder(cloud.client("sqs"))
        started = time.perf_counter()
        result = run_bounded(drain, (sqs, url), "drain")
        seconds = time.perf_counter() - started
        receives = sqs.calls_to("receive_message")
        if not receives:
            raise Incorrect("Your drain never called receive_message.")
        short = [c for c in receives if int(c.params.get("WaitTimeSeconds", 0)) < 1]
        if short:
            raise Incorrect(
                f"{len(short)} of your {len(receives)} receives were short polls "
                "(WaitTimeSeconds 0 or not given): make each receive wait for messages."
            )
        few = [c for c in receives if int(c.params.get("MaxNumberOfMessages", 1)) < 10]
        if few:
            raise Incorrect(
                f"{len(few)} of your {len(receives)} receives asked for fewer messages than one "
                "receive can return (without MaxNumberOfMessages a receive returns at most "
                "one): ask for up to ten per receive."
            )
        if sqs.calls_to("delete_message"):
            raise Incorrect(
                "Your drain deletes messages one at a time with delete_message: delete what "
                "each receive returned with one delete_message_batch call."
            )
        handle_to_id = {
            message["ReceiptHandle"]: message["MessageId"]
            for call in receives
            for message in call.response.get("Messages", [])
        }
        deleted: set[str] = set()
        for call in sqs.calls_to("delete_message_batch"):
            handles = {e["Id"]: e["ReceiptHandle"] for e in call.params.get("Entries", [])}
            for entry in call.response.get("Successful", []):
                message_id = handle_to_id.get(handles.get(entry["Id"], ""))
                if message_id:
                    deleted.add(message_id)
        left = sent - deleted
        if left:
            raise Incorrect(
                f"{len(left)} of the {len(sent)} messages in the queue were not deleted. Keep "
                "receiving and deleting until a receive comes back empty."
            )
        count = _require_count(result, "the number of messages deleted")
        if count != len(deleted):
            raise Incorrect(
                f"Your drain returned {count}, but that is not how many messages it deleted."
            )
    tip = (
        f" It took {seconds:.1f} s, mostly the last, empty long poll: a drain can use a short"
        " WaitTimeSeconds."
        if seconds > 5
        else ""
    )
    return f"Drained {len(sent)} messages in {len(receives)} receives.{tip}"


q3 = CheckedExercise(
    "drain(sqs, queue_url)",
    _judge_drain,
    hint=(
        "Loop: receive up to 10 messages with a WaitTimeSeconds of 1 or 2; if none came back,"
        " stop; otherwise delete them with one delete_message_batch (Id plus ReceiptHandle per"
        " entry) and add them to your count."
    ),
    solution="""```python
def drain(sqs, queue_url):
    deleted = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        if not messages:
            return deleted
        response = sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                     for i, m in enumerate(messages)],
        )
        deleted += len(response.get("Successful", []))
```""",
)


# --- q4 ---------------------------------------------------------------------------------------


def _judge_costliest(answer: Any, summary: Any = None) -> str:
    if not isinstance(summary, pd.DataFrame) or not {"strategy", "calls_per_message"} <= set(
        summary.columns
    ):
        raise Incorrect(
            "Pass the summary of your polling experiment as the second argument: "
            "nb01.q4.check(answer, result.summary)."
        )
    if not isinstance(answer, str):
        raise Incorrect(
            f"Answer with a strategy's name, a string from the summary's strategy column; got "
            f"{type(answer).__name__}."
        )
    costs = summary.set_index("strategy")["calls_per_message"]
    names = {str(name).strip().lower(): name for name in costs.index}
    name = names.get(answer.strip().lower())
    if name is None:
        raise Incorrect(
            f"{answer!r} is not a strategy in your summary: copy a name from its strategy column."
        )
    if costs[name] < costs.max():
        raise Incorrect(
            f"{answer!r} made {costs[name]:.2f} receive calls per message delivered; another "
            "strategy in your summary made more."
        )
    return f"{name} made {costs[name]:.1f} receive calls for every message it delivered."


q4 = CheckedExercise(
    "The strategy that made the most receive calls per message",
    _judge_costliest,
    hint=(
        "Sort your summary by its calls_per_message column, or find the dot furthest to the"
        " right in the cost plot."
    ),
    solution=(
        "`answer = summary.sort_values('calls_per_message').iloc[-1]['strategy']`: on the local"
        " backend it is the tight short-poll loop, which spends almost every call finding the"
        " queue empty."
    ),
)
