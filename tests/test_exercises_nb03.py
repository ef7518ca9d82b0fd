"""Every checker of notebook 03: a right answer passes, a wrong one fails without giving the
answer away, an untouched one is "not attempted", and no checker hangs or leaves a queue."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from conftest import no_check_threads_left

from workshop.exercises import nb01, nb03

# --- q1: an idempotent consumer ---------------------------------------------------------------


def receive_batches(sqs, queue_url):
    """Every batch in the queue, deleted as it comes, until a receive comes back empty."""
    while messages := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    ).get("Messages", []):
        yield messages
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )


def count_per_user(sqs, queue_url):
    counts, processed = {}, set()
    for messages in receive_batches(sqs, queue_url):
        for message in messages:
            if message["MessageId"] not in processed:
                user = json.loads(message["Body"])["user"]
                counts[user] = counts.get(user, 0) + 1
                processed.add(message["MessageId"])
    return counts


def by_upload_id(sqs, queue_url):
    counts, seen = {}, set()
    for messages in receive_batches(sqs, queue_url):
        for message in messages:
            upload = json.loads(message["Body"])
            if upload["upload_id"] not in seen:
                seen.add(upload["upload_id"])
                counts[upload["user"]] = counts.get(upload["user"], 0) + 1
    return counts


def naive(sqs, queue_url):
    counts = {}
    for messages in receive_batches(sqs, queue_url):
        for message in messages:
            user = json.loads(message["Body"])["user"]
            counts[user] = counts.get(user, 0) + 1
    return counts


def one_receive(sqs, queue_url):
    counts, processed = {}, set()
    for messages in receive_batches(sqs, queue_url):
        for message in messages:
            if message["MessageId"] not in processed:
                user = json.loads(message["Body"])["user"]
                counts[user] = counts.get(user, 0) + 1
                processed.add(message["MessageId"])
        return counts
    return counts


def never_deletes(sqs, queue_url):
    counts, processed = {}, set()
    while messages := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=60
    ).get("Messages", []):
        for message in messages:
            if message["MessageId"] not in processed:
                user = json.loads(message["Body"])["user"]
                counts[user] = counts.get(user, 0) + 1
                processed.add(message["MessageId"])
    return counts


def skips_too_much(sqs, queue_url):
    counts, users = {}, set()
    for messages in receive_batches(sqs, queue_url):
        for message in messages:
            user = json.loads(message["Body"])["user"]
            counts[user] = 1  # one per user: skips real uploads
            users.add(user)
    return counts


def returns_a_list(sqs, queue_url):
    return list(count_per_user(sqs, queue_url).items())


def short_polls(sqs, queue_url):
    """Right counts on the local backend, but it stops on an empty short poll: on AWS a short
    poll can come back empty while messages wait."""
    counts, processed = {}, set()
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        for message in messages:
            if message["MessageId"] not in processed:
                user = json.loads(message["Body"])["user"]
                counts[user] = counts.get(user, 0) + 1
                processed.add(message["MessageId"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return counts


def one_at_a_time(sqs, queue_url):
    """Long polls, but each receive asks for one message (the default)."""
    counts, processed = {}, set()
    while messages := sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get(
        "Messages", []
    ):
        for message in messages:
            if message["MessageId"] not in processed:
                user = json.loads(message["Body"])["user"]
                counts[user] = counts.get(user, 0) + 1
                processed.add(message["MessageId"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return counts


@pytest.mark.parametrize("right", [count_per_user, by_upload_id])
def test_q1_right_answers(current, right):
    outcome = nb03.q1.evaluate(right)
    assert outcome.status == "correct", outcome.message
    assert "were repeats" in outcome.message, "the check must have met duplicates"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (naive, "counted too often"),
        (one_receive, "Keep receiving"),
        (never_deletes, "never deleted"),
        (skips_too_much, "too rarely"),
        (returns_a_list, "Return a dict"),
        (short_polls, "empty short poll"),
        (one_at_a_time, "asked for one message"),
    ],
)
def test_q1_wrong_answers(current, wrong, says):
    outcome = nb03.q1.evaluate(wrong)
    assert outcome.status == "incorrect"
    assert says in outcome.message
    assert "MessageId" not in outcome.message and "processed" not in outcome.message


def test_q1_without_realism_mode_duplicates_come_from_the_client(current, monkeypatch):
    # The aws backend cannot be put in realism mode: the checker duplicates client-side.
    monkeypatch.setattr(current, "kind", "aws")
    monkeypatch.setattr(
        current, "set_sqs_realism", lambda *a, **k: pytest.fail("realism mode on aws")
    )
    assert nb03.q1.evaluate(count_per_user).status == "correct"
    outcome = nb03.q1.evaluate(naive)
    assert outcome.status == "incorrect" and "counted too often" in outcome.message


def test_the_duplicating_client_repeats_every_third_message(current):
    sqs = current.client("sqs")
    url = current.create_queue(f"dup-{uuid.uuid4().hex[:6]}")
    nb01.send_bodies(sqs, url, [str(i) for i in range(6)])
    client = nb03.Duplicating(sqs, every=3)
    bodies = []
    for messages in receive_batches(client, url):
        bodies.extend(m["Body"] for m in messages)
    assert len(bodies) == 8 and len(set(bodies)) == 6
    assert len(client.calls_to("receive_message")) >= 2
    sqs.delete_queue(QueueUrl=url)


class StrictFakeSqs:
    """Hands out numbered messages in batches; refuses to delete a receipt handle twice."""

    def __init__(self, messages: int):
        self.waiting = [
            {"MessageId": f"id-{i}", "ReceiptHandle": f"rh-{i}", "Body": str(i)}
            for i in range(messages)
        ]
        self.deleted: list[str] = []

    def receive_message(self, **params):
        batch = self.waiting[: params.get("MaxNumberOfMessages", 1)]
        self.waiting = self.waiting[len(batch) :]
        return {"Messages": batch} if batch else {}

    def delete_message_batch(self, **params):
        handles = [e["ReceiptHandle"] for e in params["Entries"]]
        assert handles, "an empty batch"
        assert not set(handles) & set(self.deleted), "deleted a receipt handle twice"
        self.deleted.extend(handles)
        return {"Successful": [{"Id": e["Id"]} for e in params["Entries"]]}

    def delete_message(self, **params):
        assert params["ReceiptHandle"] not in self.deleted, "deleted a receipt handle twice"
        self.deleted.append(params["ReceiptHandle"])
        return {}


def test_the_duplicating_client_answers_repeated_deletes_itself():
    fake = StrictFakeSqs(7)
    client = nb03.Duplicating(fake, every=2)
    got = []
    for messages in receive_batches(client, "queue"):
        assert len(messages) <= 10
        got.extend(m["MessageId"] for m in messages)
    assert len(got) == 7 + 3 and len(set(got)) == 7
    assert sorted(fake.deleted) == sorted(f"rh-{i}" for i in range(7))
    client.delete_message(QueueUrl="queue", ReceiptHandle="rh-0")  # a repeat's handle
    assert len(fake.deleted) == 7
    batches = client.calls_to("delete_message_batch")
    assert all(len(c.response["Successful"]) == len(c.params["Entries"]) for c in batches)


def test_q1_untouched_and_not_a_function(current):
    def count_per_user(sqs, queue_url):
        """Count uploads per user, each message once."""
        ...

    assert nb03.q1.evaluate(count_per_user).status == "not attempted"
    assert nb03.q1.evaluate(...).status == "not attempted"
    outcome = nb03.q1.evaluate({"ana": 3})
    assert outcome.status == "incorrect" and "function" in outcome.message


def test_q1_a_consumer_that_never_stops_fails_in_bounded_time(current, monkeypatch):
    monkeypatch.setattr(nb01, "TIME_LIMIT_SECONDS", 1.5)

    def forever(sqs, queue_url):
        while True:  # the checker deletes its queue, and then this call fails
            sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)
            time.sleep(0.05)

    started = time.monotonic()
    outcome = nb03.q1.evaluate(forever)
    assert time.monotonic() - started < 6
    assert outcome.status == "incorrect" and "did not return within" in outcome.message
    assert no_check_threads_left(), "the learner's loop kept running after the check"


# --- q2: message group ids --------------------------------------------------------------------


def test_q2_right_answer():
    outcome = nb03.q2.evaluate(lambda edit: edit["upload_id"])
    assert outcome.status == "correct", outcome.message


def test_q2_says_checking_once_however_many_edits(capsys):
    nb03.q2.check(lambda edit: edit["user"])
    printed = capsys.readouterr().out
    assert printed.count("Checking") == 1, printed
    assert "Not yet" in printed


def test_q2_counts_groups_in_words():
    message = nb03.q2.evaluate(lambda edit: "all-edits").message
    assert "share only 1 group:" in message
    assert "groups:" in nb03.q2.evaluate(lambda edit: edit["user"]).message


def test_q2_an_error_in_the_function_is_reported():
    outcome = nb03.q2.evaluate(lambda edit: edit["photo"])
    assert outcome.status == "incorrect" and "KeyError" in outcome.message


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (lambda edit: edit["user"], "share only"),
        (lambda edit: "all-edits", "share only"),
        (lambda edit: edit["edit_id"], "different groups"),
        (lambda edit: uuid.uuid4().hex, "different ids"),
        (lambda edit: len(edit["upload_id"]), "string of 1 to 128"),
        (lambda edit: "", "string of 1 to 128"),
        (lambda edit: "photo " + edit["upload_id"], "string of 1 to 128"),  # no spaces
    ],
)
def test_q2_wrong_answers(wrong, says):
    outcome = nb03.q2.evaluate(wrong)
    assert outcome.status == "incorrect"
    assert says in outcome.message
    assert "upload_id" not in outcome.message


def test_q2_untouched_and_not_a_function():
    def group_id(edit): ...

    assert nb03.q2.evaluate(group_id).status == "not attempted"
    assert nb03.q2.evaluate("upload_id").status == "incorrect"


def test_the_scenario_has_three_edits_per_photo_interleaved():
    edits = nb03.edit_events(photos=4)
    assert len(edits) == 12
    assert [e["action"] for e in edits[:4]] == ["crop"] * 4
    assert len({e["edit_id"] for e in edits}) == 12


# --- q3: a prediction, checked by a run --------------------------------------------------------

MEASURED = 3.13  # what a run with a 3 s visibility timeout typically measures


@pytest.fixture
def measured(monkeypatch):
    """The checker's measurement, without the 4 s run."""
    monkeypatch.setattr(nb03, "_measure_crashed_wait", lambda: MEASURED)


