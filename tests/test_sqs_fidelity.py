"""What the local backend adds to moto so SQS behaves as on AWS: prompt redelivery, the FIFO
deduplication window, message move tasks, and the opt-in realism of standard queues."""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError


def receive_one(sqs, url: str, wait: int = 5, **extra) -> dict | None:
    messages = sqs.receive_message(
        QueueUrl=url, WaitTimeSeconds=wait, MessageSystemAttributeNames=["All"], **extra
    ).get("Messages", [])
    return messages[0] if messages else None


# --- long polling and redelivery -----------------------------------------------------------


def test_a_long_poll_returns_as_soon_as_a_message_is_sent(cloud, sqs):
    import threading

    url = cloud.create_queue("prompt")
    timer = threading.Timer(0.3, lambda: sqs.send_message(QueueUrl=url, MessageBody="hi"))
    start = time.monotonic()
    timer.start()
    try:
        message = receive_one(sqs, url, wait=5)
    finally:
        timer.join()
    assert message is not None and message["Body"] == "hi"
    assert 0.25 < time.monotonic() - start < 0.8


def test_a_long_poll_waits_its_whole_wait_time_when_nothing_comes(cloud, sqs):
    url = cloud.create_queue("idle")
    start = time.monotonic()
    assert receive_one(sqs, url, wait=1) is None
    assert 0.95 < time.monotonic() - start < 1.6


def test_an_expired_message_is_redelivered_promptly_to_a_waiting_long_poll(cloud, sqs):
    """moto alone rechecks visibility about once a second; the local cloud wakes on time."""
    url = cloud.create_queue("redeliver", VisibilityTimeout=1)
    lateness = []
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
        first = receive_one(sqs, url)
        received = time.monotonic()
        again = receive_one(sqs, url, wait=5)
        lateness.append(time.monotonic() - received - 1.0)
        assert again is not None and again["MessageId"] == first["MessageId"]
        assert again["Attributes"]["ApproximateReceiveCount"] == "2"
        sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
    assert max(lateness) < 0.25, lateness
    assert min(lateness) > -0.05, lateness  # never early


def test_the_queue_default_wait_time_applies(cloud, sqs):
    url = cloud.create_queue("default-wait", ReceiveMessageWaitTimeSeconds=1)
    start = time.monotonic()
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    assert time.monotonic() - start > 0.95


# --- FIFO deduplication window ---------------------------------------------------------------


def test_fifo_deduplicates_for_five_minutes_even_after_the_first_copy_is_deleted(cloud, sqs):
    url = cloud.create_queue("dedup", fifo=True, ContentBasedDeduplication=True)
    first = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    message = receive_one(sqs, url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    again = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    assert again["MessageId"] == first["MessageId"]  # acknowledged as the first copy
    assert receive_one(sqs, url, wait=1) is None  # and not delivered again
    other = sqs.send_message(QueueUrl=url, MessageBody="different", MessageGroupId="g")
    assert other["MessageId"] != first["MessageId"]


def test_fifo_explicit_deduplication_id_wins_and_batches_deduplicate_too(cloud, sqs):
    url = cloud.create_queue("dedup-id", fifo=True)
    sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="x")
    batch = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "dup", "MessageBody": "b", "MessageGroupId": "g", "MessageDeduplicationId": "x"},
            {"Id": "new", "MessageBody": "c", "MessageGroupId": "g", "MessageDeduplicationId": "y"},
        ],
    )
    assert sorted(e["Id"] for e in batch["Successful"]) == ["dup", "new"]
    bodies = []
    for _ in range(3):
        message = receive_one(sqs, url, wait=1)
        if message is None:
            break
        bodies.append(message["Body"])
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert bodies == ["a", "c"]


def test_a_batch_repeating_a_deduplication_id_enqueues_it_once(cloud, sqs):
    url = cloud.create_queue("dedup-batch", fifo=True)
    entries = [
        {"Id": "1", "MessageBody": "a", "MessageGroupId": "g", "MessageDeduplicationId": "d1"},
        {"Id": "2", "MessageBody": "b", "MessageGroupId": "g", "MessageDeduplicationId": "d1"},
        {"Id": "3", "MessageBody": "c", "MessageGroupId": "g", "MessageDeduplicationId": "d2"},
    ]
    first = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert [e["Id"] for e in first["Successful"]] == ["1", "2", "3"] and not first.get("Failed")
    ids = [e["MessageId"] for e in first["Successful"]]
    assert ids[0] == ids[1] != ids[2]
    again = sqs.send_message_batch(QueueUrl=url, Entries=entries)  # all three are repeats now
    assert [e["MessageId"] for e in again["Successful"]] == ids
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in received] == ["a", "c"]


