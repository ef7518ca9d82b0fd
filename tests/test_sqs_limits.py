"""Every SQS limit the local gateway enforces, checked from both sides through plain boto3.

For each bound the value just inside must be accepted and the value just outside refused with
AWS's error code (as boto3 shows it in ``Error.Code``) and AWS's exact message, as listed in
``shared/aws-facts.md``. moto alone accepts most of the refused values, so these tests fail if
a check in ``workshop/local/sqs_limits.py`` goes missing or drifts from AWS.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError
from conftest import make_local

from workshop.local import sqs_limits

MIB = 1_048_576
TWELVE_HOURS = 43_200
BATCH_ACTIONS = ["SendMessageBatch", "DeleteMessageBatch", "ChangeMessageVisibilityBatch"]
QUEUE_NAME_MESSAGE = (
    "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
)
FIFO_NAME_MESSAGE = (
    "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
    "underscores, must end with .fifo suffix and be 1 to 80 in length."
)
BAD_BATCH_ID_MESSAGE = (
    "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
    "It can be at most 80 letters long."
)


@contextmanager
def refused(code: str, message: str) -> Iterator[None]:
    """Expect the block to fail with exactly this AWS error code and message."""
    with pytest.raises(ClientError) as info:
        yield
    error = info.value.response["Error"]
    assert (error["Code"], error["Message"]) == (code, message)


def invalid_value(value: object, parameter: str, reason: str) -> tuple[str, str]:
    return (
        "InvalidParameterValue",
        f"Value {value} for parameter {parameter} is invalid. Reason: {reason}",
    )


def too_big(limit: int) -> tuple[str, str]:
    return (
        "InvalidParameterValue",
        f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes.",
    )


# --- helpers ------------------------------------------------------------------------------

_queue_numbers = itertools.count()


@pytest.fixture(scope="module")
def cloud(server):
    """One participant for the whole module: the clean-up sweep runs once, not per test.

    It overrides conftest's per-test ``cloud`` (and so the ``sqs`` built on it); every test
    therefore works on queues of its own, named by :func:`fresh`.
    """
    backend = make_local(server)
    yield backend
    backend.cleanup(quiet=True)


def fresh(base: str) -> str:
    """A queue name no other test of this module uses."""
    return f"{base}{next(_queue_numbers)}"


@pytest.fixture
def queue(cloud) -> str:
    return cloud.create_queue(fresh("limits"))


def apply_attributes(cloud, sqs, call: str, attributes: dict[str, str]) -> str:
    """Give a queue these attributes, by creating it with them or by setting them later."""
    base = fresh("attrs")  # a new queue each time: no QueueAlreadyExists
    if call == "CreateQueue":
        created = sqs.create_queue(
            QueueName=cloud.name(base), Attributes=attributes, tags=cloud.tags
        )
        return created["QueueUrl"]
    url = cloud.create_queue(base)
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return url


def queue_attribute(sqs, url: str, name: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[name])["Attributes"][name]


def receive_all(sqs, url: str, expected: int) -> list[dict]:
    """Receive until ``expected`` messages arrived (moto may hand them out in parts)."""
    messages: list[dict] = []
    for _ in range(5):
        messages += sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["ApproximateFirstReceiveTimestamp"],
        ).get("Messages", [])
        if len(messages) >= expected:
            break
    assert len(messages) == expected
    return messages


def in_flight(sqs, url: str, count: int) -> list[str]:
    """Receipt handles of ``count`` freshly received messages."""
    entries = [{"Id": f"m{i}", "MessageBody": f"body {i}"} for i in range(count)]
    for start in range(0, count, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=entries[start : start + 10])
    return [message["ReceiptHandle"] for message in receive_all(sqs, url, count)]


def batch_entries(action: str, ids: list[str], handles: list[str] | None = None) -> list[dict]:
    """Entries of a batch call; the handles only matter for calls that are meant to succeed."""
    if action == "SendMessageBatch":
        return [{"Id": entry_id, "MessageBody": "hello"} for entry_id in ids]
    handles = handles or ["not-a-handle"] * len(ids)
    entries = [{"Id": i, "ReceiptHandle": h} for i, h in zip(ids, handles, strict=True)]
    if action == "ChangeMessageVisibilityBatch":
        entries = [{**entry, "VisibilityTimeout": 0} for entry in entries]
    return entries


def call_batch(sqs, action: str, url: str, entries: list[dict]) -> dict:
    method = {
        "SendMessageBatch": sqs.send_message_batch,
        "DeleteMessageBatch": sqs.delete_message_batch,
        "ChangeMessageVisibilityBatch": sqs.change_message_visibility_batch,
    }[action]
    return method(QueueUrl=url, Entries=entries)


def padded(prefix: str, length: int, suffix: str = "") -> str:
    """A name of exactly ``length`` characters: prefix, filler, suffix."""
    return prefix + "n" * (length - len(prefix) - len(suffix)) + suffix


# --- 1 and 2: queue attributes --------------------------------------------------------------


@pytest.mark.parametrize("call", ["CreateQueue", "SetQueueAttributes"])
@pytest.mark.parametrize("value", [0, TWELVE_HOURS])
def test_visibility_timeout_attribute_inside_range_is_accepted(cloud, sqs, call, value):
    url = apply_attributes(cloud, sqs, call, {"VisibilityTimeout": str(value)})
    assert queue_attribute(sqs, url, "VisibilityTimeout") == str(value)


@pytest.mark.parametrize("call", ["CreateQueue", "SetQueueAttributes"])
@pytest.mark.parametrize("value", [-1, TWELVE_HOURS + 1])
def test_visibility_timeout_attribute_outside_range_is_refused(cloud, sqs, call, value):
    with refused("InvalidAttributeValue", "Invalid value for the parameter VisibilityTimeout."):
        apply_attributes(cloud, sqs, call, {"VisibilityTimeout": str(value)})


OTHER_RANGES = [
    ("DelaySeconds", 0, 900),
    ("MaximumMessageSize", 1024, MIB),
    ("MessageRetentionPeriod", 60, 1_209_600),
    ("ReceiveMessageWaitTimeSeconds", 0, 20),
]


@pytest.mark.parametrize("call", ["CreateQueue", "SetQueueAttributes"])
@pytest.mark.parametrize(("name", "low", "high"), OTHER_RANGES)
def test_queue_attribute_at_its_bounds_is_accepted(cloud, sqs, call, name, low, high):
    for value in (low, high):
        url = apply_attributes(cloud, sqs, call, {name: str(value)})
        assert queue_attribute(sqs, url, name) == str(value)


@pytest.mark.parametrize("call", ["CreateQueue", "SetQueueAttributes"])
@pytest.mark.parametrize(("name", "low", "high"), OTHER_RANGES)
def test_queue_attribute_beyond_its_bounds_is_refused(cloud, sqs, call, name, low, high):
    for value in (low - 1, high + 1):
        with refused("InvalidAttributeValue", f"Invalid value for the parameter {name}."):
            apply_attributes(cloud, sqs, call, {name: str(value)})


@pytest.mark.parametrize("value", [" 6", "6.5", "1_0", "+6", ""])
def test_queue_attribute_that_is_not_a_plain_integer_is_refused(cloud, sqs, value):
    with refused("InvalidAttributeValue", "Invalid value for the parameter DelaySeconds."):
        apply_attributes(cloud, sqs, "SetQueueAttributes", {"DelaySeconds": value})


# --- 3: redrive policy ----------------------------------------------------------------------


@pytest.fixture
def dlq_arn(cloud, sqs) -> str:
    return queue_attribute(sqs, cloud.create_queue(fresh("dlq")), "QueueArn")


@pytest.mark.parametrize("call", ["CreateQueue", "SetQueueAttributes"])
@pytest.mark.parametrize("count", [1, 1000])
def test_redrive_max_receive_count_inside_range_is_accepted(cloud, sqs, dlq_arn, call, count):
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": count})
    url = apply_attributes(cloud, sqs, call, {"RedrivePolicy": policy})
    assert json.loads(queue_attribute(sqs, url, "RedrivePolicy"))["maxReceiveCount"] == count


@pytest.mark.parametrize("call", ["CreateQueue", "SetQueueAttributes"])
@pytest.mark.parametrize("count", [0, 1001])
def test_redrive_max_receive_count_outside_range_is_refused(cloud, sqs, dlq_arn, call, count):
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": count})
    with refused(
        *invalid_value(
            policy,
            "RedrivePolicy",
            f"Invalid value for maxReceiveCount: {count}, valid values are from 1 to 1000 "
            "both inclusive.",
        )
    ):
        apply_attributes(cloud, sqs, call, {"RedrivePolicy": policy})


def test_redrive_policy_without_max_receive_count_is_refused(cloud, sqs, dlq_arn):
    policy = json.dumps({"deadLetterTargetArn": dlq_arn})
    with refused(
        *invalid_value(
            policy,
            "RedrivePolicy",
            "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
        )
    ):
        apply_attributes(cloud, sqs, "SetQueueAttributes", {"RedrivePolicy": policy})


# --- 4: SendMessage DelaySeconds ------------------------------------------------------------


@pytest.mark.parametrize("delay", [0, 900])
def test_send_delay_inside_range_is_accepted(sqs, queue, delay):
    assert sqs.send_message(QueueUrl=queue, MessageBody="later", DelaySeconds=delay)["MessageId"]


@pytest.mark.parametrize("delay", [-1, 901])
def test_send_delay_outside_range_is_refused(sqs, queue, delay):
    with refused(*invalid_value(delay, "DelaySeconds", "DelaySeconds must be >= 0 and <= 900.")):
        sqs.send_message(QueueUrl=queue, MessageBody="later", DelaySeconds=delay)


# --- 5: ReceiveMessage ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("MaxNumberOfMessages", 1),
        ("MaxNumberOfMessages", 10),
        ("WaitTimeSeconds", 0),
        ("WaitTimeSeconds", 20),  # returns at once: the queue already holds a message
        ("VisibilityTimeout", 0),
        ("VisibilityTimeout", TWELVE_HOURS),
    ],
)
def test_receive_parameter_inside_range_is_accepted(sqs, queue, parameter, value):
    sqs.send_message(QueueUrl=queue, MessageBody="waiting")
    started = time.monotonic()
    messages = sqs.receive_message(QueueUrl=queue, **{parameter: value})["Messages"]
    assert [message["Body"] for message in messages] == ["waiting"]
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("parameter", "value", "reason"),
    [
        ("MaxNumberOfMessages", 0, "Must be between 1 and 10, if provided."),
        ("MaxNumberOfMessages", 11, "Must be between 1 and 10, if provided."),
        ("WaitTimeSeconds", -1, "Must be >= 0 and <= 20, if provided."),
        ("WaitTimeSeconds", 21, "Must be >= 0 and <= 20, if provided."),
        ("VisibilityTimeout", -1, "Must be >= 0 and <= 43200, if provided."),
        ("VisibilityTimeout", TWELVE_HOURS + 1, "Must be >= 0 and <= 43200, if provided."),
    ],
)
def test_receive_parameter_outside_range_is_refused(sqs, queue, parameter, value, reason):
    with refused(*invalid_value(value, parameter, reason)):
        sqs.receive_message(QueueUrl=queue, **{parameter: value})


# --- 6: ChangeMessageVisibility -------------------------------------------------------------

BEYOND_TWELVE_HOURS = "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]."


@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
def test_change_visibility_up_to_twelve_hours_is_accepted_on_a_fresh_message(sqs, queue, batch):
    (handle,) = in_flight(sqs, queue, 1)
    if batch:
        entry = {"Id": "max", "ReceiptHandle": handle, "VisibilityTimeout": TWELVE_HOURS}
        response = sqs.change_message_visibility_batch(QueueUrl=queue, Entries=[entry])
        assert (response["Successful"], response.get("Failed", [])) == ([{"Id": "max"}], [])
    else:
        sqs.change_message_visibility(
            QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=TWELVE_HOURS
        )


@pytest.mark.parametrize("timeout", [-1, TWELVE_HOURS + 1])
def test_change_visibility_beyond_range_is_refused(sqs, queue, timeout):
    (handle,) = in_flight(sqs, queue, 1)
    with refused(*invalid_value(timeout, "VisibilityTimeout", BEYOND_TWELVE_HOURS)):
        sqs.change_message_visibility(
            QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=timeout
        )


def test_change_visibility_counts_twelve_hours_from_the_first_receive(sqs, queue, monkeypatch):
    sqs.send_message(QueueUrl=queue, MessageBody="old")
    (message,) = receive_all(sqs, queue, 1)
    first = int(message["Attributes"]["ApproximateFirstReceiveTimestamp"]) / 1000
    # The server runs in this process: make the check believe the message was received
    # 11 h 58 min 20 s ago, so exactly 100 s are left of its 12 hours.
    age = TWELVE_HOURS - 100 + 0.5
    monkeypatch.setattr(sqs_limits, "time", SimpleNamespace(time=lambda: first + age))
    handle = message["ReceiptHandle"]

    with refused(*invalid_value(101, "VisibilityTimeout", BEYOND_TWELVE_HOURS)):
        sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=101)
    sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=100)


def test_change_visibility_batch_refuses_only_the_entry_beyond_twelve_hours(sqs, queue):
    handles = in_flight(sqs, queue, 2)
    response = sqs.change_message_visibility_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": "ok", "ReceiptHandle": handles[0], "VisibilityTimeout": 600},
            {"Id": "long", "ReceiptHandle": handles[1], "VisibilityTimeout": TWELVE_HOURS + 1},
        ],
    )
    assert [entry["Id"] for entry in response["Successful"]] == ["ok"]
    code, message = invalid_value(TWELVE_HOURS + 1, "VisibilityTimeout", BEYOND_TWELVE_HOURS)
    assert response["Failed"] == [
        {"Id": "long", "SenderFault": True, "Code": code, "Message": message}
    ]


# --- 7: batch calls -------------------------------------------------------------------------


@pytest.mark.parametrize("action", BATCH_ACTIONS)
def test_batch_of_ten_entries_is_accepted(sqs, queue, action):
    ids = [f"e{i}" for i in range(10)]
    handles = None if action == "SendMessageBatch" else in_flight(sqs, queue, 10)
    response = call_batch(sqs, action, queue, batch_entries(action, ids, handles))
    assert sorted(entry["Id"] for entry in response["Successful"]) == sorted(ids)
    assert response.get("Failed", []) == []


@pytest.mark.parametrize("action", BATCH_ACTIONS)
def test_batch_of_eleven_entries_is_refused(sqs, queue, action):
    entries = batch_entries(action, [f"e{i}" for i in range(11)])
    with refused(
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
        "Maximum number of entries per request are 10. You have sent 11.",
    ):
        call_batch(sqs, action, queue, entries)


@pytest.mark.parametrize("action", BATCH_ACTIONS)
def test_empty_batch_is_refused(sqs, queue, action):
    # botocore's model sets no minimum length on Entries, so boto3 sends the empty list and
    # the refusal comes from the server, as on AWS.
    with refused(
        "AWS.SimpleQueueService.EmptyBatchRequest",
        f"There should be at least one {action}RequestEntry in the request.",
    ):
        call_batch(sqs, action, queue, [])


@pytest.mark.parametrize("action", BATCH_ACTIONS)
def test_repeated_batch_entry_ids_are_refused(sqs, queue, action):
    entries = batch_entries(action, ["one", "dup", "dup"])
    with refused("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Id dup repeated."):
        call_batch(sqs, action, queue, entries)


@pytest.mark.parametrize("action", BATCH_ACTIONS)
def test_batch_entry_id_of_80_characters_is_accepted(sqs, queue, action):
    long_id = "A-z_9" * 16
    assert len(long_id) == 80
    handles = None if action == "SendMessageBatch" else in_flight(sqs, queue, 1)
    response = call_batch(sqs, action, queue, batch_entries(action, [long_id], handles))
    assert [entry["Id"] for entry in response["Successful"]] == [long_id]


@pytest.mark.parametrize("action", BATCH_ACTIONS)
@pytest.mark.parametrize("bad_id", ["x" * 81, "has.dot", "has space", "ünïcode"])
def test_bad_batch_entry_id_is_refused(sqs, queue, action, bad_id):
    entries = batch_entries(action, ["fine", bad_id])
    with refused("AWS.SimpleQueueService.InvalidBatchEntryId", BAD_BATCH_ID_MESSAGE):
        call_batch(sqs, action, queue, entries)


# --- 8: a batch entry that fails on its own -------------------------------------------------


def test_send_batch_reports_a_bad_entry_and_sends_the_good_ones(sqs, queue):
    response = sqs.send_message_batch(
        QueueUrl=queue,
        Entries=[
            {"Id": "first", "MessageBody": "one"},
            {"Id": "late", "MessageBody": "never", "DelaySeconds": 901},
            {"Id": "second", "MessageBody": "two"},
        ],
    )
    assert sorted(entry["Id"] for entry in response["Successful"]) == ["first", "second"]
    code, message = invalid_value(901, "DelaySeconds", "DelaySeconds must be >= 0 and <= 900.")
    assert response["Failed"] == [
        {"Id": "late", "SenderFault": True, "Code": code, "Message": message}
    ]
    bodies = sorted(message["Body"] for message in receive_all(sqs, queue, 2))
    assert bodies == ["one", "two"]


# --- 9: message size ------------------------------------------------------------------------


def test_body_of_one_mebibyte_is_accepted(sqs, queue):
    sqs.send_message(QueueUrl=queue, MessageBody="a" * MIB)
    (message,) = receive_all(sqs, queue, 1)
    assert len(message["Body"]) == MIB


def test_body_one_byte_over_one_mebibyte_is_refused(sqs, queue):
    with refused(*too_big(MIB)):
        sqs.send_message(QueueUrl=queue, MessageBody="a" * (MIB + 1))


def test_body_size_counts_utf8_bytes(sqs, queue):
    with refused(*too_big(MIB)):  # half a million characters, but 2 bytes each, plus one
        sqs.send_message(QueueUrl=queue, MessageBody="é" * (MIB // 2) + "a")


# name "k" (1 byte) + data type (6 bytes) + a value of 1 byte: 8 bytes on top of the body
ONE_BYTE_ATTRIBUTES = [
    {"k": {"DataType": "String", "StringValue": "v"}},
    {"k": {"DataType": "Binary", "BinaryValue": b"\x00"}},
]


@pytest.mark.parametrize("attributes", ONE_BYTE_ATTRIBUTES, ids=["string", "binary"])
def test_attributes_count_toward_the_message_size(sqs, queue, attributes):
    sqs.send_message(QueueUrl=queue, MessageBody="a" * (MIB - 8), MessageAttributes=attributes)
    with refused(*too_big(MIB)):
        sqs.send_message(QueueUrl=queue, MessageBody="a" * (MIB - 7), MessageAttributes=attributes)


def test_queue_maximum_message_size_is_enforced(cloud, sqs):
    url = cloud.create_queue(fresh("small"), MaximumMessageSize=1024)
    sqs.send_message(QueueUrl=url, MessageBody="a" * 1024)
    with refused(*too_big(1024)):
        sqs.send_message(QueueUrl=url, MessageBody="a" * 1025)


def test_batch_of_one_mebibyte_in_total_is_accepted(sqs, queue):
    entries = [{"Id": f"half{i}", "MessageBody": "a" * (MIB // 2)} for i in range(2)]
    assert len(sqs.send_message_batch(QueueUrl=queue, Entries=entries)["Successful"]) == 2


def test_batch_over_one_mebibyte_in_total_is_refused(sqs, queue):
    entries = [
        {"Id": "half", "MessageBody": "a" * (MIB // 2)},
        {"Id": "more", "MessageBody": "a" * (MIB // 2 - 7)},
        {"Id": "tagged", "MessageBody": "", "MessageAttributes": ONE_BYTE_ATTRIBUTES[0]},
    ]
    with refused(
        "AWS.SimpleQueueService.BatchRequestTooLong",
        f"Batch requests cannot be longer than {MIB} bytes. You have sent {MIB + 1} bytes.",
    ):
        sqs.send_message_batch(QueueUrl=queue, Entries=entries)


# --- 10: message attributes -----------------------------------------------------------------


def attributes(count: int) -> dict[str, dict[str, str]]:
    return {f"attr{i}": {"DataType": "Number", "StringValue": str(i)} for i in range(count)}


def test_ten_message_attributes_are_accepted(sqs, queue):
    sqs.send_message(QueueUrl=queue, MessageBody="tagged", MessageAttributes=attributes(10))
    (message,) = receive_all(sqs, queue, 1)
    assert set(message["MessageAttributes"]) == set(attributes(10))


def test_eleven_message_attributes_are_refused(sqs, queue):
    with refused(
        "InvalidParameterValue",
        "Number of message attributes [11] exceeds the allowed maximum [10].",
    ):
        sqs.send_message(QueueUrl=queue, MessageBody="tagged", MessageAttributes=attributes(11))


# --- 11: queue names ------------------------------------------------------------------------


def test_queue_name_of_80_characters_is_accepted(cloud, sqs):
    name = padded(cloud.prefix, 80)
    url = sqs.create_queue(QueueName=name, tags=cloud.tags)["QueueUrl"]
    assert url.endswith(f"/{name}")


@pytest.mark.parametrize(
    "name_of",
    [
        lambda prefix: padded(prefix, 81),  # one character too long
        lambda prefix: padded(prefix, 20, "!"),
        lambda prefix: padded(prefix, 20, "a.b"),
        lambda prefix: padded(prefix, 20, " "),
        lambda prefix: padded(prefix, 20, "é"),
    ],
    ids=["81-characters", "bang", "dot", "space", "accent"],
)
def test_bad_queue_name_is_refused(cloud, sqs, name_of):
    with refused("InvalidParameterValue", QUEUE_NAME_MESSAGE):
        sqs.create_queue(QueueName=name_of(cloud.prefix), tags=cloud.tags)


def test_fifo_queue_name_of_80_characters_is_accepted(cloud, sqs):
    name = padded(cloud.prefix, 80, ".fifo")
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"}, tags=cloud.tags)
    assert url["QueueUrl"].endswith(f"/{name}")


@pytest.mark.parametrize(
    "name_of",
    [
        lambda prefix: padded(prefix, 81, ".fifo"),  # one character too long
        lambda prefix: padded(prefix, 20),  # no .fifo suffix
        lambda prefix: padded(prefix, 20, "!.fifo"),  # a bad character
    ],
    ids=["81-characters", "no-suffix", "bad-character"],
)
def test_bad_fifo_queue_name_is_refused(cloud, sqs, name_of):
    with refused("InvalidParameterValue", FIFO_NAME_MESSAGE):
        sqs.create_queue(
            QueueName=name_of(cloud.prefix), Attributes={"FifoQueue": "true"}, tags=cloud.tags
        )


@pytest.mark.parametrize("attributes", [{}, {"FifoQueue": "false"}], ids=["absent", "false"])
def test_fifo_suffix_on_a_standard_queue_is_refused(cloud, sqs, attributes):
    with refused("InvalidParameterValue", QUEUE_NAME_MESSAGE):
        sqs.create_queue(QueueName=cloud.name("plain.fifo"), Attributes=attributes, tags=cloud.tags)


# --- 12: FIFO sends -------------------------------------------------------------------------


@pytest.fixture
def fifo(cloud) -> str:
    return cloud.create_queue(fresh("ordered"), fifo=True)


@pytest.fixture
def fifo_dedup(cloud) -> str:
    return cloud.create_queue(fresh("dedup"), fifo=True, ContentBasedDeduplication=True)


@pytest.mark.parametrize("dedup", [False, True], ids=["explicit-dedup", "content-based"])
def test_fifo_send_without_group_is_refused(sqs, fifo, fifo_dedup, dedup):
    url = fifo_dedup if dedup else fifo
    extra = {} if dedup else {"MessageDeduplicationId": "d1"}
    with refused("MissingParameter", "The request must contain the parameter MessageGroupId."):
        sqs.send_message(QueueUrl=url, MessageBody="lost", **extra)


def test_fifo_batch_entry_without_group_fails_alone(sqs, fifo_dedup):
    response = sqs.send_message_batch(
        QueueUrl=fifo_dedup,
        Entries=[
            {"Id": "grouped", "MessageBody": "a", "MessageGroupId": "g"},
            {"Id": "loose", "MessageBody": "b"},
        ],
    )
    assert [entry["Id"] for entry in response["Successful"]] == ["grouped"]
    assert response["Failed"] == [
        {
            "Id": "loose",
            "SenderFault": True,
            "Code": "MissingParameter",
            "Message": "The request must contain the parameter MessageGroupId.",
        }
    ]


def test_fifo_group_id_of_128_characters_is_accepted(sqs, fifo_dedup):
    group = "g!#-~" * 25 + "abc"
    assert len(group) == 128
    sqs.send_message(QueueUrl=fifo_dedup, MessageBody="in order", MessageGroupId=group)
    (message,) = receive_all(sqs, fifo_dedup, 1)
    assert message["Body"] == "in order"


@pytest.mark.parametrize("group", ["g" * 129, "has space", "ünïcode"], ids=["129", "space", "utf8"])
def test_bad_fifo_group_id_is_refused(sqs, fifo_dedup, group):
    reason = (
        "MessageGroupId can only include alphanumeric and punctuation characters. "
        "1 to 128 in length."
    )
    with refused(*invalid_value(group, "MessageGroupId", reason)):
        sqs.send_message(QueueUrl=fifo_dedup, MessageBody="x", MessageGroupId=group)


def test_fifo_send_needs_a_deduplication_id_without_content_based_dedup(sqs, fifo, fifo_dedup):
    sqs.send_message(QueueUrl=fifo_dedup, MessageBody="x", MessageGroupId="g")
    sqs.send_message(
        QueueUrl=fifo, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d1"
    )
    with refused(
        "InvalidParameterValue",
        "The queue should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly",
    ):
        sqs.send_message(QueueUrl=fifo, MessageBody="x", MessageGroupId="g")


def test_fifo_deduplication_id_of_129_characters_is_refused(sqs, fifo):
    dedup = "d" * 129
    reason = (
        "MessageDeduplicationId can only include alphanumeric and punctuation characters. "
        "1 to 128 in length."
    )
    with refused(*invalid_value(dedup, "MessageDeduplicationId", reason)):
        sqs.send_message(
            QueueUrl=fifo, MessageBody="x", MessageGroupId="g", MessageDeduplicationId=dedup
        )


def test_fifo_message_delay_is_refused(sqs, fifo_dedup):
    reason = "The request include parameter that is not valid for this queue type."
    with refused(*invalid_value(5, "DelaySeconds", reason)):
        sqs.send_message(QueueUrl=fifo_dedup, MessageBody="x", MessageGroupId="g", DelaySeconds=5)


# --- 13: a deleted queue's name is free again only after 60 s ---------------------------------


def test_a_deleted_queue_name_can_be_reused_only_after_60_seconds(cloud, sqs, monkeypatch):
    name = cloud.name(fresh("reuse"))
    url = sqs.create_queue(QueueName=name, tags=cloud.tags)["QueueUrl"]
    sqs.delete_queue(QueueUrl=url)
    with refused(
        "AWS.SimpleQueueService.QueueDeletedRecently",
        "You must wait 60 seconds after deleting a queue before you can create another queue "
        "with the same name.",
    ):
        sqs.create_queue(QueueName=name)
    later = time.monotonic() + 60.5
    monkeypatch.setattr(
        sqs_limits, "time", SimpleNamespace(time=time.time, monotonic=lambda: later)
    )
    assert sqs.create_queue(QueueName=name, tags=cloud.tags)["QueueUrl"] == url
