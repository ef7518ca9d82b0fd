"""Every checker of notebook 02: a right answer passes, a wrong one fails without giving the
answer away, an untouched one is "not attempted", and no checker hangs or leaves a queue."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
from conftest import no_check_threads_left

from workshop.exercises import nb02

# --- q1 ---------------------------------------------------------------------------------------


def test_q1_right_wrong_and_untouched():
    assert nb02.q1.evaluate(43200).status == "correct"
    assert nb02.q1.evaluate(12 * 60 * 60.0).status == "correct"
    for wrong, says in [
        (12, "hours"),
        (720, "minutes"),
        (30, "default"),
        (900, "too small"),
        (50_000, "too large"),
        ("12 hours", "number"),
    ]:
        outcome = nb02.q1.evaluate(wrong)
        assert outcome.status == "incorrect", wrong
        assert says in outcome.message
        assert "43200" not in outcome.message and "43,200" not in outcome.message
    assert nb02.q1.evaluate(...).status == "not attempted"


# --- q2 ---------------------------------------------------------------------------------------


def process_with_heartbeat(sqs, queue_url, work_seconds):
    message = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=2)[
        "Messages"
    ][0]
    handle = message["ReceiptHandle"]
    done = time.monotonic() + work_seconds
    while (left := done - time.monotonic()) > 0:
        time.sleep(min(0.3, left))
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=2)
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handle)
    return message["Body"]


def heartbeat_in_a_thread(sqs, queue_url, work_seconds):
    """Another right answer: the heartbeat runs beside the work, in a thread of its own."""
    message = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)["Messages"][0]
    handle = message["ReceiptHandle"]
    stop = threading.Event()

    def beat():
        while not stop.wait(0.4):
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=1
            )

    beater = threading.Thread(target=beat)
    beater.start()
    try:
        time.sleep(work_seconds)
    finally:
        stop.set()
        beater.join()
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handle)
    return message["Body"]


def no_heartbeat(sqs, queue_url, work_seconds):
    message = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)["Messages"][0]
    time.sleep(work_seconds)
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return message["Body"]


def heartbeat_too_rare(sqs, queue_url, work_seconds):
    message = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)["Messages"][0]
    handle = message["ReceiptHandle"]
    done = time.monotonic() + work_seconds
    while (left := done - time.monotonic()) > 0:
        time.sleep(min(1.4, left))  # longer than the queue's 1 s timeout
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=2)
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handle)
    return message["Body"]


def one_long_extension(sqs, queue_url, work_seconds):
    message = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)["Messages"][0]
    handle = message["ReceiptHandle"]
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=600)
    time.sleep(work_seconds)
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=handle)
    return message["Body"]


def never_deletes(sqs, queue_url, work_seconds):
    message = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)["Messages"][0]
    handle = message["ReceiptHandle"]
    done = time.monotonic() + work_seconds
    while (left := done - time.monotonic()) > 0:
        time.sleep(min(0.3, left))
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=2)
    return message["Body"]


def deletes_first(sqs, queue_url, work_seconds):
    message = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)["Messages"][0]
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    time.sleep(work_seconds)
    return message["Body"]


def returns_nothing(sqs, queue_url, work_seconds):
    process_with_heartbeat(sqs, queue_url, work_seconds)


def never_receives(sqs, queue_url, work_seconds):
    time.sleep(0.1)
    return "done"


@pytest.mark.parametrize("right", [process_with_heartbeat, heartbeat_in_a_thread])
def test_q2_right_answers(current, right):
    outcome = nb02.q2.evaluate(right)
    assert outcome.status == "correct", outcome.message
    assert "ran once" in outcome.message
    assert no_check_threads_left()


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (no_heartbeat, "another consumer received it"),
        (one_long_extension, "asked for 600 s"),
        (never_deletes, "never deleted"),
        (deletes_first, "before its 2.5 s of work"),
        (returns_nothing, "Return the body"),
        (never_receives, "never received"),
    ],
)
def test_q2_wrong_answers(current, wrong, says):
    started = time.monotonic()
    outcome = nb02.q2.evaluate(wrong)
    assert time.monotonic() - started < 10
    assert outcome.status == "incorrect"
    assert says in outcome.message, outcome.message
    assert "change_message_visibility(" not in outcome.message
    assert no_check_threads_left()


def test_q2_a_heartbeat_too_rare_is_caught(current):
    # Depending on how quickly the backend redelivers, the watcher catches the message or the
    # replay of the calls finds the late heartbeat: both are the same mistake.
    outcome = nb02.q2.evaluate(heartbeat_too_rare)
    assert outcome.status == "incorrect"
    assert "another consumer received it" in outcome.message or "Heartbeat 1 came" in (
        outcome.message
    )


def test_q2_a_function_that_never_returns_fails_in_bounded_time(current, monkeypatch):
    monkeypatch.setattr(nb02, "Q2_TIME_LIMIT_SECONDS", 1.5)

    def forever(sqs, queue_url, work_seconds):
        while True:  # the checker deletes its queue, and then this call fails
            sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)
            time.sleep(0.05)

    started = time.monotonic()
    outcome = nb02.q2.evaluate(forever)
    assert time.monotonic() - started < 8
    assert outcome.status == "incorrect"
    assert "did not return within" in outcome.message or "another consumer" in outcome.message
    assert no_check_threads_left()


def test_q2_untouched_and_not_a_function(current):
    def process_with_heartbeat(sqs, queue_url, work_seconds):
        """Receive, work with a heartbeat, delete; return the body."""
        ...

    assert nb02.q2.evaluate(process_with_heartbeat).status == "not attempted"
    assert nb02.q2.evaluate(...).status == "not attempted"
    outcome = nb02.q2.evaluate(3)
    assert outcome.status == "incorrect" and "function" in outcome.message


# --- q3 ---------------------------------------------------------------------------------------


def test_q3_right_wrong_and_untouched():
    assert nb02.q3.evaluate(720).status == "correct"
    assert nb02.q3.evaluate(6 * 120.0).status == "correct"
    for wrong, says in [
        (120, "least Lambda accepts"),
        (12, "unit"),
        (600, "too small"),
        (900, "too large"),
        ("720", "number"),
    ]:
        outcome = nb02.q3.evaluate(wrong)
        assert outcome.status == "incorrect", wrong
        assert says in outcome.message
        assert "720" not in outcome.message.replace("'720'", "")
    assert nb02.q3.evaluate(...).status == "not attempted"


# --- q4 ---------------------------------------------------------------------------------------

RECEIVES = pd.DataFrame({"seq": [0, 0, 0, 1, 2, 2], "receive_count": [1, 2, 3, 1, 1, 2]})


def test_q4_right_answer_reads_the_learners_own_run():
    assert nb02.q4.evaluate(3, RECEIVES).status == "correct"
    other = RECEIVES.assign(receive_count=[1, 2, 3, 1, 1, 4])
    assert nb02.q4.evaluate(4, other).status == "correct"
    assert nb02.q4.evaluate(3, other).status == "incorrect"


@pytest.mark.parametrize("wrong", [1, 2, 6])
def test_q4_wrong_answers(wrong):
    outcome = nb02.q4.evaluate(wrong, RECEIVES)
    assert outcome.status == "incorrect"
    assert " 3" not in outcome.message


def test_q4_needs_a_number_and_the_receives():
    assert "second argument" in nb02.q4.evaluate(3).message
    assert nb02.q4.evaluate("3", RECEIVES).status == "incorrect"
    assert nb02.q4.evaluate(..., RECEIVES).status == "not attempted"


def test_every_exercise_has_a_hint_and_a_solution(capsys):
    for exercise in (nb02.q1, nb02.q2, nb02.q3, nb02.q4):
        exercise.hint()
        exercise.solution()
    printed = capsys.readouterr().out
    assert printed.count("Hint:") == 4 and printed.count("Solution:") == 4