def test_simultaneous_copies_of_a_fifo_message_are_enqueued_once(cloud, sqs):
    url = cloud.create_queue("dedup-race", fifo=True)
    answers: list[str] = []

    def send() -> None:
        answers.append(
            sqs.send_message(
                QueueUrl=url, MessageBody="same", MessageGroupId="g", MessageDeduplicationId="d"
            )["MessageId"]
        )

    threads = [threading.Thread(target=send) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(answers) == 12 and len(set(answers)) == 1, "every copy gets the first's answer"
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert counts["Attributes"]["ApproximateNumberOfMessages"] == "1"


def test_group_scoped_deduplication_keeps_one_id_in_two_groups_and_its_dlq_too(cloud, sqs):
    """With DeduplicationScope=messageGroup one id may be used in two groups; both messages
    stay, also when both move to the FIFO dead-letter queue."""
    dlq = cloud.create_queue("scoped-dlq", fifo=True)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = cloud.create_queue(
        "scoped",
        fifo=True,
        DeduplicationScope="messageGroup",
        FifoThroughputLimit="perMessageGroupId",
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}),
    )
    for group in ("g1", "g2"):
        sqs.send_message(
            QueueUrl=url, MessageBody=group, MessageGroupId=group, MessageDeduplicationId="same"
        )
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert sorted(m["Body"] for m in got["Messages"]) == ["g1", "g2"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    moved = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=2)
    assert sorted(m["Body"] for m in moved.get("Messages", [])) == ["g1", "g2"]


# --- message move tasks --------------------------------------------------------------------


def test_every_fifo_message_gets_an_increasing_sequence_number(cloud, sqs):
    url = cloud.create_queue("numbered", fifo=True, ContentBasedDeduplication="true")
    numbers = [
        sqs.send_message(QueueUrl=url, MessageBody="0", MessageGroupId="g")["SequenceNumber"],
        sqs.send_message(
            QueueUrl=url, MessageBody="1", MessageGroupId="g", MessageDeduplicationId="d1"
        )["SequenceNumber"],
    ]
    batch = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(n), "MessageBody": str(n), "MessageGroupId": "g"} for n in (2, 3)],
    )
    numbers += [entry["SequenceNumber"] for entry in batch["Successful"]]
    assert all(len(n) == 20 and n.isdigit() for n in numbers), numbers
    assert [int(n) for n in numbers] == sorted(int(n) for n in numbers)
    assert len(set(numbers)) == 4
    # a duplicate within the window is answered with the first copy's number
    again = sqs.send_message(QueueUrl=url, MessageBody="0", MessageGroupId="g")
    assert again["SequenceNumber"] == numbers[0]
    received = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["SequenceNumber"]
    )["Messages"]
    assert [m["Attributes"]["SequenceNumber"] for m in received] == numbers


def test_a_fifo_group_comes_back_in_order_after_its_visibility_timeout(cloud, sqs):
    url = cloud.create_queue("fifo-order", fifo=True)
    for n in range(3):
        sqs.send_message(
            QueueUrl=url, MessageBody=str(n), MessageGroupId="g", MessageDeduplicationId=str(n)
        )
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1)
    assert [m["Body"] for m in first["Messages"]] == ["0", "1", "2"]
    time.sleep(1.2)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
    assert [m["Body"] for m in again["Messages"]] == ["0", "1", "2"]


def test_the_messages_of_one_receive_come_back_together(cloud, sqs):
    """One receive, one visibility deadline: a long poll waiting for the timeout to end gets
    the whole batch again, not the first message alone (moto stamps each message separately,
    and copying messages with many attributes takes long enough to split the batch)."""
    url = cloud.create_queue("together", VisibilityTimeout=1)
    attributes = {
        f"a{n}": {"DataType": "Binary", "BinaryValue": bytes(range(256)) * 8} for n in range(10)
    }
    entries = [
        {"Id": str(n), "MessageBody": str(n), "MessageAttributes": attributes} for n in range(10)
    ]
    sqs.send_message_batch(QueueUrl=url, Entries=entries)
    batch = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    assert len(batch) == 10
    for _ in range(3):  # each time the whole batch times out and comes back in one receive
        again = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=3, MessageAttributeNames=["All"]
        )["Messages"]
        assert sorted(m["Body"] for m in again) == sorted(m["Body"] for m in batch)
        batch = again


