"""Every checker of notebook 00 with a right answer, a wrong answer and no answer."""

from __future__ import annotations

import pytest

from workshop.exercises import nb00


def test_q1_right(current):
    url = current.create_queue("greetings", VisibilityTimeout=10)
    assert nb00.q1.evaluate(url).correct
    current.client("sqs").delete_queue(QueueUrl=url)  # the learner's queue, not a checker's


@pytest.mark.parametrize(
    ("make", "complaint"),
    [
        (lambda c: c.create_queue("greetings", VisibilityTimeout=30), "visibility timeout"),
        (lambda c: c.create_queue("hello", VisibilityTimeout=10), "is called"),
        (
            lambda c: c.client("sqs").create_queue(
                QueueName=c.name("greetings"), Attributes={"VisibilityTimeout": "10"}
            )["QueueUrl"],
            "tag",
        ),
        (lambda c: "not a url", "queue URL"),
        (lambda c: c.create_queue("greetings", VisibilityTimeout=10) + "-gone", "No such queue"),
    ],
)
def test_q1_wrong(current, make, complaint):
    outcome = nb00.q1.evaluate(make(current))
    assert outcome.status == "incorrect"
    assert complaint in outcome.message
    current.client("sqs")  # the fixture's clean-up removes tagged queues; remove the rest
    for url in (
        current.client("sqs").list_queues(QueueNamePrefix=current.prefix).get("QueueUrls", [])
    ):
        current.client("sqs").delete_queue(QueueUrl=url)


def test_q1_not_attempted(current):
    assert nb00.q1.evaluate(...).status == "not attempted"


@pytest.mark.parametrize(
    ("answer", "feedback"),
    [
        (1.20, "first million each month are free"),
        (0.0000008, "per million"),
        (800_000, "per million"),
        (5, "too much"),
        (0.1, "too little"),
        ("0.8", "Expected a number"),
    ],
)
def test_q2_wrong(answer, feedback):
    outcome = nb00.q2.evaluate(answer)
    assert outcome.status == "incorrect"
    assert feedback in outcome.message and "0.8" not in outcome.message.replace("$0.8", "")


def test_q2_right_and_not_attempted():
    assert nb00.q2.evaluate(0.80).correct
    assert nb00.q2.evaluate(0.8).correct
    assert nb00.q2.evaluate(...).status == "not attempted"
