"""Error responses in the wire format AWS uses, so boto3 raises what it would raise on AWS.

SQS speaks the JSON protocol with "query compatibility": the body carries the short error name
and the ``x-amzn-query-error`` header the legacy code, which is what ``e.response["Error"]["Code"]``
shows in boto3. Some legacy codes carry the prefix ``AWS.SimpleQueueService.``.
"""

from __future__ import annotations

import json
import uuid

# Legacy (query) codes that differ from the error's short name, as the AWS SDKs list them.
_SQS_QUERY_CODES = {
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
    "MessageNotInflight": "AWS.SimpleQueueService.MessageNotInflight",
    "PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
    "QueueDeletedRecently": "AWS.SimpleQueueService.QueueDeletedRecently",
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
}


class SqsError(Exception):
    """An SQS error as AWS reports it: a short name, a message and who is at fault."""

    def __init__(self, name: str, message: str, *, sender_fault: bool = True, status: int = 400):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
        self.sender_fault = sender_fault
        self.status = status

    @property
    def code(self) -> str:
        """The code boto3 reports as ``Error.Code``."""
        return _SQS_QUERY_CODES.get(self.name, self.name)

    def batch_entry(self, entry_id: str) -> dict:
        """This error as one entry of a batch call's ``Failed`` list."""
        return {
            "Id": entry_id,
            "SenderFault": self.sender_fault,
            "Code": self.code,
            "Message": self.message,
        }

    def answer(self) -> tuple[str, list[tuple[str, str]], bytes]:
        """Status, headers and body of this error in SQS's JSON protocol."""
        body = json.dumps(
            {"__type": f"com.amazonaws.sqs#{self.name}", "message": self.message}
        ).encode()
        fault = "Sender" if self.sender_fault else "Receiver"
        headers = [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("Content-Length", str(len(body))),
            ("x-amzn-query-error", f"{self.code};{fault}"),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ]
        return f"{self.status} Bad Request", headers, body


def invalid_parameter(message: str) -> SqsError:
    return SqsError("InvalidParameterValue", message)


def invalid_value(value: object, parameter: str, reason: str) -> SqsError:
    """The ``Value X for parameter Y is invalid. Reason: ...`` family of SQS errors."""
    return invalid_parameter(
        f"Value {value} for parameter {parameter} is invalid. Reason: {reason}"
    )
