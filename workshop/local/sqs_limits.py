"""The SQS limits AWS enforces and moto does not, checked before a request reaches moto.

Each check raises :class:`SqsError` with the code and message AWS returns, so a learner on the
local backend meets the same error as on AWS. Batch calls follow AWS: problems with the batch
itself (empty, too many entries, bad or repeated ids, too long) fail the whole call; a problem
with one entry fails only that entry, reported in the response's ``Failed`` list.

The numbers are AWS's, from ``shared/aws-facts.md`` (SQS quotas and API reference).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from workshop.local.aws_errors import SqsError, invalid_parameter, invalid_value

MAX_VISIBILITY_TIMEOUT = 43_200  # 12 hours
MAX_DELAY = 900
MAX_WAIT_TIME = 20
MAX_MESSAGES_PER_RECEIVE = 10
MAX_BATCH_ENTRIES = 10
MAX_MESSAGE_ATTRIBUTES = 10
MAX_MESSAGE_SIZE = 1_048_576  # 1 MiB since 2025 (it was 256 KiB)
MIN_MESSAGE_SIZE_SETTING = 1_024
MIN_RETENTION, MAX_RETENTION = 60, 1_209_600  # 1 minute to 14 days
MAX_RECEIVE_COUNT = 1_000  # redrive policy's maxReceiveCount
MAX_QUEUE_NAME = 80
MAX_GROUP_ID = 128
REUSE_NAME_AFTER = 60  # seconds before a deleted queue's name can be used again

# Queue attributes that are whole numbers of a bounded range.
QUEUE_ATTRIBUTE_RANGES: dict[str, tuple[int, int]] = {
    "DelaySeconds": (0, MAX_DELAY),
    "MaximumMessageSize": (MIN_MESSAGE_SIZE_SETTING, MAX_MESSAGE_SIZE),
    "MessageRetentionPeriod": (MIN_RETENTION, MAX_RETENTION),
    "ReceiveMessageWaitTimeSeconds": (0, MAX_WAIT_TIME),
    "VisibilityTimeout": (0, MAX_VISIBILITY_TIMEOUT),
}

_INTEGER = re.compile(r"-?[0-9]+")
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_FIFO_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,75}\.fifo")
# Message group and deduplication ids: letters, digits and ASCII punctuation.
_FIFO_TOKEN = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")

_BATCH_ENTRY_KIND = {
    "SendMessageBatch": "SendMessageBatchRequestEntry",
    "DeleteMessageBatch": "DeleteMessageBatchRequestEntry",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibilityBatchRequestEntry",
}


@dataclass(frozen=True)
class QueueView:
    """What the checks need to know about a queue."""

    fifo: bool
    content_based_deduplication: bool
    max_message_size: int
    receive_wait_seconds: int = 0
    deduplication_per_group: bool = False


class QueueState(Protocol):
    """Read access to the queues the request talks about (the moto backend, locally)."""

    def queue(self, queue_url: str) -> QueueView | None: ...

    def seconds_since_deleted(self, queue_name: str) -> float | None:
        """Seconds since a queue of this name was deleted, if it was."""
        ...

    def queue_by_arn(self, arn: str) -> QueueView | None: ...

    def first_receive(self, queue_url: str, receipt_handle: str) -> float | None:
        """Epoch seconds of the message's first receive, if the handle is known."""
        ...


class DeletedQueues:
    """When each queue name was last deleted, per region, for the 60-second rule."""

    def __init__(self) -> None:
        self._when: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def record(self, region: str, queue_name: str) -> None:
        with self._lock:
            self._when[(region, queue_name)] = time.monotonic()

    def seconds_since(self, region: str, queue_name: str) -> float | None:
        with self._lock:
            when = self._when.get((region, queue_name))
        return None if when is None else time.monotonic() - when


@dataclass
class Checked:
    """A request that passed: what to forward, and batch entries that failed on their own."""

    params: dict[str, Any]
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def nothing_left(self) -> bool:
        """True for a batch whose every entry failed: there is nothing to forward."""
        return "Entries" in self.params and not self.params["Entries"]