def test_q3_runs_the_experiment_once_and_deletes_its_queue(current, monkeypatch):
    monkeypatch.setattr(nb03, "_q3_measured", [])
    started = time.monotonic()
    outcome = nb03.q3.evaluate(3)
    assert outcome.status == "correct", outcome.message
    assert nb03.Q3_VISIBILITY_TIMEOUT <= nb03._q3_measured[0][1] < 3.6
    assert 3 <= time.monotonic() - started < 8
    started = time.monotonic()
    assert nb03.q3.evaluate(1.0).status == "incorrect"
    assert time.monotonic() - started < 1, "a second check reuses the measurement"
    assert no_check_threads_left()


@pytest.mark.parametrize("right", [3, 3.0, 2.9, 3.13, 3.3])
def test_q3_right_answers(measured, right):
    outcome = nb03.q3.evaluate(right)
    assert outcome.status == "correct", outcome.message
    assert "3.13" in outcome.message, "a right prediction is shown the measurement"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (0, "cannot be handed out"),
        (0.2, "cannot be handed out"),
        (1.0, "slow worker"),
        (2.0, "2 s visibility timeout"),
        (2.13, "2 s visibility timeout"),
        (30, "default visibility timeout"),
        (6, "once, not twice"),
        (4.5, "Not what the run measured"),
        (12, "Not what the run measured"),
    ],
)
def test_q3_wrong_answers(measured, wrong, says):
    outcome = nb03.q3.evaluate(wrong)
    assert outcome.status == "incorrect"
    assert says in outcome.message
    assert "3.1" not in outcome.message and "too" not in outcome.message


