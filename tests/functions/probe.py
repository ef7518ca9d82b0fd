"""A test function: it reports on its environment and misbehaves on request."""

import json
import os
import time

INVOCATIONS = 0  # module state survives between warm invocations


def handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    print(f"probe invocation {INVOCATIONS}")
    action = event.get("action")
    if action == "fail":
        raise ValueError(f"failed on purpose {event.get('n', '')}")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "exit":
        os._exit(7)
    if action == "allocate":  # touch every page, so the memory is really resident
        block = bytearray(event["mb"] * 1024 * 1024)
        for i in range(0, len(block), 4096):
            block[i] = 1
    if action == "send":  # code inside the function reaches the same backend
        import boto3

        boto3.client("sqs").send_message(QueueUrl=event["queue_url"], MessageBody="from lambda")
    return {
        "n": event.get("n"),
        "invocations": INVOCATIONS,
        "pid": os.getpid(),
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "env": {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "GREETING"))},
        "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "echo": json.dumps(event)[:50],
    }