def check_request(action: str, params: dict[str, Any], state: QueueState) -> Checked:
    """Check one SQS request; raise :class:`SqsError` if AWS would refuse it as a whole."""
    checker = _CHECKS.get(action)
    if checker is None:
        return Checked(params)
    return checker(params, state)


# --- queues ---------------------------------------------------------------------------------


def _check_create_queue(params: dict[str, Any], state: QueueState) -> Checked:
    name = params.get("QueueName", "")
    attributes = params.get("Attributes") or {}
    if str(attributes.get("FifoQueue", "false")).lower() == "true":
        if not _FIFO_QUEUE_NAME.fullmatch(name):
            raise invalid_parameter(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
                "underscores, must end with .fifo suffix and be 1 to 80 in length."
            )
    elif not _QUEUE_NAME.fullmatch(name):
        raise invalid_parameter(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )
    fifo = str(attributes.get("FifoQueue", "false")).lower() == "true"
    _check_queue_attributes(attributes, fifo, state)
    since = state.seconds_since_deleted(name)
    if since is not None and since < REUSE_NAME_AFTER:
        # DeleteQueue API reference: wait at least 60 s before reusing a deleted queue's name.
        raise SqsError(
            "QueueDeletedRecently",
            f"You must wait {REUSE_NAME_AFTER} seconds after deleting a queue before you can "
            "create another queue with the same name.",
        )
    return Checked(params)


def _check_set_queue_attributes(params: dict[str, Any], state: QueueState) -> Checked:
    queue = state.queue(params.get("QueueUrl", ""))
    _check_queue_attributes(params.get("Attributes") or {}, bool(queue and queue.fifo), state)
    return Checked(params)


def _check_queue_attributes(attributes: dict[str, str], fifo: bool, state: QueueState) -> None:
    for name, (low, high) in QUEUE_ATTRIBUTE_RANGES.items():
        if name in attributes and not _int_in_range(attributes[name], low, high):
            raise SqsError("InvalidAttributeValue", f"Invalid value for the parameter {name}.")
    if "RedrivePolicy" in attributes:
        _check_redrive_policy(attributes["RedrivePolicy"], fifo, state)


def _check_redrive_policy(raw: str, fifo: bool, state: QueueState) -> None:
    """AWS reports a bad policy as InvalidParameterValue quoting the policy as sent.

    Only an empty string removes the redrive; AWS refuses ``{}`` for its missing
    maxReceiveCount.
    """
    if raw == "":
        return
    try:
        policy = json.loads(raw)
    except ValueError:
        raise SqsError(
            "InvalidAttributeValue", "Invalid value for the parameter RedrivePolicy."
        ) from None
    if not isinstance(policy, dict) or "maxReceiveCount" not in policy:
        raise invalid_value(
            raw,
            "RedrivePolicy",
            "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
        )
    count = policy["maxReceiveCount"]
    if not _int_in_range(count, 1, MAX_RECEIVE_COUNT):
        raise invalid_value(
            raw,
            "RedrivePolicy",
            f"Invalid value for maxReceiveCount: {count}, valid values are from 1 to "
            f"{MAX_RECEIVE_COUNT} both inclusive.",
        )
    target = state.queue_by_arn(str(policy.get("deadLetterTargetArn", "")))
    if target is not None and target.fifo != fifo:
        # SQS developer guide: the dead-letter queue of a FIFO queue must be a FIFO queue, and
        # that of a standard queue a standard queue.
        raise invalid_value(
            raw,
            "RedrivePolicy",
            "Dead-letter target owner queue type must be the same as the source queue type.",
        )


# --- sending --------------------------------------------------------------------------------


def _check_send_message(params: dict[str, Any], state: QueueState) -> Checked:
    queue = state.queue(params.get("QueueUrl", ""))
    _check_message(params, queue)
    return Checked(params)


def _check_send_message_batch(params: dict[str, Any], state: QueueState) -> Checked:
    entries = _check_batch_shape("SendMessageBatch", params)
    queue = state.queue(params.get("QueueUrl", ""))
    total = sum(_message_size(entry) for entry in entries)
    if total > MAX_MESSAGE_SIZE:
        raise SqsError(
            "BatchRequestTooLong",
            f"Batch requests cannot be longer than {MAX_MESSAGE_SIZE} bytes. "
            f"You have sent {total} bytes.",
        )
    return _per_entry(params, entries, lambda entry: _check_message(entry, queue))