def test_q3_needs_a_number_before_it_measures(monkeypatch):
    monkeypatch.setattr(
        nb03, "_measure_crashed_wait", lambda: pytest.fail("measured for a non-answer")
    )
    assert nb03.q3.evaluate(...).status == "not attempted"
    for wrong in ("three", True, float("nan"), -1):
        assert nb03.q3.evaluate(wrong).status == "incorrect"


# --- q4: deduplication --------------------------------------------------------------------------


def test_q4_right_wrong_and_untouched():
    import numpy as np

    assert nb03.q4.evaluate(3).status == "correct"
    assert nb03.q4.evaluate(np.int64(3)).status == "correct"
    for wrong in (0, 1, 2, 4, 5, 6, -1, 2.5, float("inf"), "three"):
        outcome = nb03.q4.evaluate(wrong)
        assert outcome.status == "incorrect", wrong
        assert "3" not in outcome.message
        assert "too small" not in outcome.message and "too large" not in outcome.message
    assert nb03.q4.evaluate(...).status == "not attempted"


@pytest.mark.parametrize(
    ("wrong", "says"),
    [(2, "explicit id or the hash"), (4, "send 5"), (5, "Work out each send's id")],
)
def test_q4_feedback_names_the_likely_slip(wrong, says):
    assert says in nb03.q4.evaluate(wrong).message


def test_every_exercise_has_a_hint_and_a_solution(capsys):
    for exercise in (nb03.q1, nb03.q2, nb03.q3, nb03.q4):
        exercise.hint()
        exercise.solution()
    printed = capsys.readouterr().out
    assert printed.count("Hint:") == 4 and printed.count("Solution:") == 4