def test_quick_counts_follow_moto_s_own_rules(cloud, sqs):
    """The local cloud counts messages with one clock reading (sends stay fast as a queue
    fills); the counts must be what moto's per-message checks give."""
    from moto.sqs.models import sqs_backends

    url = cloud.create_queue("counts")
    for n in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=str(n))
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"later {n}", DelaySeconds=60)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=60)
    queue = sqs_backends["123456789012"]["us-east-1"].queues[url.rsplit("/", 1)[-1]]
    every = list(queue._messages)
    assert queue.messages == [m for m in every if m.visible and not m.delayed]
    assert queue.approximate_number_of_messages_not_visible == sum(not m.visible for m in every)
    assert queue.approximate_number_of_messages_delayed == sum(m.delayed for m in every)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (
        counts["ApproximateNumberOfMessages"],
        counts["ApproximateNumberOfMessagesNotVisible"],
        counts["ApproximateNumberOfMessagesDelayed"],
    ) == ("3", "2", "3")


def test_concurrent_receives_never_share_a_message(cloud, sqs):
    url = cloud.create_queue("no-share")
    for start in range(0, 200, 10):
        entries = [{"Id": str(n), "MessageBody": str(n)} for n in range(start, start + 10)]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    got: list[str] = []

    def consume():
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages")
            if not messages:
                return
            got.extend(m["Body"] for m in messages)

    threads = [threading.Thread(target=consume) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(got, key=int) == [str(n) for n in range(200)]


@pytest.fixture
def redrive(cloud, sqs):
    """A source queue whose failures go to a DLQ after one receive, and 20 messages in the DLQ."""
    dlq = cloud.create_queue("dlq")
    dlq_arn = arn_of(sqs, dlq)
    source = cloud.create_queue(
        "work",
        VisibilityTimeout=0,
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}),
    )
    sqs.send_message_batch(
        QueueUrl=source, Entries=[{"Id": str(i), "MessageBody": f"job {i}"} for i in range(10)]
    )
    sqs.send_message_batch(
        QueueUrl=source, Entries=[{"Id": str(i), "MessageBody": f"job {i}"} for i in range(10, 20)]
    )
    deadline = time.monotonic() + 10
    while visible(sqs, dlq) < 20 and time.monotonic() < deadline:
        sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)  # fail them all
    assert visible(sqs, dlq) == 20
    return source, dlq, dlq_arn


def arn_of(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


def visible(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def wait_for_status(sqs, arn: str, status: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = sqs.list_message_move_tasks(SourceArn=arn)["Results"][0]
        if task["Status"] == status:
            return task
        time.sleep(0.05)
    raise AssertionError(f"task never reached {status}: {task}")


def test_a_move_task_returns_dlq_messages_to_their_source_at_the_rate_asked(sqs, redrive):
    source, dlq, dlq_arn = redrive
    start = time.monotonic()
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=50)
    assert handle["TaskHandle"]
    running = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]
    assert running["Status"] == "RUNNING" and running["TaskHandle"] == handle["TaskHandle"]
    assert running["ApproximateNumberOfMessagesToMove"] == 20
    done = wait_for_status(sqs, dlq_arn, "COMPLETED")
    elapsed = time.monotonic() - start
    assert done["ApproximateNumberOfMessagesMoved"] == 20
    assert "TaskHandle" not in done
    assert elapsed >= 19 / 50  # 20 moves at most 50 a second
    assert visible(sqs, dlq) == 0 and visible(sqs, source) == 20


def test_only_one_active_task_per_source_and_cancel(sqs, redrive):
    _, dlq, dlq_arn = redrive
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=2)
    with pytest.raises(ClientError) as second:
        sqs.start_message_move_task(SourceArn=dlq_arn)
    assert second.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "Only one active task" in second.value.response["Error"]["Message"]
    time.sleep(0.6)
    cancelled = sqs.cancel_message_move_task(TaskHandle=handle["TaskHandle"])
    assert 1 <= cancelled["ApproximateNumberOfMessagesMoved"] <= 3
    final = wait_for_status(sqs, dlq_arn, "CANCELLED")
    assert final["ApproximateNumberOfMessagesMoved"] - cancelled[
        "ApproximateNumberOfMessagesMoved"
    ] in (0, 1)  # a move under way when the cancel came still finishes
    assert visible(sqs, dlq) == 20 - final["ApproximateNumberOfMessagesMoved"]
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        sqs.cancel_message_move_task(TaskHandle=handle["TaskHandle"])
    # a finished task frees the source for a new one; tasks list newest first
    sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=500)
    wait_for_status(sqs, dlq_arn, "COMPLETED")
    statuses = [
        t["Status"]
        for t in sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
    ]
    assert statuses == ["COMPLETED", "CANCELLED"]


