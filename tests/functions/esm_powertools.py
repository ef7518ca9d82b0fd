"""A test function that handles its SQS batch with Powertools' BatchProcessor, the usual way to
report partial batch failures: a record whose body has ``"fail": true`` raises."""

import json

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record):
    if json.loads(record.body).get("fail"):
        raise ValueError("failed on purpose")


def handler(event, context):
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
