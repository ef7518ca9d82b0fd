"""The SQS event Lambda hands a function, and what Lambda makes of the function's answer.

Both halves are pure functions, so the rules can be read (and tested) apart from the polling:

- :func:`sqs_event` turns messages as ``ReceiveMessage`` returns them (the SQS JSON protocol's
  ``MessageId``, ``Attributes``, ``MessageAttributes`` ...) into the ``Records`` Lambda builds:
  camel-case keys, message attributes in Lambda's own shape, the system attributes Lambda
  passes on and no others.
- :func:`messages_to_keep` applies the partial batch response rules (``ReportBatchItemFailures``)
  and says which messages must stay in the queue.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
"""A synchronous invocation's payload limit (6 MB): Lambda stops filling a batch there."""

# The system attributes a record carries, in the order Lambda writes them. FIFO queues add
# SequenceNumber, MessageGroupId and MessageDeduplicationId; AWSTraceHeader only when sent.
_SYSTEM_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "SenderId",
    "MessageDeduplicationId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of the event, from one message of a ``ReceiveMessage`` answer."""
    attributes = message.get("Attributes") or {}
    body = message.get("Body", "")
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": {k: attributes[k] for k in _SYSTEM_ATTRIBUTES if k in attributes},
        "messageAttributes": {
            name: _lambda_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({"eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region})
    return record


def sqs_event(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": list(records)}


def _lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute as Lambda writes it: lower camel case, empty list values kept."""
    shaped: dict[str, Any] = {}
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        shaped["binaryValue"] = value["BinaryValue"]  # base64 already, as the JSON protocol has it
    shaped["stringListValues"] = list(value.get("StringListValues") or [])
    shaped["binaryListValues"] = list(value.get("BinaryListValues") or [])
    shaped["dataType"] = value.get("DataType", "String")
    return shaped


def record_size(record: dict[str, Any]) -> int:
    """Bytes the record adds to the invocation payload (with its separator)."""
    return len(json.dumps(record)) + 2


def messages_to_keep(
    payload: bytes, message_ids: list[str], report_batch_item_failures: bool
) -> set[str]:
    """The messages Lambda leaves in the queue after a *successful* invocation.

    Without ``ReportBatchItemFailures`` the function's answer is ignored: every message is
    deleted. With it, Lambda reads ``batchItemFailures``:

    - a null answer, an empty object, a missing, null or empty list: all succeeded;
    - a list of ``{"itemIdentifier": <messageId>}``: those stay, the rest are deleted;
    - anything else fails the whole batch: an answer that is not JSON or not an object, a list
      entry that is not an object, an identifier that is missing, null, empty or not a message
      of this batch.
    """
    if not report_batch_item_failures:
        return set()
    everything = set(message_ids)
    try:
        answer = json.loads(payload or b"null")
    except ValueError:
        return everything
    if answer is None:
        return set()
    if not isinstance(answer, dict):
        return everything
    failures = answer.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return everything
    keep = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in everything:
            return everything
        keep.add(identifier)
    return keep
