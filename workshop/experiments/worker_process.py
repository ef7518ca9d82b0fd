"""A queue worker that runs as a process of its own, so that it can be killed for real.

:func:`workshop.experiments.redelivery.kill_workers` starts this file with the Python of the
kernel (``python -P worker_process.py --queue-url ...``), not with ``-m``: importing the
``workshop`` package would pull in moto and pandas, and a worker needs only boto3. It talks to
SQS through its own boto3 client, like a worker on another machine would: on the local backend
the parent passes the endpoint URL and the session's credentials (in the environment, never on
the command line); on the aws backend it passes neither and boto3's standard chain applies.

The worker receives one job at a time, "works" on it (a pause of ``--work-seconds``), and
deletes it only afterwards. It reports every step as one JSON line on stdout, with the moment
it happened (``time.monotonic()``, a clock the parent shares)::

    {"event": "ready", "at": 1234.5}
    {"event": "received", "at": 1234.6, "seq": 0, "message_id": "...", "receive_count": 1}
    {"event": "finished", "at": 1235.2, "seq": 0}
    {"event": "deleted", "at": 1235.2, "seq": 0}

It never outlives its parent: it stops when the parent process is gone (checked between
slices of work and after every long poll) or after ``--lifetime`` seconds, whichever is first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

SLICE_SECONDS = 0.05
"""How often a worker looks up from its work to check that its parent still exists."""


def say(event: str, **fields: object) -> None:
    """One event, one line, flushed at once, stamped with ``time.monotonic()``.

    The monotonic clock is system-wide on Linux and macOS, so the parent can place the event on
    its own timeline without counting the time the line spent in the pipe.
    """
    line = json.dumps({"event": event, "at": time.monotonic(), **fields})
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def parent_alive(parent: int) -> bool:
    # An orphan is adopted by another process, so its parent id changes.
    return os.getppid() == parent


def work(seconds: float, parent: int) -> bool:
    """Pretend to resize a photo for ``seconds``; False if the parent went away meanwhile."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if not parent_alive(parent):
            return False
        time.sleep(min(SLICE_SECONDS, left))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--endpoint-url", default=None, help="local backend only")
    parser.add_argument("--work-seconds", type=float, default=1.0)
    parser.add_argument("--wait-seconds", type=int, default=1, help="long poll, 1 to 20")
    parser.add_argument("--lifetime", type=float, default=60.0, help="stop after this long")
    parser.add_argument("--parent", type=int, required=True, help="stop when this pid is gone")
    args = parser.parse_args(argv)

    import boto3  # after the arguments: a usage error should not wait for boto3 to load

    sqs = boto3.client("sqs", region_name=args.region, endpoint_url=args.endpoint_url)
    end = time.monotonic() + args.lifetime
    say("ready", pid=os.getpid())
    while time.monotonic() < end:
        if not parent_alive(args.parent):
            say("stopping", reason="parent gone")
            return 0
        response = sqs.receive_message(
            QueueUrl=args.queue_url,
            MaxNumberOfMessages=1,  # one job at a time: a kill loses exactly one job's work
            WaitTimeSeconds=args.wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        for message in response.get("Messages", []):
            try:
                seq = json.loads(message["Body"]).get("seq")
            except (ValueError, AttributeError):
                seq = None
            say(
                "received",
                seq=seq,
                message_id=message["MessageId"],
                receive_count=int(message["Attributes"]["ApproximateReceiveCount"]),
            )
            if not work(args.work_seconds, args.parent):
                say("stopping", reason="parent gone")
                return 0
            say("finished", seq=seq)
            # Delete only now that the work is done: dying before this line loses nothing.
            sqs.delete_message(QueueUrl=args.queue_url, ReceiptHandle=message["ReceiptHandle"])
            say("deleted", seq=seq)
    say("stopping", reason="lifetime over")
    return 0


if __name__ == "__main__":
    sys.exit(main())