def test_a_move_task_needs_a_dead_letter_queue_and_a_valid_rate(cloud, sqs, redrive):
    plain = arn_of(sqs, cloud.create_queue("not-a-dlq"))
    with pytest.raises(ClientError) as refused:
        sqs.start_message_move_task(SourceArn=plain)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "Dead Letter Queue" in refused.value.response["Error"]["Message"]
    _, _, dlq_arn = redrive
    for rate in (0, 501):
        with pytest.raises(ClientError, match="MaxNumberOfMessagesPerSecond"):
            sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=rate)
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        sqs.start_message_move_task(SourceArn=dlq_arn.replace("dlq", "nowhere"))
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        sqs.list_message_move_tasks(SourceArn=dlq_arn.replace("dlq", "nowhere"))


def test_a_dead_letter_queue_must_be_of_the_source_queue_type(cloud, sqs):
    fifo_dlq = arn_of(sqs, cloud.create_queue("fifo-dlq", fifo=True))
    standard_dlq = arn_of(sqs, cloud.create_queue("standard-dlq"))
    for base, fifo, target in (("std", False, fifo_dlq), ("ff", True, standard_dlq)):
        policy = json.dumps({"deadLetterTargetArn": target, "maxReceiveCount": 2})
        with pytest.raises(ClientError) as refused:
            cloud.create_queue(base, fifo=fifo, RedrivePolicy=policy)
        assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
        assert "same as the source queue type" in refused.value.response["Error"]["Message"]
    policy = json.dumps({"deadLetterTargetArn": standard_dlq, "maxReceiveCount": 2})
    url = cloud.create_queue("matching", RedrivePolicy=policy)
    fifo_url = cloud.create_queue("later", fifo=True)
    with pytest.raises(ClientError, match="same as the source queue type"):
        sqs.set_queue_attributes(QueueUrl=fifo_url, Attributes={"RedrivePolicy": policy})
    assert url


def test_a_move_task_to_an_explicit_destination(cloud, sqs, redrive):
    _, _dlq, dlq_arn = redrive
    elsewhere = cloud.create_queue("elsewhere")
    sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=arn_of(sqs, elsewhere))
    wait_for_status(sqs, dlq_arn, "COMPLETED")
    assert visible(sqs, elsewhere) == 20


def test_a_move_the_destination_refuses_fails_the_task_and_keeps_the_messages(cloud, sqs, redrive):
    _, dlq, dlq_arn = redrive
    fifo = cloud.create_queue("refusing", fifo=True)  # standard messages have no group id
    sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=arn_of(sqs, fifo))
    task = wait_for_status(sqs, dlq_arn, "FAILED")
    assert "MessageGroupId" in task["FailureReason"]
    assert visible(sqs, dlq) == 20 and visible(sqs, fifo) == 0
    sqs.start_message_move_task(SourceArn=dlq_arn)  # the failed task no longer blocks the queue
    wait_for_status(sqs, dlq_arn, "COMPLETED")


