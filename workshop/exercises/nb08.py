"""Exercises of notebook 08, HTTP API to SQS to Lambda: ``from workshop.exercises import nb08``.

- ``q1``: the mean number of uploads per invocation in section 4's burst, from ``batches``.
- ``q2``: a handler that returns a partial batch response: the ids of the messages whose body
  is not a valid upload. The checker calls it in this process with SQS events built as Lambda
  builds them, and judges its answer by Lambda's rules for ``batchItemFailures``.
- ``q3``: how many times a good message is processed when it always shares a batch with a
  poison one and the function fails whole batches (``maxReceiveCount`` 4).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pandas as pd

from workshop.exercises.core import CheckedExercise, Incorrect, ValueExercise, is_number
from workshop.local.sqs_events import messages_to_keep

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:ws-exercise-photos"

# --- q1 ---------------------------------------------------------------------------------------


def _judge_mean_batch(answer: Any, batches: Any = None) -> str:
    if not isinstance(batches, pd.DataFrame) or "batch_size" not in batches.columns:
        raise Incorrect(
            "Pass section 4's table as the second argument: nb08.q1.check(answer, batches)."
        )
    if batches.empty:
        raise Incorrect("`batches` is empty: run section 4 again.")
    if not is_number(answer):
        raise Incorrect(f"Expected a number, got {type(answer).__name__} {answer!r}.")
    expected = float(batches["batch_size"].mean())
    value = float(answer)
    if math.isclose(value, expected, rel_tol=0.02):
        return (
            f"{expected:.1f} uploads per invocation: {batches['batch_size'].sum()} messages in "
            f"{len(batches)} invocations. Fewer invocations than uploads means fewer cold "
            "starts and fewer requests to pay for; the batching window is what fills batches."
        )
    if math.isclose(value, len(batches), rel_tol=0.001):
        raise Incorrect("That is the number of invocations; the question asks per invocation.")
    if math.isclose(value, float(batches["batch_size"].max()), rel_tol=0.001):
        raise Incorrect("That is the largest batch, not the average one.")
    raise Incorrect(f"{answer!r} is not it; hint() gives a nudge.")


q1 = CheckedExercise(
    "Uploads per invocation",
    _judge_mean_batch,
    hint="Each row of `batches` is one invocation, and `batch_size` is how many messages it got.",
    solution="```python\nanswer = batches['batch_size'].mean()\n```",
)

# --- q2 ---------------------------------------------------------------------------------------


def _record(body: str) -> dict[str, Any]:
    """One SQS record as an event source mapping builds it."""
    now = str(int(time.time() * 1000))
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": uuid.uuid4().hex,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": now,
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": now,
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def _context() -> SimpleNamespace:
    return SimpleNamespace(
        aws_request_id=str(uuid.uuid4()),
        function_name="ws-exercise-photo-processor",
        memory_limit_in_mb=128,
        get_remaining_time_in_millis=lambda: 3000,
    )


GOOD = [
    json.dumps({"upload_id": "up-0101", "size_kb": 2048}),
    json.dumps({"upload_id": "up-0102", "sizes": "thumb"}),
    json.dumps({"upload_id": "up-0103"}),
]
BAD = ["not json at all", json.dumps({"filename": "IMG_1.jpg"}), "[1, 2, 3]", ""]


def _batches() -> list[tuple[str, list[dict[str, Any]], set[str]]]:
    """(what it is, records, ids that must stay in the queue) for every test batch."""
    mixed = [_record(body) for body in (GOOD[0], BAD[0], GOOD[1], BAD[1], BAD[2], GOOD[2])]
    good_only = [_record(body) for body in GOOD]
    bad_only = [_record(body) for body in BAD]
    ids = lambda records, bodies: {r["messageId"] for r in records if r["body"] in bodies}  # noqa: E731
    return [
        ("a batch of valid uploads only", good_only, set()),
        ("a batch with valid and invalid uploads", mixed, ids(mixed, BAD)),
        ("a batch of invalid uploads only", bad_only, ids(bad_only, BAD)),
    ]


def _listed(result: Any) -> set[str] | None:
    """The identifiers a well-formed partial batch response lists (None if it is not one)."""
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if not isinstance(failures, list) or not all(isinstance(f, dict) for f in failures):
        return None
    return {f.get("itemIdentifier") for f in failures}


def _judge_handler(handler: Any) -> str:
    if not callable(handler):
        raise Incorrect(
            f"Pass your function itself, without calling it: nb08.q2.check(handler); got "
            f"{type(handler).__name__}."
        )
    for what, records, must_stay in _batches():
        ids = [r["messageId"] for r in records]
        try:
            result = handler({"Records": records}, _context())
        except Exception as error:
            raise Incorrect(
                f"For {what} your handler raised {type(error).__name__}: {error}. A raised "
                "error fails the whole batch, so every message would come back; catch the "
                "problem per message and report it instead."
            ) from None
        try:
            payload = json.dumps(result).encode()
        except (TypeError, ValueError):
            raise Incorrect(
                f"For {what} your handler returned something JSON cannot encode: {result!r}."
            ) from None
        stays = messages_to_keep(payload, ids, report_batch_item_failures=True)
        if stays == must_stay:
            continue
        if stays == set(ids) and must_stay != set(ids) and _listed(result) != set(ids):
            raise Incorrect(
                f"For {what} Lambda would fail the whole batch on your answer {result!r}. It "
                'wants {"batchItemFailures": [{"itemIdentifier": <messageId>}, ...]}, every '
                "identifier the messageId of a record of this batch."
            )
        raise Incorrect(
            f"For {what} your answer would leave {len(stays)} message(s) in the queue, "
            f"{len(stays & must_stay)} of them invalid, and the batch has {len(must_stay)} "
            "invalid upload(s). A body that is not JSON, not an object or has no upload_id is "
            "invalid."
        )
    return (
        "Lambda would delete exactly the valid uploads and leave the invalid ones to come "
        "back, and, after maxReceiveCount receives, go to the DLQ. Remember that the mapping "
        'needs FunctionResponseTypes=["ReportBatchItemFailures"] as well.'
    )


q2 = CheckedExercise(
    "A partial batch response",
    _judge_handler,
    hint=(
        "Loop over event['Records']; inside a try, json.loads(record['body']) and check that it "
        "is a dict with 'upload_id'; on failure collect {'itemIdentifier': record['messageId']}. "
        "Return {'batchItemFailures': failures}."
    ),
    solution=(
        "```python\n"
        "def handler(event, context):\n"
        "    import json\n"
        "\n"
        "    failures = []\n"
        "    for record in event['Records']:\n"
        "        try:\n"
        "            upload = json.loads(record['body'])\n"
        "            valid = isinstance(upload, dict) and 'upload_id' in upload\n"
        "        except ValueError:\n"
        "            valid = False\n"
        "        if not valid:\n"
        "            failures.append({'itemIdentifier': record['messageId']})\n"
        "    return {'batchItemFailures': failures}\n"
        "```"
    ),
)

# --- q3 ---------------------------------------------------------------------------------------

q3 = ValueExercise(
    "Processed how many times",
    expected=4,
    hint=(
        "Every receive of the batch processes the nine good uploads and then fails. How many "
        "receives happen before a message is moved on the next one?"
    ),
    solution=(
        "`4`: the batch is received 4 times (receive counts 1 to 4), each time the good uploads "
        "are processed and the batch fails; the 5th receive moves all ten to the DLQ instead of "
        "returning them. Nine good uploads, each processed 4 times, and all in the DLQ."
    ),
)
