"""A handler that misbehaves on request: it raises, runs past its timeout, or runs out of memory.

``{"action": "raise"}`` raises an exception (an unhandled function error), ``{"action":
"sleep", "seconds": 2}`` sleeps, ``{"action": "allocate", "mb": 200}`` fills that many MB of
memory (beyond the function's memory size, Lambda ends the environment), and anything else
succeeds. Every answer says which environment ran it and how many events that environment has
handled, so that a caller can see whether an error cost the environment.
"""

import time
import uuid

ENVIRONMENT_ID = uuid.uuid4().hex[:8]  # made once per environment, during Init
INVOCATIONS = 0


def handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    action = event.get("action")
    if action == "raise":
        raise ValueError(f"upload {event.get('upload_id', '?')} is not a picture")
    if action == "sleep":
        time.sleep(float(event.get("seconds", 1)))
    if action == "allocate":
        # Writing every byte makes the memory resident (an untouched allocation may not be).
        block = b"\x01" * (int(event.get("mb", 1)) * 1024 * 1024)
        time.sleep(0.1)  # hold it for a moment, as real work would
        print(f"allocated {len(block) // (1024 * 1024)} MB")
    return {"environment": ENVIRONMENT_ID, "invocations": INVOCATIONS}
