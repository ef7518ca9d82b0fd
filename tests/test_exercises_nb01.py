"""Every checker of notebook 01: a right answer passes, a wrong one fails without giving the
answer away, an untouched one is "not attempted", and no checker hangs or leaves a queue."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from botocore.exceptions import ClientError
from conftest import no_check_threads_left

from workshop.exercises import nb01

# --- q1 ---------------------------------------------------------------------------------------


def test_q1_right_wrong_and_untouched():
    for right in (129_600, 129_600.0, 30 * 24 * 3600 / 20):
        outcome = nb01.q1.evaluate(right)
        assert outcome.status == "correct", outcome.message
    for wrong, says in (
        (30 * 24 * 3600, "one request per second"),  # as if each poll answered at once
        (4_320, "one day"),
        (2_160, "units"),
        (10, "Not quite"),
        (True, "number"),
        ("lots", "number"),
    ):
        outcome = nb01.q1.evaluate(wrong)
        assert outcome.status == "incorrect"
        assert says in outcome.message
        assert "129" not in outcome.message and "20 s" not in outcome.message
    assert nb01.q1.evaluate(...).status == "not attempted"


# --- q2 ---------------------------------------------------------------------------------------


def send_in_batches(sqs, queue_url, bodies):
    calls = 0
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(chunk)],
        )
        calls += 1
    return calls


def one_at_a_time(sqs, queue_url, bodies):
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    return len(bodies)


def drops_the_rest(sqs, queue_url, bodies):
    full = len(bodies) // 10 * 10  # forgets the last, partial batch
    return send_in_batches(sqs, queue_url, bodies[:full])


def small_batches(sqs, queue_url, bodies):
    calls = 0
    for start in range(0, len(bodies), 5):
        chunk = bodies[start : start + 5]
        sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(chunk)],
        )
        calls += 1
    return calls


def one_big_batch(sqs, queue_url, bodies):
    sqs.send_message_batch(
        QueueUrl=queue_url,
        Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)],
    )
    return 1


def counts_bodies(sqs, queue_url, bodies):
    send_in_batches(sqs, queue_url, bodies)
    return len(bodies)


def deletes_the_queue(sqs, queue_url, bodies):
    calls = send_in_batches(sqs, queue_url, bodies)
    sqs.delete_queue(QueueUrl=queue_url)
    return calls


def test_q2_right_answer(current):
    outcome = nb01.q2.evaluate(send_in_batches)
    assert outcome.status == "correct", outcome.message


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (one_at_a_time, "send_message 25 times"),
        (drops_the_rest, "never reached the queue"),
        (small_batches, "fewer calls"),
        (one_big_batch, "TooManyEntriesInBatchRequest"),
        (counts_bodies, "returned 25, but that is not"),
        (deletes_the_queue, "queue no longer exists"),
    ],
)
def test_q2_wrong_answers(current, wrong, says):
    outcome = nb01.q2.evaluate(wrong)
    assert outcome.status == "incorrect"
    assert says in outcome.message
    assert "range(0, len(bodies), 10)" not in outcome.message
    assert " 3 " not in f" {outcome.message} "  # the number of calls a right answer makes


def test_q2_untouched(current):
    def send_in_batches(sqs, queue_url, bodies):
        """Send every body with SendMessageBatch; return the number of calls."""
        ...

    assert nb01.q2.evaluate(send_in_batches).status == "not attempted"
    assert nb01.q2.evaluate(...).status == "not attempted"


def test_q2_not_a_function(current):
    outcome = nb01.q2.evaluate(3)
    assert outcome.status == "incorrect"
    assert "function" in outcome.message


# --- q3 ---------------------------------------------------------------------------------------


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
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        deleted += len(response.get("Successful", []))


def short_polls(sqs, queue_url):
    deleted = 0
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        deleted += len(messages)
    return deleted


def receives_once(sqs, queue_url):
    messages = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    ).get("Messages", [])
    if messages:
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
    return len(messages)


def deletes_singly(sqs, queue_url):
    deleted = 0
    while messages := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    ).get("Messages", []):
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            deleted += 1
    return deleted


def receives_without_deleting(sqs, queue_url):
    count = 0
    while messages := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    ).get("Messages", []):
        count += len(messages)
    return count


def one_per_receive(sqs, queue_url):
    deleted = 0
    while messages := sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get(
        "Messages", []
    ):
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        deleted += len(messages)
    return deleted


def returns_nothing(sqs, queue_url):
    drain(sqs, queue_url)


def test_q3_right_answer(current):
    outcome = nb01.q3.evaluate(drain)
    assert outcome.status == "correct", outcome.message


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (short_polls, "short polls"),
        (receives_once, "were not deleted"),
        (deletes_singly, "one at a time"),
        (one_per_receive, "ask for up to ten per receive"),
        (receives_without_deleting, "were not deleted"),
        (returns_nothing, "as an int"),
    ],
)
def test_q3_wrong_answers(current, wrong, says):
    outcome = nb01.q3.evaluate(wrong)
    assert outcome.status == "incorrect"
    assert says in outcome.message
    assert "delete_message_batch(\n" not in outcome.message
    assert "WaitTimeSeconds=1" not in outcome.message


def test_q3_untouched(current):
    def drain(sqs, queue_url): ...

    assert nb01.q3.evaluate(drain).status == "not attempted"


def test_q3_a_drain_that_never_stops_fails_in_bounded_time(current, monkeypatch):
    monkeypatch.setattr(nb01, "TIME_LIMIT_SECONDS", 1.5)

    def forever(sqs, queue_url):
        while True:  # the checker deletes its queue, and then this call fails
            sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)
            time.sleep(0.05)

    started = time.monotonic()
    outcome = nb01.q3.evaluate(forever)
    assert time.monotonic() - started < 6
    assert outcome.status == "incorrect"
    assert "did not return within" in outcome.message
    assert "Restart" in outcome.message
    assert no_check_threads_left(), "the learner's loop kept running after the check"


def test_q3_a_failure_of_the_checker_itself_is_not_blamed_on_the_learner(current, monkeypatch):
    def refused(sqs, queue_url, bodies):
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "busy"}}, "Send")

    monkeypatch.setattr(nb01, "send_bodies", refused)
    outcome = nb01.q3.evaluate(drain)
    assert outcome.status == "incorrect"
    assert "not your code" in outcome.message and "ServiceUnavailable" in outcome.message


def test_q2_and_q3_say_that_they_are_checking(current, capsys):
    nb01.q3.evaluate(drain)
    assert "Checking `drain`" in capsys.readouterr().out


# --- q4 ---------------------------------------------------------------------------------------

SUMMARY = pd.DataFrame(
    {
        "strategy": ["short poll, tight loop", "short poll, 0.5 s pause", "long poll, 2 s wait"],
        "calls_per_message": [21.5, 0.4, 1.0],
    }
)


def test_q4_right_answer():
    assert nb01.q4.evaluate("short poll, tight loop", SUMMARY).status == "correct"
    assert nb01.q4.evaluate("  Short poll, tight loop ", SUMMARY).status == "correct"


def test_q4_reads_the_learners_own_measurement():
    mine = SUMMARY.assign(calls_per_message=[0.5, 3.0, 1.0])
    assert nb01.q4.evaluate("short poll, 0.5 s pause", mine).status == "correct"
    assert nb01.q4.evaluate("short poll, tight loop", mine).status == "incorrect"


@pytest.mark.parametrize("wrong", ["long poll, 2 s wait", "short poll, 0.5 s pause"])
def test_q4_wrong_answers(wrong):
    outcome = nb01.q4.evaluate(wrong, SUMMARY)
    assert outcome.status == "incorrect"
    assert "tight loop" not in outcome.message
    assert "21.5" not in outcome.message


def test_q4_needs_a_name_and_the_summary():
    assert "not a strategy" in nb01.q4.evaluate("polling", SUMMARY).message
    outcome = nb01.q4.evaluate("short poll, tight loop")
    assert "second argument" in outcome.message
    assert "result.summary" in outcome.message, "names the notebook's own variable"
    assert nb01.q4.evaluate(3, SUMMARY).status == "incorrect"


def test_q4_untouched():
    assert nb01.q4.evaluate(..., SUMMARY).status == "not attempted"


def test_every_exercise_has_a_hint_and_a_solution(capsys):
    for exercise in (nb01.q1, nb01.q2, nb01.q3, nb01.q4):
        exercise.hint()
        exercise.solution()
    printed = capsys.readouterr().out
    assert printed.count("Hint:") == 4 and printed.count("Solution:") == 4
