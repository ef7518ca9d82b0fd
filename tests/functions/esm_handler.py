"""A test function for event source mappings: it records every event it gets and does what
each message's JSON body asks.

Body keys: ``fail`` (report this message in ``batchItemFailures``), ``raise`` (fail the whole
invocation), ``raise_first`` (the same, on the message's first receive only), ``sleep``
(seconds), ``respond`` (return this value as the whole answer), ``fail_first`` (report this
message on its first receive only), ``exit_first`` (the process dies, as a crashed
environment, on the message's first receive). With the variable ``STOP_AT_FIRST_FAILURE`` set, the
function does what a FIFO consumer must: after the first failure it reports every later
message of the batch as failed too.
The events go, one JSON line per invocation, to the file named by the variable ``OUT``.
"""

import json
import os
import time


def handler(event, context):
    line = {"request_id": context.aws_request_id, "pid": os.getpid(), "event": event}
    fd = os.open(os.environ["OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
    finally:
        os.close(fd)
    asks = []
    for record in event["Records"]:
        try:
            body = json.loads(record["body"])
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        first = record["attributes"]["ApproximateReceiveCount"] == "1"
        if body.get("raise_first") and first:
            body["raise"] = True
        if body.get("fail_first") and first:
            body["fail"] = True
        if body.get("exit_first") and first:
            os._exit(9)
        asks.append((record["messageId"], body))
    for _, body in asks:
        if body.get("sleep"):
            time.sleep(body["sleep"])
    for _, body in asks:
        if body.get("raise"):
            raise RuntimeError("failed on purpose")
    for _, body in asks:
        if "respond" in body:
            return body["respond"]
    failed, stop = [], bool(os.environ.get("STOP_AT_FIRST_FAILURE"))
    for message_id, body in asks:
        if body.get("fail") or (stop and failed):
            failed.append(message_id)
    return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}
