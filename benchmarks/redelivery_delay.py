"""How late the local backend redelivers a message whose visibility timeout has expired.

On AWS a message is visible again as soon as its visibility timeout ends, and a consumer that
is long-polling gets it then. moto's long poll rechecks visibility only about once a second,
so a redelivery could arrive up to a second late; the workshop's local gateway aims to deliver
it within tens of milliseconds (goal: under 250 ms). This script measures it:

1. send N messages to a fresh queue with a short visibility timeout, and receive each once,
   one at a time, spread over about a second (so their expiries fall at every phase of any
   once-a-second loop), without deleting them;
2. one consumer long-polls the queue (``WaitTimeSeconds`` 20 by default) and takes each message
   again as it comes back;
3. for each message: lateness = (second receive returned) - (first receive returned) - timeout.

Both receives are timed on this process's clock at the moment the call returned. Run:
    python benchmarks/redelivery_delay.py [--messages 30] [--visibility 2] [--wait 20]
``--plain-moto`` measures moto's own server instead, without the workshop's gateway, for
comparison.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import statistics
import sys
import time

from workshop.backends import LocalBackend
from workshop.config import Settings
from workshop.local.server import LocalServer

GOAL_MS = 250.0


def measure(
    cloud: LocalBackend, messages: int, visibility_timeout: int, wait_seconds: int
) -> list[float]:
    """Lateness of each redelivery beyond the visibility timeout, in milliseconds."""
    sqs = cloud.client("sqs")
    url = cloud.create_queue(
        f"bench-redelivery-{secrets.token_hex(3)}", VisibilityTimeout=visibility_timeout
    )
    for start in range(0, messages, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(k), "MessageBody": json.dumps({"seq": k})}
                for k in range(start, min(start + 10, messages))
            ],
        )
    # First receives, spread over (at most) one second and finished before the first expiry.
    spread = min(1.0, 0.8 * visibility_timeout)
    first: dict[str, float] = {}
    start = time.perf_counter()
    for k in range(messages):
        time.sleep(max(0.0, start + k * spread / messages - time.perf_counter()))
        for _ in range(10):  # a short poll may come back empty; locally it never does
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
            if got:
                first[got[0]["MessageId"]] = time.perf_counter()
                break
    late: list[float] = []
    deadline = time.perf_counter() + visibility_timeout + spread + wait_seconds + 5
    while len(late) < messages and time.perf_counter() < deadline:
        response = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        returned = time.perf_counter()
        got = response.get("Messages", [])
        for message in got:
            if message["MessageId"] in first:
                late.append((returned - first.pop(message["MessageId"]) - visibility_timeout) * 1e3)
        if got:
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
                ],
            )
    sqs.delete_queue(QueueUrl=url)
    if first:
        print(f"  {len(first)} messages never came back before the deadline")
    return late


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--visibility", type=int, default=2, help="visibility timeout (s)")
    parser.add_argument("--wait", type=int, default=20, help="the consumer's WaitTimeSeconds")
    parser.add_argument("--plain-moto", action="store_true", help="moto without our gateway")
    args = parser.parse_args(argv)
    if args.plain_moto:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint, stop = f"http://{host}:{port}", server.stop
    else:
        local = LocalServer().start()
        endpoint, stop = local.endpoint_url, local.stop
    try:
        cloud = LocalBackend(
            Settings(
                backend="local",
                participant=f"bench{secrets.token_hex(2)}",
                region="us-east-1",
                endpoint=endpoint,
                aws_confirm=None,
            )
        )
        late = measure(cloud, args.messages, args.visibility, args.wait)
        cloud.cleanup(quiet=True)
    finally:
        stop()
    if not late:
        print("No message came back: nothing to report.")
        return 1
    ordered = sorted(late)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    print(
        f"{'plain moto' if args.plain_moto else 'local backend'}: redelivery after a "
        f"{args.visibility} s visibility timeout, long-polling consumer "
        f"(WaitTimeSeconds={args.wait}), {len(late)} messages:"
    )
    print(
        f"  late by: median {statistics.median(late):.1f} ms, p90 {p90:.1f} ms, "
        f"worst {max(late):.1f} ms, best {min(late):.1f} ms"
    )
    verdict = "met" if max(late) < GOAL_MS else "NOT met"
    print(f"  goal: worst under {GOAL_MS:.0f} ms: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
