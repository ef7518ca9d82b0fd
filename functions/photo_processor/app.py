"""Processes a batch of photo uploads from SQS, and records every attempt so it can be counted.

The event is what an SQS event source mapping sends: up to ``BatchSize`` records, each with an
upload as its JSON body. "Processing" is simulated: the handler sleeps for a time that grows
with the upload's size (``WORK_MS_PER_MB``). Settings, all environment variables:

- ``RESULTS_QUEUE_URL``: where one record per attempt goes (message id, upload, batch size,
  environment, start and end, receive count, outcome). A queue works the same on AWS and
  locally, and the notebook reads it back to count what happened.
- ``FAILURE_FRACTION`` (0 to 1) and ``FAILURE_MODE``: ``poison`` (the default) fails the same
  uploads every time, chosen by a hash of the upload's key, like a corrupt photo that no retry
  can fix: those messages must end in the DLQ, so the outcome is the same on every run.
  ``random`` fails each attempt with that probability, like a flaky downstream service, so a
  retry usually succeeds.
- ``REPORT_BATCH_ITEM_FAILURES``: ``1`` returns the failed messages' ids as
  ``batchItemFailures`` (the mapping must list ``ReportBatchItemFailures`` in its
  ``FunctionResponseTypes``, or Lambda takes the answer for success and deletes them all);
  otherwise one failure raises and fails the whole batch.
"""

import json
import os
import random
import time
import uuid
import zlib

import boto3

SQS = boto3.client("sqs")  # made during Init, reused by every call of this environment
ENVIRONMENT = uuid.uuid4().hex[:8]  # tells execution environments apart in the records


class PhotoProcessingError(Exception):
    """Raised when a batch had uploads that failed and partial failures are not reported."""


def _fails(key: str, fraction: float, mode: str) -> bool:
    if fraction <= 0:
        return False
    if mode == "random":
        return random.random() < fraction
    return zlib.crc32(key.encode()) % 10_000 < fraction * 10_000


def _process(upload: dict) -> None:
    megabytes = float(upload.get("size_kb", 0)) / 1024
    time.sleep(megabytes * float(os.environ.get("WORK_MS_PER_MB", "1")) / 1000)


def _record(records: list[dict]) -> None:
    url = os.environ.get("RESULTS_QUEUE_URL")
    for start in range(0, len(records) if url else 0, 10):  # SendMessageBatch takes 10
        entries = [
            {"Id": str(i), "MessageBody": json.dumps(record)}
            for i, record in enumerate(records[start : start + 10])
        ]
        answer = SQS.send_message_batch(QueueUrl=url, Entries=entries)
        if answer.get("Failed"):
            raise RuntimeError(f"could not record results: {answer['Failed']}")


def handler(event, context):
    fraction = float(os.environ.get("FAILURE_FRACTION", "0"))
    mode = os.environ.get("FAILURE_MODE", "poison")
    report = os.environ.get("REPORT_BATCH_ITEM_FAILURES", "0") == "1"
    messages = event.get("Records", [])
    records, failed = [], []
    for message in messages:
        started = time.time()
        upload = json.loads(message["body"])
        key = str(upload.get("key", upload.get("upload_id", message["messageId"])))
        ok = not _fails(key, fraction, mode)
        if ok:
            _process(upload)
        else:
            failed.append(message["messageId"])
        attributes = message.get("attributes", {})
        records.append(
            {
                "message_id": message["messageId"],
                "key": key,
                "upload_id": upload.get("upload_id"),
                "outcome": "processed" if ok else "failed",
                "receive_count": int(attributes.get("ApproximateReceiveCount", 0)),
                "sent_ms": int(attributes.get("SentTimestamp", 0)),
                "started_ms": started * 1000,
                "ended_ms": time.time() * 1000,
                "batch_size": len(messages),
                "request_id": context.aws_request_id,
                "environment": ENVIRONMENT,
            }
        )
    _record(records)
    print(
        f"batch of {len(messages)}: {len(messages) - len(failed)} processed, {len(failed)} failed"
    )
    if report:
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
    if failed:
        raise PhotoProcessingError(f"{len(failed)} of {len(messages)} uploads failed")
    return {"processed": len(messages)}
