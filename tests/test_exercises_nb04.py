"""Every checker of notebook 04: a right answer passes, a wrong one fails without giving the
answer away, an untouched one is "not attempted", and no checker hangs or leaves a queue."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from conftest import no_check_threads_left

from workshop.exercises import nb04

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


def name_for_arn(sqs, queue_url, dlq_url, max_receive_count):
    policy = {"deadLetterTargetArn": dlq_url.rsplit("/", 1)[-1], "maxReceiveCount": 4}
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
        (url_for_arn, "needs the DLQ's ARN (arn:aws:sqs:…), not its URL"),
        (name_for_arn, "needs the DLQ's ARN (arn:aws:sqs:…), not 'ws-"),
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


@pytest.mark.parametrize("right", [6, np.int64(6), 6.0, np.float64(6.0)])
def test_q2_right_answers(right):
    outcome = nb04.q2.evaluate(right)
    assert outcome.status == "correct", outcome.message


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (5, "counts the receives that return the message"),
        (4, "section 2's run"),
        (3, "section 2's run"),
        (2, "more often than 2 times"),
        (0, "more often than 0 times"),
        (10, "empty receive after every failure"),
        (11, "empty receive after every failure"),
        (7, "Count only up to the call during which the message moves"),
        (9, "Count only up to the call during which the message moves"),
        (40, "Count only up to the call during which the message moves"),
    ],
)
def test_q2_wrong_answers_name_the_mistake_not_the_answer(wrong, says):
    outcome = nb04.q2.evaluate(wrong)
    assert outcome.status == "incorrect"
    assert says in outcome.message
    assert "6" not in outcome.message
    assert "too small" not in outcome.message and "too large" not in outcome.message


def test_q2_needs_a_whole_number():
    assert "whole number of ReceiveMessage calls" in nb04.q2.evaluate("6").message
    assert nb04.q2.evaluate(True).status == "incorrect"
    assert "whole number" in nb04.q2.evaluate(6.5).message


def test_q2_untouched():
    assert nb04.q2.evaluate(...).status == "not attempted"


def test_q2_answer_is_what_the_experiment_measures(cloud):
    """The prediction the checker wants is what follow_poison does with those settings."""
    from workshop.experiments import dead_letters

    run = dead_letters.follow_poison(
        cloud,
        max_receive_count=nb04.Q2_MAX_RECEIVE_COUNT,
        retry_pause=nb04.Q2_RETRY_PAUSE,
        progress=False,
    )
    try:
        assert len(run.receives) == nb04.Q2_CALLS
        assert nb04.q2.evaluate(len(run.receives)).status == "correct"
    finally:
        cloud.cleanup(quiet=True)


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
    assert "polling loop" in outcome.message
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
