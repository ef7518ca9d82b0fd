"""Every checker of notebook 04: a right answer passes, a wrong one fails without giving the
answer away, an untouched one is "not attempted", and no checker hangs or leaves a queue."""

from __future__ import annotations

import json
import threading
import time

import pandas as pd
import pytest
from conftest import no_check_threads_left

from workshop.exercises import nb04
from workshop.experiments.dead_letters import PoisonResult, QueuePair

# --- q1 ---------------------------------------------------------------------------------------


def attach_dlq(sqs, queue_url, dlq_url, max_receive_count):
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"RedrivePolicy": json.dumps(policy)})


def attach_dlq_with_a_string_count(sqs, queue_url, dlq_url, max_receive_count):
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"RedrivePolicy": json.dumps(policy)})


def does_nothing(sqs, queue_url, dlq_url, max_receive_count):
    sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])


def on_the_dlq(sqs, queue_url, dlq_url, max_receive_count):
    attach_dlq(sqs, dlq_url, queue_url, max_receive_count)


def fixed_count(sqs, queue_url, dlq_url, max_receive_count):
    attach_dlq(sqs, queue_url, dlq_url, 3)


def url_for_arn(sqs, queue_url, dlq_url, max_receive_count):
    policy = {"deadLetterTargetArn": dlq_url, "maxReceiveCount": max_receive_count}
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"RedrivePolicy": json.dumps(policy)})


def a_dict_not_json(sqs, queue_url, dlq_url, max_receive_count):
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"RedrivePolicy": policy})


@pytest.mark.parametrize("right", [attach_dlq, attach_dlq_with_a_string_count])
def test_q1_right_answers(current, right):
    outcome = nb04.q1.evaluate(right)
    assert outcome.status == "correct", outcome.message


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (does_nothing, "no RedrivePolicy"),
        (on_the_dlq, "dead-letter queue itself"),
        (fixed_count, "maxReceiveCount is 3"),
        (url_for_arn, "`attach_dlq` raised"),
        (a_dict_not_json, "raised ParamValidationError"),
    ],
)
def test_q1_wrong_answers(current, wrong, says):
    outcome = nb04.q1.evaluate(wrong)
    assert outcome.status == "incorrect"
    assert says in outcome.message
    assert "json.dumps(policy)" not in outcome.message
    assert "maxReceiveCount is 4" not in outcome.message


def test_q1_untouched_and_not_a_function(current):
    def attach_dlq(sqs, queue_url, dlq_url, max_receive_count):
        """Give queue_url a redrive policy."""
        ...

    assert nb04.q1.evaluate(attach_dlq).status == "not attempted"
    assert nb04.q1.evaluate(...).status == "not attempted"
    outcome = nb04.q1.evaluate("attach_dlq")
    assert outcome.status == "incorrect" and "function" in outcome.message


# --- q2 ---------------------------------------------------------------------------------------

PAIR = QueuePair("src", "dlq", "arn:src", "arn:dlq", max_receive_count=3, visibility_timeout=1)


def measured(moved_at: float = 4.6) -> PoisonResult:
    receives = pd.DataFrame(
        {
            "start": [0.0, 1.5, 3.0, 4.5],
            "end": [0.01, 1.51, 3.01, 5.5],
            "got": [True, True, True, False],
            "receive_count": pd.array([1, 2, 3, None], dtype="Int64"),
        }
    )
    samples = pd.DataFrame(
        {
            "t": [0.0, 4.1, 4.6],
            "source_visible": [0, 1, 0],
            "source_in_flight": [1, 0, 0],
            "dlq_visible": [0, 0, 1],
        }
    )
    return PoisonResult(PAIR, receives, samples, moved_at, 5.6)


def test_q2_right_answer():
    outcome = nb04.q2.evaluate(3, measured())
    assert outcome.status == "correct", outcome.message


def test_q2_reads_the_learners_own_measurement():
    mine = measured(moved_at=6.1)
    mine.receives.loc[3, ["got", "receive_count"]] = [True, 4]
    mine.receives.loc[4] = [6.0, 7.0, False, pd.NA]
    assert nb04.q2.evaluate(4, mine).status == "correct"
    assert nb04.q2.evaluate(3, mine).status == "incorrect"


@pytest.mark.parametrize(("wrong", "says"), [(4, "too many"), (2, "too few"), (0, "too few")])
def test_q2_wrong_answers(wrong, says):
    outcome = nb04.q2.evaluate(wrong, measured())
    assert outcome.status == "incorrect"
    assert says in outcome.message
    assert " 3" not in outcome.message


def test_q2_needs_a_number_and_the_measurement():
    assert "second argument" in nb04.q2.evaluate(3).message
    assert nb04.q2.evaluate("3", measured()).status == "incorrect"
    assert nb04.q2.evaluate(3.0, measured()).status == "incorrect"
    assert "never reached" in nb04.q2.evaluate(3, measured(moved_at=float("nan"))).message