def test_a_fifo_queue_made_again_after_a_delete_has_a_fresh_deduplication_window(
    cloud, sqs, server, monkeypatch
):
    # Skip the 60 s before a deleted queue's name may be used again.
    monkeypatch.setattr(server.gateway.sqs.deleted_queues, "record", lambda *args: None)
    url = cloud.create_queue("again", fifo=True)
    send = dict(MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d")
    sqs.send_message(QueueUrl=url, **send)
    sqs.delete_queue(QueueUrl=url)
    url = cloud.create_queue("again", fifo=True)
    sqs.send_message(QueueUrl=url, **send)
    assert visible(sqs, url) == 1


# --- realism of standard queues ------------------------------------------------------------


def drain(sqs, url: str, expected_distinct: int, timeout: float = 20) -> list[dict]:
    """Receive and delete until every distinct message was seen and the queue stays empty."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not batch and len({m["MessageId"] for m in seen}) >= expected_distinct:
            break
        if batch:
            seen += batch
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
                ],
            )
    return seen


def send(sqs, url: str, n: int) -> None:
    """Send bodies "0" to str(n - 1), in order, ten to a call."""
    for start in range(0, n, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "MessageBody": str(i)} for i in range(start, min(n, start + 10))
            ],
        )


def within(observed: int, trials: int, probability: float) -> bool:
    """Observed count within 4.5 standard deviations of the binomial mean."""
    mean = trials * probability
    return abs(observed - mean) <= 4.5 * math.sqrt(trials * probability * (1 - probability))


def test_realism_duplicates_at_the_set_rate(cloud, sqs):
    url = cloud.create_queue("dups")
    cloud.set_sqs_realism(url, duplicate=0.2, seed=11)
    n = 200
    send(sqs, url, n)
    seen = drain(sqs, url, n)
    ids = [m["MessageId"] for m in seen]
    assert len(set(ids)) == n  # nothing lost
    duplicates = len(ids) - n
    # a copy may itself be copied: the expected extra deliveries are n * p / (1 - p)
    assert within(duplicates, round(n / 0.8), 0.2), duplicates
    assert all(ids.count(i) >= 1 for i in set(ids))


def test_realism_reorders_at_the_set_rate_and_loses_nothing(cloud, sqs):
    url = cloud.create_queue("reorder")
    cloud.set_sqs_realism(url, reorder=0.3, seed=5)
    n = 200
    send(sqs, url, n)
    order = [int(m["Body"]) for m in drain(sqs, url, n)]
    assert sorted(order) == list(range(n))
    overtakes = sum(1 for a, b in itertools.pairwise(order) if b < a)
    assert within(overtakes, n, 0.3), overtakes


def test_without_realism_a_standard_queue_keeps_order_and_never_duplicates(cloud, sqs):
    url = cloud.create_queue("plain")
    send(sqs, url, 100)
    assert [int(m["Body"]) for m in drain(sqs, url, 100)] == list(range(100))


def test_realism_never_touches_fifo_queues_and_can_be_turned_off(cloud, sqs):
    fifo = cloud.create_queue("ordered", fifo=True, ContentBasedDeduplication=True)
    with pytest.raises(ValueError, match="standard queues only"):
        cloud.set_sqs_realism(fifo, duplicate=0.5)
    url = cloud.create_queue("switch")
    cloud.set_sqs_realism(url, duplicate=1.0, reorder=1.0)
    cloud.set_sqs_realism(url)  # off
    for i in range(20):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    assert [int(m["Body"]) for m in drain(sqs, url, 20)] == list(range(20))
    with pytest.raises(ValueError, match="probability"):
        cloud.set_sqs_realism(url, duplicate=1.5)


def test_the_control_call_is_plain_http_for_other_tools(server, cloud):
    url = cloud.create_queue("via-http")
    request = urllib.request.Request(
        f"{server.endpoint_url}/_workshop/sqs/realism",
        data=json.dumps({"QueueUrl": url, "Duplicate": 0.1}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as unknown:
        urllib.request.urlopen(f"{server.endpoint_url}/_workshop/nothing", timeout=5)
    assert unknown.value.code == 404


# --- FIFO groups under concurrency ---------------------------------------------------------


def test_a_delete_that_frees_a_fifo_group_wakes_a_waiting_long_poll(cloud, sqs):
    import threading

    url = cloud.create_queue("wake", fifo=True, ContentBasedDeduplication=True)
    for body in ("first", "second"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g")
    first = receive_one(sqs, url)
    timer = threading.Timer(
        0.3, lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    )
    start = time.monotonic()
    timer.start()
    try:
        second = receive_one(sqs, url, wait=5)
    finally:
        timer.join()
    assert second is not None and second["Body"] == "second"
    assert time.monotonic() - start < 1.0


def test_simultaneous_receives_never_take_two_messages_of_one_group(cloud, sqs):
    from concurrent.futures import ThreadPoolExecutor

    url = cloud.create_queue("one-at-a-time", fifo=True, ContentBasedDeduplication=True)
    for i in range(40):
        sqs.send_message(QueueUrl=url, MessageBody=str(i), MessageGroupId="only")
    for _ in range(10):
        with ThreadPoolExecutor(4) as pool:
            batches = list(
                pool.map(
                    lambda _: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get(
                        "Messages", []
                    ),
                    range(4),
                )
            )
        got = [m for batch in batches for m in batch]
        assert len(got) <= 1, [m["Body"] for m in got]  # one message of a group in flight
        for message in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