def _check_message(message: dict[str, Any], queue: QueueView | None) -> None:
    """The checks SendMessage and each SendMessageBatch entry share."""
    delay = message.get("DelaySeconds")
    if delay is not None and not _int_in_range(delay, 0, MAX_DELAY):
        raise invalid_value(delay, "DelaySeconds", f"DelaySeconds must be >= 0 and <= {MAX_DELAY}.")
    attributes = message.get("MessageAttributes") or {}
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        raise invalid_parameter(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum "
            f"[{MAX_MESSAGE_ATTRIBUTES}]."
        )
    limit = queue.max_message_size if queue else MAX_MESSAGE_SIZE
    if _message_size(message) > limit:
        raise invalid_parameter(
            f"One or more parameters are invalid. Reason: Message must be shorter than "
            f"{limit} bytes."
        )
    if queue is None:  # an unknown queue: moto answers with AWS's NonExistentQueue
        return
    if queue.fifo:
        _check_fifo_message(message, queue)


def _check_fifo_message(message: dict[str, Any], queue: QueueView) -> None:
    group = message.get("MessageGroupId")
    if not group:
        raise SqsError("MissingParameter", "The request must contain the parameter MessageGroupId.")
    for parameter in ("MessageGroupId", "MessageDeduplicationId"):
        value = message.get(parameter)
        if value is not None and not _FIFO_TOKEN.fullmatch(value):
            raise invalid_value(
                value,
                parameter,
                f"{parameter} can only include alphanumeric and punctuation characters. "
                f"1 to {MAX_GROUP_ID} in length.",
            )
    if int(message.get("DelaySeconds") or 0) > 0:
        raise invalid_value(
            message["DelaySeconds"],
            "DelaySeconds",
            "The request include parameter that is not valid for this queue type.",
        )
    if not queue.content_based_deduplication and not message.get("MessageDeduplicationId"):
        raise invalid_parameter(
            "The queue should either have ContentBasedDeduplication enabled or "
            "MessageDeduplicationId provided explicitly"
        )


def _message_size(message: dict[str, Any]) -> int:
    """Bytes SQS counts against the size limit: the body plus every attribute's parts."""
    size = len(str(message.get("MessageBody", "")).encode())
    for name, value in (message.get("MessageAttributes") or {}).items():
        size += len(name.encode()) + len(str(value.get("DataType", "")).encode())
        if "StringValue" in value:
            size += len(str(value["StringValue"]).encode())
        if "BinaryValue" in value:
            size += _binary_size(value["BinaryValue"])
    return size


def _binary_size(encoded: str) -> int:
    """The JSON protocol carries binary values base64-encoded; SQS counts the raw bytes.

    Padding matters: one byte travels as ``AA==`` (4 characters, 1 byte, not 3).
    """
    try:
        return len(base64.b64decode(encoded, validate=True))
    except (ValueError, TypeError):
        return len(str(encoded))


# --- receiving and visibility ---------------------------------------------------------------


def _check_receive_message(params: dict[str, Any], state: QueueState) -> Checked:
    count = params.get("MaxNumberOfMessages")
    if count is not None and not _int_in_range(count, 1, MAX_MESSAGES_PER_RECEIVE):
        raise invalid_value(
            count,
            "MaxNumberOfMessages",
            f"Must be between 1 and {MAX_MESSAGES_PER_RECEIVE}, if provided.",
        )
    wait = params.get("WaitTimeSeconds")
    if wait is not None and not _int_in_range(wait, 0, MAX_WAIT_TIME):
        raise invalid_value(
            wait, "WaitTimeSeconds", f"Must be >= 0 and <= {MAX_WAIT_TIME}, if provided."
        )
    timeout = params.get("VisibilityTimeout")
    if timeout is not None and not _int_in_range(timeout, 0, MAX_VISIBILITY_TIMEOUT):
        raise invalid_value(
            timeout,
            "VisibilityTimeout",
            f"Must be >= 0 and <= {MAX_VISIBILITY_TIMEOUT}, if provided.",
        )
    return Checked(params)


