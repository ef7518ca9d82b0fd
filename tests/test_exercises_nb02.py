"""Every checker of notebook 02: a right answer passes, a wrong one fails without giving the
answer away, an untouched one is "not attempted", and no checker hangs or leaves a queue."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest
from conftest import no_check_threads_left

from workshop.exercises import nb02

# --- q1 ---------------------------------------------------------------------------------------


def test_q1_right_wrong_and_untouched():
    assert nb02.q1.evaluate(50).status == "correct"
    assert nb02.q1.evaluate(50.0).status == "correct"
    for wrong, says in [
        (60, "does not add time"),
        (30, "changed the timeout"),
        (55, "does not know when a worker crashes"),
        (20, "still hidden"),
        (25, "still hidden"),
        (45, "count the new timeout"),
        ("50 s", "number"),
    ]:
        outcome = nb02.q1.evaluate(wrong)
        assert outcome.status == "incorrect", wrong
        assert says in outcome.message, outcome.message
        assert "50" not in outcome.message.replace("'50 s'", ""), outcome.message
        assert "too small" not in outcome.message and "too large" not in outcome.message
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


def typo_after_the_receive(sqs, queue_url, work_seconds):
    message = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)["Messages"][0]
    handle = message["ReceiptHandle"]
    handel.strip()  # noqa: F821  a learner's typo: NameError after the receive
    return handle


def forgets_the_timeout(sqs, queue_url, work_seconds):
    message = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)["Messages"][0]
    time.sleep(1.5)  # long enough for the message to come back to the watcher
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return message["Body"]


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
        (typo_after_the_receive, "raised NameError: name 'handel' is not defined"),
        (forgets_the_timeout, "raised ParamValidationError"),
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


def test_q2_the_learners_own_error_comes_before_what_followed_it(current):
    # The message of forgets_the_timeout comes back while it sleeps; the error still comes first.
    outcome = nb02.q2.evaluate(forgets_the_timeout)
    assert outcome.message.startswith("`process_with_heartbeat` raised ParamValidationError")
    assert "VisibilityTimeout" in outcome.message
    assert "came back to the queue, as after a crash" in outcome.message
    assert "Extend the visibility timeout" not in outcome.message
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
    assert nb02.q3.evaluate(1800).status == "correct"
    assert nb02.q3.evaluate(6 * 5 * 60.0).status == "correct"
    for wrong, says in [
        (300, "least Lambda accepts"),
        (30, "unit"),
        (0.5, "unit"),
        (1200, "4 times"),
        (1500, "5 times"),
        (2100, "7 times"),
        (0, "positive"),
        ("1800", "number"),
    ]:
        outcome = nb02.q3.evaluate(wrong)
        assert outcome.status == "incorrect", wrong
        assert says in outcome.message, outcome.message
        assert "1800" not in outcome.message.replace("'1800'", "")
        assert "1,800" not in outcome.message and "30 minutes" not in outcome.message
        assert "too small" not in outcome.message and "too large" not in outcome.message
    assert nb02.q3.evaluate(...).status == "not attempted"


# --- q4 ---------------------------------------------------------------------------------------

REDELIVERIES = pd.DataFrame(
    {
        "seq": [2, 5],
        "crashed_worker": ["crashes 1", "crashes 1"],
        "received_at": [0.021, 0.402],
        "crashed_at": [0.122, 0.503],
        "next_worker": ["succeeds 1", None],
        "redelivered_at": [1.027, float("nan")],
        "receive_count": [2, 0],
        "after_s": [1.006, float("nan")],
        "late_s": [0.006, float("nan")],
    }
)
Q4_RIGHT = 1.027 - 0.122  # 0.905 s


def test_q4_right_answer_reads_the_learners_own_run():
    outcome = nb02.q4.evaluate(Q4_RIGHT, REDELIVERIES)
    assert outcome.status == "correct", outcome.message
    assert "Message 2" in outcome.message
    assert nb02.q4.evaluate(0.905, REDELIVERIES).status == "correct"  # from the rounded table
    assert nb02.q4.evaluate(np.float64(0.906), REDELIVERIES).status == "correct"
    other = REDELIVERIES.assign(redelivered_at=[1.2, float("nan")])
    assert nb02.q4.evaluate(1.2 - 0.122, other).status == "correct"
    assert nb02.q4.evaluate(Q4_RIGHT, other).status == "incorrect"


def test_q4_the_first_row_that_came_back_counts():
    never_first = REDELIVERIES.iloc[::-1].reset_index(drop=True)  # the row that never came back
    assert nb02.q4.evaluate(Q4_RIGHT, never_first).status == "correct"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (1.006, "after_s"),
        (1, "visibility timeout itself"),
        (0.006, "late_s"),
        (0.101, "before it crashed"),
        (905, "milliseconds"),
        (0.5, "Which two columns"),
        (2.0, "Which two columns"),
    ],
)
def test_q4_wrong_answers_name_the_mistake(wrong, says):
    outcome = nb02.q4.evaluate(wrong, REDELIVERIES)
    assert outcome.status == "incorrect"
    assert says in outcome.message, outcome.message
    assert "0.905" not in outcome.message and "0.90" not in outcome.message
    assert "too small" not in outcome.message and "too large" not in outcome.message


def test_q4_needs_a_number_and_the_redeliveries():
    assert "second argument" in nb02.q4.evaluate(0.9).message
    assert "second argument" in nb02.q4.evaluate(0.9, pd.DataFrame({"seq": [1]})).message
    assert nb02.q4.evaluate("0.9", REDELIVERIES).status == "incorrect"
    assert nb02.q4.evaluate(..., REDELIVERIES).status == "not attempted"
    nothing_back = REDELIVERIES.iloc[1:]
    outcome = nb02.q4.evaluate(0.9, nothing_back)
    assert outcome.status == "incorrect" and "run section 2 again" in outcome.message


def test_every_exercise_has_a_hint_and_a_solution(capsys):
    for exercise in (nb02.q1, nb02.q2, nb02.q3, nb02.q4):
        exercise.hint()
        exercise.solution()
    printed = capsys.readouterr().out
    assert printed.count("Hint:") == 4 and printed.count("Solution:") == 4
