"""The soak test's function: each message fails with a set probability (reported in
``batchItemFailures``); each success is written, one line per message, to the file ``OUT``."""

import json
import os
import random
import time

FAIL = float(os.environ.get("FAIL_RATE", "0.1"))
WORK_S = float(os.environ.get("WORK_S", "0"))  # time spent per batch, as real work would


def handler(event, context):
    time.sleep(WORK_S / 2)
    failures, lines = [], []
    for record in event["Records"]:
        if random.random() < FAIL:
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        n = json.loads(record["body"])["n"]
        count = record["attributes"]["ApproximateReceiveCount"]
        lines.append(f"{n}\t{record['messageId']}\t{count}\n")
    if lines:  # one write: a process killed now leaves whole lines or none
        fd = os.open(os.environ["OUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, "".join(lines).encode())
        finally:
            os.close(fd)
    time.sleep(WORK_S / 2)  # killed now, the batch was processed but comes back: duplicates
    return {"batchItemFailures": failures}