def _check_change_visibility(params: dict[str, Any], state: QueueState) -> Checked:
    _check_visibility_change(params.get("QueueUrl", ""), params, state)
    return Checked(params)


def _check_change_visibility_batch(params: dict[str, Any], state: QueueState) -> Checked:
    entries = _check_batch_shape("ChangeMessageVisibilityBatch", params)
    url = params.get("QueueUrl", "")
    return _per_entry(params, entries, lambda entry: _check_visibility_change(url, entry, state))


def _check_visibility_change(url: str, change: dict[str, Any], state: QueueState) -> None:
    """A message may stay invisible for at most 12 hours, counted from its first receive."""
    timeout = change.get("VisibilityTimeout")
    if not _int_in_range(timeout, 0, MAX_VISIBILITY_TIMEOUT):
        raise _beyond_visibility_limit(timeout)
    first = state.first_receive(url, change.get("ReceiptHandle", ""))
    # Whole seconds elapsed, as AWS counts them: 43200 right after the receive is allowed,
    # although some milliseconds have passed.
    if first is not None and int(time.time() - first) + int(timeout) > MAX_VISIBILITY_TIMEOUT:
        raise _beyond_visibility_limit(timeout)


def _beyond_visibility_limit(timeout: object) -> SqsError:
    return invalid_value(
        timeout,
        "VisibilityTimeout",
        f"Total VisibilityTimeout for the message is beyond the limit "
        f"[{MAX_VISIBILITY_TIMEOUT} seconds].",
    )


def _check_delete_message_batch(params: dict[str, Any], state: QueueState) -> Checked:
    _check_batch_shape("DeleteMessageBatch", params)
    return Checked(params)


# --- helpers --------------------------------------------------------------------------------


def _check_batch_shape(action: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    entries = params.get("Entries") or []
    if not entries:
        raise SqsError(
            "EmptyBatchRequest",
            f"There should be at least one {_BATCH_ENTRY_KIND[action]} in the request.",
        )
    if len(entries) > MAX_BATCH_ENTRIES:
        raise SqsError(
            "TooManyEntriesInBatchRequest",
            f"Maximum number of entries per request are {MAX_BATCH_ENTRIES}. "
            f"You have sent {len(entries)}.",
        )
    seen: set[str] = set()
    for entry in entries:
        entry_id = str(entry.get("Id", ""))
        if not _BATCH_ID.fullmatch(entry_id):
            raise SqsError(
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long.",
            )
        if entry_id in seen:
            raise SqsError("BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.")
        seen.add(entry_id)
    return entries


def _per_entry(
    params: dict[str, Any],
    entries: list[dict[str, Any]],
    check: Callable[[dict[str, Any]], None],
) -> Checked:
    """Run ``check`` on every entry; forward the entries that pass, report the rest."""
    passed, failed = [], []
    for entry in entries:
        try:
            check(entry)
        except SqsError as error:
            failed.append(error.batch_entry(entry["Id"]))
        else:
            passed.append(entry)
    return Checked({**params, "Entries": passed}, failed)


def _int_in_range(value: object, low: int, high: int) -> bool:
    """True for a whole number (or its plain decimal text) within ``low..high``.

    Stricter than ``int()``, which would take " 6", "+6" and "1_0"; AWS refuses them.
    """
    if isinstance(value, bool) or not _INTEGER.fullmatch(str(value)):
        return False
    return low <= int(str(value)) <= high


_CHECKS: dict[str, Callable[[dict[str, Any], QueueState], Checked]] = {
    "CreateQueue": _check_create_queue,
    "SetQueueAttributes": _check_set_queue_attributes,
    "SendMessage": _check_send_message,
    "SendMessageBatch": _check_send_message_batch,
    "ReceiveMessage": _check_receive_message,
    "ChangeMessageVisibility": _check_change_visibility,
    "ChangeMessageVisibilityBatch": _check_change_visibility_batch,
    "DeleteMessageBatch": _check_delete_message_batch,
}