def test_q2_untouched():
    assert nb04.q2.evaluate(..., measured()).status == "not attempted"


# --- q3 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("right", [11 * 86_400, 14 * 86_400, 1_000_000, 1_209_600.0])
def test_q3_right_answers(right):
    outcome = nb04.q3.evaluate(right)
    assert outcome.status == "correct", outcome.message


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (345_600, "about 0.0 days left"),
        (7 * 86_400, "about 3.0 days left"),
        (10 * 86_400, "about 6.0 days left"),
        (15 * 86_400, "refuses"),
        (30, "refuses"),
        (1_000_000.5, "whole number"),
        ("14 days", "number of seconds"),
    ],
)
def test_q3_wrong_answers(wrong, says):
    outcome = nb04.q3.evaluate(wrong)
    assert outcome.status == "incorrect"
    assert says in outcome.message
    for answer in ("950,400", "950400", "1,209,600", "1209600", "11 days", "14 days"):
        assert answer not in outcome.message


def test_q3_untouched():
    assert nb04.q3.evaluate(...).status == "not attempted"


# --- q4 ---------------------------------------------------------------------------------------


def redrive_all(sqs, dlq_arn):
    sqs.start_message_move_task(SourceArn=dlq_arn)
    end = time.monotonic() + 15
    while time.monotonic() < end:
        task = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1)["Results"][0]
        if task["Status"] in ("COMPLETED", "CANCELLED", "FAILED"):
            return task["ApproximateNumberOfMessagesMoved"]
        time.sleep(0.2)
    raise TimeoutError("the move task did not finish in 15 s")


def slow_but_right(sqs, dlq_arn):
    sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=10)
    while True:
        task = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]
        if task["Status"] != "RUNNING":
            return task["ApproximateNumberOfMessagesMoved"]
        time.sleep(0.1)


def does_not_wait(sqs, dlq_arn):
    sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=2)
    return sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0][
        "ApproximateNumberOfMessagesMoved"
    ]


def never_starts(sqs, dlq_arn):
    return 0


def returns_nothing(sqs, dlq_arn):
    redrive_all(sqs, dlq_arn)


def cancels(sqs, dlq_arn):
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1)
    time.sleep(0.2)
    sqs.cancel_message_move_task(TaskHandle=handle["TaskHandle"])
    return redrive_wait(sqs, dlq_arn)


def redrive_wait(sqs, dlq_arn):
    while True:
        task = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]
        if task["Status"] not in ("RUNNING", "CANCELLING"):
            return task["ApproximateNumberOfMessagesMoved"]
        time.sleep(0.1)


def elsewhere(sqs, dlq_arn):
    url = sqs.create_queue(QueueName=dlq_arn.rsplit(":", 1)[-1] + "-other")["QueueUrl"]
    try:
        other = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=other)
        return redrive_wait(sqs, dlq_arn)
    finally:
        sqs.delete_queue(QueueUrl=url)


@pytest.mark.parametrize("right", [redrive_all, slow_but_right])
def test_q4_right_answers(current, right):
    outcome = nb04.q4.evaluate(right)
    assert outcome.status == "correct", outcome.message


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (does_not_wait, "before the task had finished"),
        (never_starts, "never called start_message_move_task"),
        (returns_nothing, "returned None"),
        (cancels, "CANCELLED"),
        (elsewhere, "somewhere other than their source"),
    ],
)
def test_q4_wrong_answers(current, wrong, says):
    outcome = nb04.q4.evaluate(wrong)
    assert outcome.status == "incorrect"
    assert says in outcome.message
    assert "time.sleep(0.2)" not in outcome.message


def test_q4_a_function_that_never_returns_fails_in_bounded_time(current, monkeypatch):
    release = threading.Event()

    def forever(sqs, dlq_arn):
        while not release.is_set():  # a loop with no way out, until the test lets it go
            sqs.list_message_move_tasks(SourceArn=dlq_arn)
            release.wait(0.05)

    monkeypatch.setattr(nb04, "run_bounded", _short(nb04.run_bounded))
    started = time.monotonic()
    try:
        outcome = nb04.q4.evaluate(forever)
    finally:
        release.set()
    assert time.monotonic() - started < 10
    assert outcome.status == "incorrect" and "did not return within" in outcome.message
    assert no_check_threads_left()


def _short(run_bounded):
    def bounded(function, args, name, seconds=None):
        return run_bounded(function, args, name, 1.5)

    return bounded


def test_q4_untouched_and_not_a_function(current):
    def redrive_all(sqs, dlq_arn): ...

    assert nb04.q4.evaluate(redrive_all).status == "not attempted"
    assert nb04.q4.evaluate(3).status == "incorrect"


def test_every_exercise_has_a_hint_and_a_solution(capsys):
    for exercise in (nb04.q1, nb04.q2, nb04.q3, nb04.q4):
        exercise.hint()
        exercise.solution()
    printed = capsys.readouterr().out
    assert printed.count("Hint:") == 4 and printed.count("Solution:") == 4
