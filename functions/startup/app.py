"""A typical Init (import boto3, make a client), then a report of how this environment started.

Notebook 06 calls it many times at once and under provisioned concurrency and SnapStart. The
``sleep`` field of the event keeps a call busy, so that calls overlap and need environments of
their own. ``made_in_init`` is a random id drawn during Init: environments restored from one
snapshot all carry the same one, because they all start from the same initialised memory.
"""

import os
import time
import uuid

import boto3

SQS = boto3.client("sqs")  # made once per environment, during Init, and reused by every call
MADE_IN_INIT = uuid.uuid4().hex[:8]
INVOCATIONS = 0


def handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    time.sleep(min(float(event.get("sleep", 0)), 5.0))
    return {
        "environment": context.log_stream_name,  # Lambda writes one log stream per environment
        "made_in_init": MADE_IN_INIT,
        "invocations": INVOCATIONS,
        "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE", ""),
        "pid": os.getpid(),
    }
