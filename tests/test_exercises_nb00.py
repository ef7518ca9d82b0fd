"""Every checker of notebook 00 with a right answer, a wrong answer and no answer."""

from __future__ import annotations

import pytest

import workshop
from workshop.exercises import nb00


@pytest.fixture
def connected(cloud, monkeypatch):
    """The package's current backend is the test's own participant on the test server."""
    monkeypatch.setattr(workshop, "_current", cloud)
    return cloud


def test_q1_right(connected):
    url = connected.create_queue("greetings", VisibilityTimeout=10)
    assert nb00.q1.evaluate(url).correct


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
def test_q1_wrong(connected, make, complaint):
    outcome = nb00.q1.evaluate(make(connected))
    assert outcome.status == "incorrect"
    assert complaint in outcome.message
    connected.client("sqs")  # the fixture's clean-up removes tagged queues; remove the rest
    for url in (
        connected.client("sqs").list_queues(QueueNamePrefix=connected.prefix).get("QueueUrls", [])
    ):
        connected.client("sqs").delete_queue(QueueUrl=url)


def test_q1_not_attempted(connected):
    assert nb00.q1.evaluate(...).status == "not attempted"


def test_q2():
    assert nb00.q2.evaluate(0.80).correct
    wrong = nb00.q2.evaluate(1.20)  # forgot the free tier
    assert wrong.status == "incorrect" and "0.8" not in wrong.message
    assert nb00.q2.evaluate(...).status == "not attempted"
