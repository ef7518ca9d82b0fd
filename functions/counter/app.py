"""What an execution environment keeps between invocations, and what it does not promise."""

import os
import tempfile
import time
import uuid

ENVIRONMENT_ID = uuid.uuid4().hex[:8]  # made once per environment, during Init
INVOCATIONS = 0
STARTED = time.time()
# /tmp on Lambda (gettempdir() finds it there); it survives while the environment is warm.
SCRATCH = os.path.join(tempfile.gettempdir(), "workshop-counter.txt")


def handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    with open(SCRATCH, "a") as scratch:
        scratch.write(f"{context.aws_request_id}\n")
    with open(SCRATCH) as scratch:
        lines_in_tmp = sum(1 for _ in scratch)
    if event.get("sleep"):
        time.sleep(float(event["sleep"]))
    return {
        "environment": ENVIRONMENT_ID,
        "invocations": INVOCATIONS,
        "lines_in_tmp": lines_in_tmp,
        "pid": os.getpid(),
        "age_s": round(time.time() - STARTED, 3),
        "greeting": os.environ.get("GREETING", ""),
    }
