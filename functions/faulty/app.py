"""A handler that misbehaves on request: it raises, or it runs past its timeout.

``{"action": "raise"}`` raises an exception (an unhandled function error), ``{"action":
"sleep", "seconds": 2}`` sleeps, and anything else succeeds. Every answer says which
environment ran it and how many events that environment has handled, so that a caller can see
whether an error cost the environment.
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
    return {"environment": ENVIRONMENT_ID, "invocations": INVOCATIONS}
